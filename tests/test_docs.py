"""The README stays true: its commands are CI's, and it documents every flag and command."""

from __future__ import annotations

import re
import subprocess
import sys

from click.testing import CliRunner

from il6assay.cli import main
from il6assay.results import FLAGS
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
        "print(' '.join(m for m in ('numpy', 'scipy', 'pandas', 'openpyxl', 'plotly', 'lmfit') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
