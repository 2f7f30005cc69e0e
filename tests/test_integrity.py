"""An edited or forged run folder never reaches the study database (issue 12, items 1-3, 10).

Each tampering is done as someone with write access to the folder would, up
to recomputing every hash with il6assay's own functions; each is refused by
``push`` with one line naming what differs, and by ``verify``. An untouched
run still pushes. Pushes run against SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import il6assay
from il6assay.cli import main
from il6assay.plate.hashing import sha256_bytes, sha256_file
from il6assay.record import audit
from il6assay.record.audit import AUDIT_FILE, read_entries
from il6assay.record.report import review_js, review_js_of
from tests.conftest import EXAMPLE, run_dirs
from tests.db_support import upgraded_db

_made: dict[str, Path] = {}


def _error_lines(result) -> list[str]:
    """stderr's lines without the one naming the study database a command used."""
    lines = result.stderr.strip().splitlines()
    return [line for line in lines if not line.startswith("study database: ")]


def cli(*args: str | Path):
    return CliRunner().invoke(main, [str(a) for a in args])


def _processed(name: str, export: Path, review: list[str] | None, root: Path) -> Path:
    if name not in _made:
        out = root / name
        assert cli("process", export, "--out", out).exit_code in (0, 3)
        (folder,) = run_dirs(out)
        if review:
            done = cli(
                "review", folder, *review, "--by", "Lin", "--reason", "curve and controls ok"
            )
            assert done.exit_code == 0, done.output
        _made[name] = folder
    return _made[name]


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The example plates processed once per module: accepted, unreviewed, failing by the rules."""
    root = tmp_path_factory.mktemp("originals")
    return {
        "accepted": _processed("accepted", EXAMPLE / "plate_001.xlsx", ["--accept"], root),
        "failing": _processed("failing", EXAMPLE / "plate_002_rejected.csv", None, root),
    }


def copy_of(originals: dict[str, Path], name: str, tmp_path: Path) -> Path:
    """A private copy of a processed run, with the shared plotly.js beside it."""
    source = originals[name]
    dest = tmp_path / "runs" / source.name
    shutil.copytree(source.parent, dest.parent)
    return dest


@pytest.fixture
def run(originals, tmp_path) -> Path:
    """An accepted run of the example plate, to tamper with."""
    return copy_of(originals, "accepted", tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, upgraded study database: a SQLite file, or one on the session's PostgreSQL."""
    return upgraded_db(request, tmp_path, by_cli=True)


# --- what someone with write access does -----------------------------------------------


def edit_result(
    folder: Path, sample: str = "P05", value: str = "999", columns=("conc_pg_ml", "result")
) -> None:
    """Change a specimen's concentration in results.csv and dilutions.csv."""
    for name in ("results.csv", "dilutions.csv"):
        path = folder / name
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
        header = rows[0]
        for row in rows[1:]:
            if row[header.index("sample")] == sample:
                for column in columns:
                    row[header.index(column)] = value
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            csv.writer(fh, lineterminator="\r\n").writerows(rows)


def record(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text(encoding="utf-8"))


def write_record(folder: Path, doc: dict) -> None:
    (folder / "run.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")


def rehash_everything(folder: Path) -> None:
    """Recompute every hash after an edit: run.json's maps and the whole audit chain."""
    doc = record(folder)
    for name in doc["outputs_sha256"]:
        doc["outputs_sha256"][name] = sha256_file(folder / name)
    for entries in doc["inputs"].values():
        for entry in entries:
            entry["sha256"] = sha256_file(folder / entry["copy"])
    write_record(folder, doc)
    files = audit.files_sha256(folder)
    lines, prev = [], None
    for entry in read_entries(folder):
        entry.update(
            prev_sha256=prev, files_sha256=files, content_sha256=audit.content_sha256(files)
        )
        if "outputs_sha256" in entry:
            entry["outputs_sha256"] = doc["outputs_sha256"]
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True)
        lines.append(line)
        prev = sha256_bytes(line)
    (folder / AUDIT_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")


def delete_hash_entries(folder: Path) -> None:
    edit_result(folder)
    doc = record(folder)
    del doc["outputs_sha256"]["results.csv"], doc["outputs_sha256"]["dilutions.csv"]
    write_record(folder, doc)


def empty_hash_maps(folder: Path) -> None:
    edit_result(folder)
    doc = record(folder)
    doc["outputs_sha256"] = {}
    write_record(folder, doc)


def edit_and_rehash(folder: Path) -> None:
    edit_result(folder)
    rehash_everything(folder)


def forge_review_in_run_json(folder: Path) -> None:
    """An unreviewed run said to be accepted, in run.json and review.js alike."""
    doc = record(folder)
    doc["review"] = {
        "status": "accepted",
        "by": "Lin",
        "reason": "ok",
        "time_utc": "2026-12-01T09:00:00+00:00",
        "os_account": "lin",
        "override": False,
    }
    write_record(folder, doc)
    (folder / "review.js").write_text(review_js(doc["review"]), encoding="utf-8")


def forge_appended_accept(folder: Path) -> None:
    """A copy of the run's accept line appended again, in someone else's name."""
    path = folder / AUDIT_FILE
    lines = path.read_text(encoding="utf-8").splitlines()
    accept = json.loads(lines[-1])
    accept.update(by="Zhang", reason="looks fine to me")
    path.write_text("\n".join([*lines, json.dumps(accept, sort_keys=True)]) + "\n")


def truncate_log(folder: Path) -> None:
    """The accept line cut off the log (run.json still says accepted)."""
    path = folder / AUDIT_FILE
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")


def cut_log_mid_line(folder: Path) -> None:
    path = folder / AUDIT_FILE
    path.write_bytes(path.read_bytes()[:-40])


def delete_log(folder: Path) -> None:
    (folder / AUDIT_FILE).unlink()


def rewrite_review_js(folder: Path) -> None:
    (folder / "review.js").write_text('window.IL6_REVIEW = {"status": "accepted", "by": "QA"};\n')


def edit_verdict_and_rehash(folder: Path) -> None:
    """A rejected plate's verdict turned to accepted everywhere, every hash recomputed, and an
    accept written by il6assay's own append_entry: every hash and link agrees."""
    doc = record(folder)
    doc["accepted"], doc["verdict"] = True, "accepted by the acceptance rules"
    write_record(folder, doc)
    curve = json.loads((folder / "curve.json").read_text(encoding="utf-8"))
    curve["accepted"], curve["verdict"] = True, "accepted by the acceptance rules"
    (folder / "curve.json").write_text(json.dumps(curve, indent=2) + "\n", encoding="utf-8")
    path = folder / AUDIT_FILE
    path.write_text(path.read_text().replace('"rejected"', '"accepted"'), encoding="utf-8")
    rehash_everything(folder)
    entry = audit.append_entry(
        folder,
        {"action": "review-accept", "by": "Lin", "reason": "ok", "override": False,
         "verdict_by_rules": "accepted", "review_before": "unreviewed",
         "review_after": "accepted"},
    )  # fmt: skip
    doc = record(folder)
    doc["review"] = audit.review_of(entry)
    write_record(folder, doc)
    (folder / "review.js").write_text(review_js_of(read_entries(folder)), encoding="utf-8")


def edit_workbook_and_rehash(folder: Path) -> None:
    """A result changed in results.xlsx (what a spreadsheet user opens), every hash recomputed."""
    from openpyxl import load_workbook

    wb = load_workbook(folder / "results.xlsx")
    ws = wb["results"]
    header = [c.value for c in ws[1]]
    ws.cell(row=2, column=header.index("conc_pg_ml") + 1).value = 999.0
    wb.save(folder / "results.xlsx")
    rehash_everything(folder)


# (tampering, the run it is done to, what the refusal must name)
TAMPERINGS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "edit with hash entries deleted": (
        delete_hash_entries,
        "accepted",
        "outputs_sha256 has no entry for results.csv",
    ),
    "hash maps emptied": (empty_hash_maps, "accepted", "outputs_sha256 has no entry"),
    "every hash recomputed after an edit": (
        edit_and_rehash,
        "accepted",
        "results.csv, P05, conc_pg_ml: recorded '999', recomputed",
    ),
    "workbook edited, every hash recomputed": (
        edit_workbook_and_rehash,
        "accepted",
        "results.xlsx, sheet results, row 2 column 8: recorded 999",  # re-saved by openpyxl
    ),
    "review forged in run.json": (
        forge_review_in_run_json,
        "failing",
        "run.json's review (accepted by Lin) is not what audit.jsonl records (unreviewed)",
    ),
    "forged accept line appended": (
        forge_appended_accept,
        "accepted",
        "audit.jsonl line 3 (review-accept) does not link to the line before it",
    ),
    "log truncated": (truncate_log, "accepted", "is not what audit.jsonl records (unreviewed)"),
    "log cut mid-line": (cut_log_mid_line, "accepted", "audit.jsonl does not end with a complete"),
    "log deleted": (delete_log, "accepted", "audit.jsonl is missing"),
    "review.js rewritten": (rewrite_review_js, "accepted", "review.js (what the report shows"),
    "verdict edited, every hash recomputed": (
        edit_verdict_and_rehash,
        "failing",
        "run.json's accepted: recorded True, recomputed False",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERINGS))
def test_each_tampering_is_refused_by_verify_naming_what_differs(case, originals, tmp_path):
    tamper, name, needle = TAMPERINGS[case]
    folder = copy_of(originals, name, tmp_path)
    tamper(folder)
    out = cli("verify", folder)
    assert out.exit_code == 1, out.output
    assert needle in out.output and "DIFFERS" in out.output
    assert len(out.output.strip().splitlines()) == 1 and "Traceback" not in out.output


@pytest.mark.parametrize("case", list(TAMPERINGS))
def test_each_tampering_is_refused_by_push_in_one_line_and_nothing_is_stored(
    case, originals, tmp_path, db_url
):
    tamper, name, needle = TAMPERINGS[case]
    folder = copy_of(originals, name, tmp_path)
    tamper(folder)
    assert cli("db", "upgrade", "--db", db_url).exit_code == 0
    out = cli("push", folder, "--db", db_url)
    assert out.exit_code == 2, out.output
    assert needle in out.stderr
    assert len(_error_lines(out)) == 1 and "Traceback" not in out.output
    results = cli("results", "--db", db_url, "--format", "json")
    assert results.exit_code == 0 and json.loads(results.stdout) == []


def test_the_verdict_forged_with_every_hash_recomputed_is_found_only_by_recomputation(
    originals, tmp_path
):
    folder = copy_of(originals, "failing", tmp_path)
    edit_verdict_and_rehash(folder)
    assert cli("status", folder).exit_code == 0  # every hash and link agrees
    out = cli("verify", folder)
    assert (
        out.exit_code == 1 and "run.json's accepted: recorded True, recomputed False" in out.output
    )


def test_an_untouched_run_verifies_and_pushes(run, db_url):
    out = cli("verify", run)
    assert out.exit_code == 0 and "verified" in out.output, out.output
    assert cli("db", "upgrade", "--db", db_url).exit_code == 0
    pushed = cli("push", run, "--db", db_url, "--by", "Lin")
    assert pushed.exit_code == 0, pushed.output
    rows = json.loads(cli("results", "--db", db_url, "--format", "json").stdout)
    assert rows and {r["run_id"] for r in rows} == {run.name}


def test_a_masked_then_reviewed_run_verifies(run):
    assert cli("mask", run, "--well", "E4", "--by", "Lin", "--reason", "bubble").exit_code == 0
    assert cli("review", run, "--accept", "--by", "Lin", "--reason", "E4 bubble").exit_code == 0
    out = cli("verify", run)
    assert out.exit_code == 0, out.output


def test_a_mask_line_cut_from_the_log_is_found(run):
    assert cli("mask", run, "--well", "E4", "--by", "Lin", "--reason", "bubble").exit_code == 0
    path = run / AUDIT_FILE
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n")
    out = cli("status", run)
    assert out.exit_code == 1 and "differs from what audit.jsonl last recorded" in out.output


def test_a_swapped_input_copy_with_every_hash_recomputed_is_found(run):
    export = run / "inputs" / "export" / "plate_001.xlsx"
    export.chmod(0o644)
    export.write_bytes((EXAMPLE / "plate_001.xlsx").read_bytes() + b"\0")  # another "export"
    rehash_everything(run)
    out = cli("verify", run)
    assert out.exit_code == 1
    assert "is not the run id its input copies, settings and version" in out.output


def test_changed_settings_with_every_hash_recomputed_are_found(run):
    doc = record(run)
    doc["settings"]["weighting"] = "none"
    write_record(run, doc)
    rehash_everything(run)
    out = cli("verify", run)
    assert out.exit_code == 1 and "settings are not those the run was processed with" in out.output


def test_a_forged_accept_of_a_rejected_plate_without_override_breaks_the_chain(originals, tmp_path):
    folder = copy_of(originals, "failing", tmp_path)
    entry = audit.append_entry(
        folder,
        {"action": "review-accept", "by": "Lin", "reason": "ok", "override": False,
         "verdict_by_rules": "rejected"},
    )  # fmt: skip
    doc = record(folder)
    doc["review"] = audit.review_of(entry)
    write_record(folder, doc)
    (folder / "review.js").write_text(review_js_of(read_entries(folder)), encoding="utf-8")
    out = cli("status", folder)
    assert out.exit_code == 1
    assert "accepts a plate the rules rejected without --override" in out.output


def test_status_exits_1_when_a_chain_is_broken_and_0_when_all_are_whole(run, originals, tmp_path):
    assert cli("status", run).exit_code == 0
    delete_log(run)
    out = cli("status", run.parent)
    assert out.exit_code == 1 and "CHANGED: audit.jsonl is missing" in out.output


def test_verify_names_another_version_and_compares_within_the_tolerance(run, monkeypatch):
    from il6assay.record import verify

    monkeypatch.setattr(verify, "__version__", "9.9.9")
    out = cli("verify", run)
    assert out.exit_code == 0, out.output
    assert (
        f"made with il6assay {il6assay.__version__}, recomputed by 9.9.9" in out.output
        and "0.1%" in out.output
    )
    with (run / "results.csv").open(encoding="utf-8-sig") as fh:
        p05 = float(next(r for r in csv.DictReader(fh) if r["sample"] == "P05")["conc_pg_ml"])
    edit_result(run, value=repr(p05 * 1.0005), columns=("conc_pg_ml",))  # 0.05 %: the same
    rehash_everything(run)
    assert cli("verify", run).exit_code == 0
    edit_result(run, value=repr(p05 * 1.01), columns=("conc_pg_ml",))  # 1 %: a different number
    rehash_everything(run)
    out = cli("verify", run)
    assert out.exit_code == 1 and "results.csv, P05, conc_pg_ml" in out.output


def test_another_numerical_library_version_is_named_and_compared_within_the_tolerance(
    run, monkeypatch
):
    from il6assay.record import outputs

    real = outputs.library_versions()
    monkeypatch.setattr(outputs, "library_versions", lambda: {**real, "scipy": "99.0"})
    out = cli("verify", run)
    assert out.exit_code == 0, out.output
    assert f"scipy {real['scipy']}, recomputed with 99.0" in out.output
    edit_result(run, value="999")
    rehash_everything(run)
    out = cli("verify", run)
    assert out.exit_code == 1 and "results.csv, P05, conc_pg_ml: recorded '999'" in out.output


def test_an_edited_workbook_is_found_by_another_version_too(run, monkeypatch):
    from il6assay.record import verify

    monkeypatch.setattr(verify, "__version__", "9.9.9")
    edit_workbook_and_rehash(run)
    out = cli("verify", run)
    assert out.exit_code == 1 and "results.xlsx, sheet results, row 2" in out.output


def test_a_file_added_to_the_run_folder_is_refused(run):
    (run / "inputs" / "export" / "plate_001_fixed.xlsx").write_bytes(b"x")
    out = cli("status", run)
    assert out.exit_code == 1
    assert "inputs/export/plate_001_fixed.xlsx is not a file of an il6assay run" in out.output
    (run / "inputs" / "export" / "plate_001_fixed.xlsx").unlink()
    (run / "Thumbs.db").write_bytes(b"x")  # what Windows Explorer leaves: not content
    assert cli("status", run).exit_code == 0


def test_an_altered_shared_plotly_js_is_refused_by_verify(run):
    from il6assay.record.report import plotly_js_name

    shared = run.parent / plotly_js_name()
    shared.write_text(shared.read_text(encoding="utf-8") + "\nfetch('https://x.example');\n")
    out = cli("verify", run)
    assert out.exit_code == 1 and "is not plotly's own copy" in out.output
    shared.unlink()  # a missing copy is no tampering: the report says so in words
    out = cli("verify", run)
    assert out.exit_code == 0 and "is not beside the run" in out.output


# --- run.json against its schema: one line and exit 2 for every command ---------------

MALFORMED = {
    "a list where a map belongs": lambda d: d.update(outputs_sha256=["results.csv"]),
    "review not a map": lambda d: d.update(review="accepted"),
    "inputs missing": lambda d: d.pop("inputs"),
    "a hash that is not one": lambda d: d["outputs_sha256"].update({"results.csv": "999"}),
    "accepted as text": lambda d: d.update(accepted="yes"),
    "a copy outside the folder": lambda d: d["inputs"]["export"][0].update(copy="../../x"),
    "not a map at all": None,
}
COMMANDS = {
    "review": ["--accept", "--by", "Lin", "--reason", "ok"],
    "mask": ["--well", "E4", "--by", "Lin", "--reason", "bubble"],
    "unmask": ["--well", "E4", "--by", "Lin", "--reason", "bubble"],
    "status": [],
    "verify": [],
    "push": ["--db", "{db}"],
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_run_json_is_one_line_and_exit_2_for_every_command(case, run, tmp_path):
    if MALFORMED[case] is None:
        (run / "run.json").write_text("[1, 2, 3]\n")
    else:
        doc = record(run)
        MALFORMED[case](doc)
        write_record(run, doc)
    db = tmp_path / "study.db"
    assert cli("db", "upgrade", "--db", db).exit_code == 0
    for command, args in COMMANDS.items():
        out = cli(command, run, *[a.replace("{db}", str(db)) for a in args])
        assert out.exit_code == 2, (command, out.output)
        assert "run.json is malformed" in out.stderr, (command, out.stderr)
        assert len(_error_lines(out)) == 1 and "Traceback" not in out.output


def test_a_run_folder_from_before_the_chain_is_refused_with_what_to_do(run, tmp_path):
    doc = record(run)
    del doc["run_folder_format"]
    write_record(run, doc)
    delete_log(run)
    status = cli("status", run)
    assert status.exit_code == 1 and "process its export again" in status.output
    for command, args in (("review", COMMANDS["review"]), ("verify", [])):
        out = cli(command, run, *args)
        assert out.exit_code in (1, 2) and "process its export again" in out.output, command


# --- the review command ------------------------------------------------------------------


def test_accept_and_reject_together_is_a_usage_error(run):
    out = cli("review", run, "--accept", "--reject", "--by", "Lin", "--reason", "ok")
    assert out.exit_code == 2 and "--accept and --reject cannot be used together" in out.stderr
    assert len(read_entries(run)) == 2  # processing and the earlier accept: nothing added


def test_review_takes_many_runs_and_refuses_two_runs_of_one_plate(originals, tmp_path):
    runs = tmp_path / "runs"
    for extra in ([], ["--weighting", "none"]):
        assert cli("process", EXAMPLE / "plate_001.xlsx", "--out", runs, *extra).exit_code == 0
    assert cli("process", EXAMPLE / "plate_002_rejected.csv", "--out", runs).exit_code == 3
    first, second = sorted(runs.glob("plate_001-*"))
    refused = cli("review", first, second, "--reject", "--by", "Lin", "--reason", "re-run")
    assert refused.exit_code == 2 and "processed twice; name the one run you mean" in refused.stderr
    assert first.name in refused.stderr and second.name in refused.stderr
    assert [len(read_entries(p)) for p in (first, second)] == [1, 1]  # nothing recorded
    (failing,) = runs.glob("plate_002*")
    both = cli("review", first, failing, "--reject", "--by", "Lin", "--reason", "smear")
    assert both.exit_code == 0, both.output
    assert [read_entries(p)[-1]["action"] for p in (first, failing)] == ["review-reject"] * 2
    status = cli("status", *sorted(runs.glob("plate_*")), "--json")
    assert status.exit_code == 0 and len(json.loads(status.stdout)) == 3


def test_a_review_of_several_runs_records_none_when_one_is_changed(originals, tmp_path):
    good = copy_of(originals, "failing", tmp_path)
    bad = copy_of(originals, "accepted", tmp_path / "other")
    rewrite_review_js(bad)
    out = cli("review", good, bad, "--reject", "--by", "Lin", "--reason", "smear")
    assert out.exit_code == 2 and "review.js" in out.stderr
    assert len(read_entries(good)) == 1


def test_a_review_prepared_before_another_command_changed_the_log_is_refused(run):
    from il6assay.errors import InputError
    from il6assay.record import review

    folder, entry = review.prepare_review(run, "reject", "Lin", "smear", False)
    assert cli("review", run, "--reject", "--by", "Wu", "--reason", "smear").exit_code == 0
    with pytest.raises(InputError, match="changed since the entry was prepared"):
        review.record_review(folder, entry)
    assert cli("status", run).exit_code == 0  # the log and run.json still agree


def test_append_entry_continues_only_a_log_that_exists_and_links_every_entry(run):
    from il6assay.record.schema import RunChanged

    before = read_entries(run)
    entry = audit.append_entry(run, {"action": "comment", "by": "Wu", "reason": "noted"})
    assert entry["prev_sha256"] == audit.chain_head(before)
    assert entry["content_sha256"] == before[-1]["content_sha256"]  # a comment changes nothing
    assert audit.read_chain(run)[-1] == entry
    assert audit.review_state(audit.read_chain(run))["status"] == "accepted"
    delete_log(run)
    with pytest.raises(RunChanged, match=r"audit\.jsonl is missing"):
        audit.append_entry(run, {"action": "comment", "by": "Wu", "reason": "x"})
    assert not (run / AUDIT_FILE).exists()


def _scale_first_typed_number(run: Path, factor: float) -> None:
    """Multiply the first number of report.html's first float64 typed array (plotly's bdata)."""
    import base64
    import re

    import numpy as np

    html = (run / "report.html").read_text(encoding="utf-8")
    m = re.search(r'"dtype":"f8","bdata":"([^"]*)"', html)
    values = np.frombuffer(base64.b64decode(json.loads(f'"{m.group(1)}"')), dtype="f8").copy()
    values[0] *= factor
    encoded = base64.b64encode(values.tobytes()).decode().replace("/", "\\u002f")
    (run / "report.html").write_text(html[: m.start(1)] + encoded + html[m.end(1) :], "utf-8")
    rehash_everything(run)


def test_verify_of_another_version_compares_the_figures_typed_arrays_number_by_number(
    run, monkeypatch
):
    from il6assay.record import verify

    monkeypatch.setattr(verify, "__version__", "9.9.9")
    _scale_first_typed_number(run, 1 + 1e-12)  # another version's last bits: the same figure
    assert cli("verify", run).exit_code == 0
    _scale_first_typed_number(run, 1.01)  # 1 %: a different curve drawn
    out = cli("verify", run)
    assert out.exit_code == 1 and "report.html differs" in out.output, out.output
