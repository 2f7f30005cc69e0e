"""Control trends and the study overview, on SQLite and a real PostgreSQL.

The example plate's QCs read low 12.10, mid 61.20 and high 241.29 pg/mL. A study
database and the kit certificate's targets are configured in an
il6assay.toml in the working folder, as a lab would; results are checked
through the library (curve.json, run.json, the database).
"""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest
from click.testing import CliRunner

from il6assay.cli import main
from il6assay.db.engine import make_engine
from il6assay.db.read import current_results
from il6assay.plate.samples import load_samples
from il6assay.study.store import load_qc, record_qc
from tests.conftest import EXAMPLE, run_dirs
from tests.db_support import run_folder, upgraded_db
from tests.study_support import history, in_control, run_qc

PLATE = EXAMPLE / "plate_001.xlsx"
LOW, HIGH = 12.097, 241.291  # the example plate's QC means (pg/mL)
QC_MEANS = {"low": 12.1, "mid": 61.2, "high": 241.29}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty study database (made by db upgrade) on either backend."""
    return upgraded_db(request, tmp_path, by_cli=True)


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder without IL6ASSAY_DB: only its il6assay.toml configures a database."""
    folder = tmp_path / "lab"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("IL6ASSAY_DB", raising=False)
    return folder


def configure(lab: Path, db_url: str, targets: dict[str, tuple[float, float]] | None) -> None:
    lines = [f"db = {json.dumps(db_url)}"]
    for level, (mean, sd) in (targets or {}).items():
        lines += [f"[control_targets.{level}]", f"mean = {mean}", f"sd = {sd}",
                  'source = "certificate of analysis"']  # fmt: skip
    (lab / "il6assay.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def invoke(*args: str | Path) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def westgard_rule(out: Path) -> dict:
    (folder,) = run_dirs(out)
    curve = json.loads((folder / "curve.json").read_text(encoding="utf-8"))
    (rule,) = [r for r in curve["rules"] if r["id"] == "WESTGARD"]
    return rule


def test_a_control_beyond_3sd_of_the_certificate_rejects_the_run_naming_the_rule(lab, db_url):
    configure(lab, db_url, {"low": (8.0, 1.0), "high": (240.0, 8.0)})
    result = invoke("process", PLATE, "--out", "runs")
    assert result.exit_code == 3, result.output
    rule = westgard_rule(lab / "runs")
    assert rule["passed"] is False
    assert rule["detail"].startswith("WESTGARD_REJECT: 1-3s (low)")
    assert sorted(rule["wells"]) == ["C12", "C3", "D12", "D3"]
    (folder,) = run_dirs(lab / "runs")
    assert "WESTGARD" in json.loads((folder / "run.json").read_text())["verdict"]
    assert "WESTGARD_REJECT: 1-3s (low)" in (folder / "report.html").read_text(encoding="utf-8")
    with (folder / "results.csv").open(encoding="utf-8-sig") as fh:
        assert all("PLATE_REJECTED" in r["flags"] for r in csv.DictReader(fh))
    (qc,) = load_qc(make_engine(db_url))
    assert qc.run_id == folder.name and qc.accepted_by_rules is False
    assert {c.level: round(c.value_pg_ml, 2) for c in qc.controls} == QC_MEANS


def test_a_run_judged_by_westgard_verifies_masks_and_pushes_with_its_verdict(lab, db_url):
    """The Westgard verdict comes from the study's history, not the export: processing the
    inputs again (verify, push, a mask) carries it over as recorded."""
    configure(lab, db_url, {"low": (LOW - 2.5 * 1.5, 1.5), "high": (HIGH, 8.0)})
    assert invoke("process", PLATE, "--out", "runs").exit_code == 0
    (folder,) = run_dirs(lab / "runs")
    assert invoke("verify", folder).exit_code == 0
    masked = invoke("mask", folder, "--well", "E4", "--reason", "bubble", "--by", "Lin")
    assert masked.exit_code == 0, masked.output
    assert westgard_rule(lab / "runs")["detail"].startswith("WESTGARD_WARNING: 1-2s (low)")
    reviewed = invoke("review", folder, "--accept", "--by", "Lin", "--reason", "checked")
    assert reviewed.exit_code == 0, reviewed.output
    pushed = invoke("push", folder, "--db", db_url)
    assert pushed.exit_code == 0, pushed.output


def test_push_holds_a_westgard_verdict_against_the_study_databases_record(lab, db_url, tmp_path):
    """Recomputation from inputs/ cannot check a verdict that came from the study's history;
    the study database's own record of it (qc_runs, written by process) is the check."""
    from sqlalchemy import text

    configure(lab, db_url, {"low": (LOW - 2.5 * 1.5, 1.5), "high": (HIGH, 8.0)})  # a 1-2s
    assert invoke("process", PLATE, "--out", "runs").exit_code == 0
    (folder,) = run_dirs(lab / "runs")
    assert invoke("review", folder, "--accept", "--by", "Lin", "--reason", "ok").exit_code == 0
    other = str(tmp_path / "other-study.db")
    assert invoke("db", "upgrade", "--db", other).exit_code == 0
    elsewhere = invoke("push", folder, "--db", other)
    assert elsewhere.exit_code == 2 and "has no record of it" in elsewhere.stderr
    with make_engine(db_url).begin() as conn:  # the study recorded this run as rejected
        conn.execute(text("UPDATE qc_runs SET accepted_by_rules = :f"), {"f": False})
    refused = invoke("push", folder, "--db", db_url)
    assert refused.exit_code == 2
    assert "not the one this study database recorded when it was processed" in refused.stderr
    assert current_results(make_engine(db_url)) == []


def test_a_run_whose_westgard_check_could_not_run_still_verifies(lab, tmp_path):
    configure(lab, str(tmp_path / "not-made.db"), None)  # configured, never created
    made = invoke("process", PLATE, "--out", "runs")
    assert made.exit_code == 0 and "Westgard check not evaluated" in made.stderr
    (folder,) = run_dirs(lab / "runs")
    assert invoke("verify", folder).exit_code == 0


def test_a_1_2s_is_a_warning_and_the_plate_stays_accepted(lab, db_url):
    configure(lab, db_url, {"low": (LOW - 2.5 * 1.5, 1.5), "high": (HIGH, 8.0)})
    result = invoke("process", PLATE, "--out", "runs")
    assert result.exit_code == 0, result.output
    rule = westgard_rule(lab / "runs")
    assert rule["passed"] is True
    assert rule["detail"].startswith("WESTGARD_WARNING: 1-2s (low)")
    assert "warning: WESTGARD_WARNING: 1-2s (low)" in result.stderr
    (folder,) = run_dirs(lab / "runs")
    assert any(
        "WESTGARD_WARNING" in w for w in json.loads((folder / "run.json").read_text())["warnings"]
    )


def test_without_targets_the_check_is_not_applicable_and_the_run_is_still_recorded(lab, db_url):
    configure(lab, db_url, None)
    assert invoke("process", PLATE, "--out", "runs").exit_code == 0
    rule = westgard_rule(lab / "runs")
    assert rule["passed"] is None and "0 accepted run(s) of the 20" in rule["detail"]
    assert len(load_qc(make_engine(db_url))) == 1


def test_without_a_study_database_process_adds_no_westgard_rule(lab):
    assert invoke("process", PLATE, "--out", "runs").exit_code == 0
    (folder,) = run_dirs(lab / "runs")
    curve = json.loads((folder / "curve.json").read_text(encoding="utf-8"))
    assert "WESTGARD" not in [r["id"] for r in curve["rules"]]


def test_targets_established_from_20_accepted_runs_judge_the_next_run(lab, db_url):
    configure(lab, db_url, None)
    engine = make_engine(db_url)
    # low around 25, of the example plate's kit lot (targets are per lot: issue 25)
    record_qc(engine, history([(v + 5.0, h) for v, h in in_control(20)], lot="default"))
    result = invoke("process", PLATE, "--out", "runs")
    assert result.exit_code == 3
    rule = westgard_rule(lab / "runs")
    assert "1-3s (low)" in rule["detail"] and "established from the first 20" in rule["detail"]


def test_fewer_than_20_accepted_runs_give_provisional_targets_that_judge_no_run(lab, db_url):
    configure(lab, db_url, None)
    engine = make_engine(db_url)
    record_qc(engine, history([(v + 5.0, h) for v, h in in_control(5)]))
    assert invoke("process", PLATE, "--out", "runs").exit_code == 0
    assert westgard_rule(lab / "runs")["passed"] is None
    shown = invoke("controls", "--db", db_url)
    assert "PROVISIONAL targets from 6 accepted run(s), fewer than 20" in shown.stderr


def test_batch_judges_its_runs_in_time_order_and_records_every_one(lab, db_url, tmp_path):
    configure(lab, db_url, {"low": (8.0, 1.0), "high": (240.0, 8.0)})
    result = invoke("batch", EXAMPLE, "--out", "runs", "--jobs", "2", "--json")
    assert result.exit_code == 3
    recorded = {q.run_id: q for q in load_qc(make_engine(db_url))}
    assert sorted(recorded) == sorted(p.name for p in run_dirs(lab / "runs"))
    good = next(p for p in run_dirs(lab / "runs") if p.name.startswith("plate_001"))
    assert recorded[good.name].westgard[0].startswith("WESTGARD_REJECT: 1-3s (low)")


def test_controls_json_charts_every_run_with_rejected_runs_lot_changes_and_violations(db_url):
    values = in_control(24)
    baseline = [v[0] for i, v in enumerate(values) if i != 5][:20]  # run 5 is rejected
    mean, sd = statistics.fmean(baseline), statistics.stdev(baseline)
    values[22] = values[23] = (mean + 2.5 * sd, 120.0)  # then 2-2s on low, no 1-3s
    runs = history(values)
    runs[5].accepted_by_rules = False  # a rejected run: charted, never a target
    runs[5].controls[0].value_pg_ml = 40.0
    for r in runs[12:]:
        r.kit_lot = "L2"
    engine = make_engine(db_url)
    assert record_qc(engine, runs) == ["recorded"] * len(runs)
    result = invoke("controls", "--db", db_url, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    low, high = doc["controls"]
    assert (low["name"], high["name"]) == ("low", "high")
    assert low["target"]["source"] == "established" and low["target"]["n_runs"] == 20
    assert low["target"]["mean"] == pytest.approx(mean) and low["target"]["sd"] == pytest.approx(sd)
    assert len(low["points"]) == 24 and low["points"][5]["accepted"] is False
    assert "1-3s (low)" in low["points"][5]["violations"]
    assert [c["kit_lot"] for c in low["lot_changes"]] == ["L2"]
    assert low["points"][23]["violations"] == ["1-2s (low)", "2-2s (low)"]
    assert low["points"][23]["reject"] is True
    assert doc["standards"][0]["name"] == "top standard mean OD"
    only_high = json.loads(invoke("controls", "--db", db_url, "--level", "high", "--json").stdout)
    assert [s["name"] for s in only_high["controls"]] == ["high"]
    recent = json.loads(
        invoke("controls", "--db", db_url, "--since", "2026-01-21", "--json").stdout
    )
    assert len(recent["controls"][0]["points"]) == 4
    assert recent["controls"][0]["target"] == low["target"]  # targets from the whole history


def test_controls_record_puts_run_folders_of_any_verdict_on_the_chart(db_url):
    first = invoke("controls", "--db", db_url, "--record", run_folder("rejected"), "--json")
    assert first.exit_code == 0, first.output
    assert ": recorded" in first.stderr
    (point,) = json.loads(first.stdout)["controls"][0]["points"]
    assert point["accepted"] is False  # rejected by its reviewer: hollow on the chart
    again = invoke("controls", "--db", db_url, "--record", run_folder("rejected"))
    assert ": unchanged" in again.stderr


def test_controls_refuses_a_bad_date_and_an_unknown_level_in_one_line(db_url):
    record_qc(make_engine(db_url), history(in_control(3)))
    bad = invoke("controls", "--db", db_url, "--since", "last tuesday")
    assert bad.exit_code == 2 and "not a date" in bad.stderr and "Traceback" not in bad.output
    unknown = invoke("controls", "--db", db_url, "--level", "mid")
    assert unknown.exit_code == 2 and "no control level 'mid'" in unknown.stderr


def test_pushed_runs_never_recorded_are_charted_from_the_database_copy(db_url):
    assert invoke("push", run_folder("a"), "--db", db_url).exit_code == 0
    (qc,) = load_qc(make_engine(db_url))
    assert qc.pushed and qc.review_status == "accepted"
    assert {c.level: round(c.value_pg_ml, 2) for c in qc.controls} == QC_MEANS


def test_summary_counts_specimens_per_visit_and_writes_the_reassay_worklist(db_url, tmp_path):
    for name in ("a", "b"):
        assert invoke("push", run_folder(name), "--db", db_url).exit_code == 0
    record_qc(make_engine(db_url), [run_qc(1, 20.0, 120.0)])  # processed, not pushed
    worklist = tmp_path / "next_plate.samples.csv"
    result = invoke("summary", "--db", db_url, "--json", "--worklist", worklist)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    rows = current_results(make_engine(db_url))
    totals = doc["totals"]
    assert totals["specimens"] == len(rows) == 64
    assert totals["reported"] == sum(r["conc_pg_ml"] is not None for r in rows)
    above = sorted(r["study_id"] for r in rows if str(r["result"]).startswith(">"))
    assert totals["waiting_reassay"] == len(above) > 0
    below = sum(str(r["result"]).startswith("<") for r in rows)
    assert totals["censored"] == below + len(above)
    assert totals["reported"] + totals["censored"] + totals["without_result"] == 64
    assert [r["run_id"] for r in doc["unreviewed_runs"]] == ["hist_001-0000000000"]
    by_key = {(s["study_id"], s["visit"]): s for s in doc["specimens"]}
    assert by_key[("AML-010", "D0")]["dilutions"] == "1, 10"  # P10 neat and P11 at 1:10
    # ... and the specimens the m10 rules left without a result (P19: HIGH_CV), as run.
    unreported = sorted(r["study_id"] for r in rows if "HIGH_CV" in str(r["flags"]))
    assert unreported and not set(unreported) & set(above)
    sheet = load_samples(worklist)  # ready to be the next plate's sample sheet
    assert sorted(r.study_id for r in sheet.rows.values()) == sorted(above + unreported)
    assert {r.dilution for r in sheet.rows.values() if r.study_id in above} == {10.0}
    assert {r.dilution for r in sheet.rows.values() if r.study_id in unreported} == {1.0}


def test_summary_and_controls_write_offline_pages_beside_the_shared_plotly(db_url, tmp_path):
    assert invoke("push", run_folder("a"), "--db", db_url).exit_code == 0
    assert invoke("summary", "--db", db_url, "--html", tmp_path / "summary.html").exit_code == 0
    assert invoke("controls", "--db", db_url, "--html", tmp_path / "lj.html").exit_code == 0
    assert len(list(tmp_path.glob("plotly-*.min.js"))) == 1
    for name in ("summary.html", "lj.html"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert "cdn" not in text and "https://" not in text


def test_a_specimen_above_the_range_at_1_and_10_is_to_be_re_assayed_at_100():
    from il6assay.study.summary import build_overview

    row = {"study_id": "AML-070", "visit": "D0", "result": ">3000", "conc_pg_ml": None,
           "dilution": "10", "dilutions": "P01@1 P02@10", "run_id": "r1"}  # fmt: skip
    low = {"study_id": "AML-071", "visit": "D0", "result": "<4.69", "conc_pg_ml": None}
    ov = build_overview([row, low])
    assert [(w["study_id"], w["dilution"]) for w in ov.worklist] == [("AML-070", "100")]
    assert (ov.totals.censored, ov.totals.waiting_reassay, ov.totals.below_lloq) == (2, 1, 1)
    assert ov.specimens[0]["dilutions"] == "1, 10"


def test_an_unreachable_study_database_never_refuses_a_plate_it_says_not_evaluated(lab):
    url = "postgresql+psycopg://il6:secret@127.0.0.1:1/study"
    result = invoke("batch", PLATE, "--out", "runs", "--db", url, "--json")
    assert result.exit_code == 0, result.output
    rule = westgard_rule(lab / "runs")
    assert rule["passed"] is None and "cannot be used" in rule["detail"]
    assert "secret" not in result.output
    assert "Westgard check not evaluated" in result.stderr
