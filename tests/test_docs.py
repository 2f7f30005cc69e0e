"""The README stays true: its commands are CI's, and it documents every flag and command."""

from __future__ import annotations

import re
import subprocess
import sys

from click.testing import CliRunner

from il6assay.cli import main
from il6assay.qc.results import FLAGS
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def readme_commands() -> list[str]:
    return re.findall(r"```\n(python3 -m venv[^\n]+)\n```", README)


def test_readme_has_exactly_two_setup_commands_each_one_line():
    commands = readme_commands()
    assert len(commands) == 2
    assert "il6assay process fixtures/" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text()
    assert readme_commands()[1] in ci.splitlines()


def test_every_flag_is_documented_in_the_readme():
    for flag in FLAGS:
        assert f"`{flag}`" in README, flag


def test_every_command_is_documented_and_has_help():
    for name, command in main.commands.items():
        assert f"il6assay {name}" in README, name
        assert command.help, name
        assert CliRunner().invoke(main, [name, "--help"]).exit_code == 0


def test_cli_start_imports_no_heavy_module():
    code = (
        "import sys, il6assay.cli; "
        "print(' '.join(m for m in ('numpy', 'scipy', 'pandas', 'openpyxl', 'plotly', 'lmfit', "
        "'flask', 'waitress', 'argon2', 'sqlalchemy') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_readme_database_walkthrough_runs_as_written(tmp_path, monkeypatch):
    """The README's "Pushing to the study database" block, line by line, on the fixtures."""
    import glob
    import shlex

    block = re.search(r"On\nthe fixtures:\n\n```\n(.*?)\n```", README, re.S)
    assert block, "the README's database walk-through block is missing"
    lines = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    commands = [line.split()[1] for line in lines]
    assert commands == ["process", "review", "db", "push", "results", "history"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IL6ASSAY_DB", raising=False)
    outputs = []
    for line in lines:
        args = []
        for word in shlex.split(line)[1:]:
            if word.startswith("fixtures/"):
                word = str(ROOT / word)
            args += sorted(glob.glob(word)) if "*" in word else [word]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (line, result.output)
        outputs.append(result.stdout)
    assert (tmp_path / "study.db").is_file()
    assert "new study database created" in outputs[2]
    assert "pushed 32 result(s)" in outputs[3]
    assert outputs[4].splitlines()[0].startswith("study_id,visit,result,")
    assert len(outputs[4].splitlines()) == 33  # a header and 32 specimens
    assert "AML-004 D0" in outputs[5] and "current" in outputs[5]
