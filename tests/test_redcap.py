"""REDCap export: the Data Import Tool CSV, and the import-records API against a local server.

The server (http.server on 127.0.0.1, in a thread) checks each request as
REDCap would receive it (POST form fields, token, content=record,
format=csv, type=flat, overwriteBehavior, returnContent=count), keeps the
records it imported as REDCap does (with ``overwriteBehavior=normal`` a blank
value leaves the stored one; with ``overwrite`` it clears it) and answers as
REDCap does: ``{"count": N}`` with N the records imported, the
``{"count": 0}`` of a malformed import (PyCap#103), or an HTTP error; and, to
try il6assay, a fractional count or an error echoing the request it got.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from il6assay.cli import main
from il6assay.db.engine import make_engine, upgrade
from il6assay.db.push import push_runs
from il6assay.db.redcap import load_mapping
from il6assay.errors import InputError
from tests.conftest import FIXTURES
from tests.db_support import copy_study_db, error_lines, run_folder

MAPPING = FIXTURES / "redcap" / "il6_mapping.toml"
TOKEN = "0123456789ABCDEF0123456789ABCDEF"


class FakeRedcap(BaseHTTPRequestHandler):
    """REDCap's API endpoint as far as import-records goes."""

    mode = "ok"
    requests: ClassVar[list[dict[str, str]]] = []
    stored: ClassVar[dict[tuple[str, str], dict[str, str]]] = {}

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8")
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}
        FakeRedcap.requests.append(form)
        if FakeRedcap.mode == "echo":
            return self._answer(400, {"error": f"cannot parse request {body}"})
        if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
            return self._answer(400, {"error": "not a form post"})
        if form.get("token") != TOKEN:
            return self._answer(403, {"error": "You do not have permissions to use the API"})
        expected = {
            "content": "record",
            "format": "csv",
            "type": "flat",
            "returnContent": "count",
        }
        wrong = {k: form.get(k) for k, v in expected.items() if form.get(k) != v}
        if form.get("overwriteBehavior") not in ("normal", "overwrite"):
            wrong["overwriteBehavior"] = form.get("overwriteBehavior")
        if wrong:
            return self._answer(400, {"error": f"bad parameters {wrong}"})
        if FakeRedcap.mode == "error":
            return self._answer(400, {"error": "The following fields do not exist: il6_conc"})
        if FakeRedcap.mode == "count0":
            return self._answer(200, {"count": 0})
        rows = list(csv.DictReader(io.StringIO(form["data"])))
        if not rows or "record_id" not in rows[0]:
            return self._answer(200, {"count": 0})
        overwrite = form["overwriteBehavior"] == "overwrite"
        for row in rows:
            key = (row["record_id"], row.get("redcap_event_name", ""))
            record = FakeRedcap.stored.setdefault(key, {})
            for name, value in row.items():
                if value != "" or overwrite:
                    record[name] = value
        count = len({r["record_id"] for r in rows})
        if FakeRedcap.mode == "fraction":
            return self._answer(200, {"count": count + 0.9})
        return self._answer(200, {"count": count})

    def _answer(self, status: int, doc: dict[str, Any]) -> None:
        payload = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def redcap() -> Iterator[str]:
    """A local REDCap API URL, answering in FakeRedcap.mode."""
    FakeRedcap.mode = "ok"
    FakeRedcap.requests = []
    FakeRedcap.stored = {}
    server = HTTPServer(("127.0.0.1", 0), FakeRedcap)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def pushed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite study database holding the example plate's accepted results (made once)."""
    path = tmp_path_factory.mktemp("pushed") / "study.db"
    engine = make_engine(str(path))
    upgrade(engine)
    push_runs(engine, [run_folder("a")])
    engine.dispose()
    return path


@pytest.fixture
def study_db(pushed_db: Path, tmp_path: Path) -> str:
    """The test's own copy of ``pushed_db`` (with its chain key): exports add audit rows."""
    return copy_study_db(pushed_db, tmp_path / "study.db")


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def api_export(study_db: str, url: str, token: str = TOKEN) -> Any:
    """``export-redcap`` to the API at ``url``, the token in $REDCAP_TOKEN."""
    args = ["--fields", MAPPING, "--db", study_db, "--api", url, "--token-env", "REDCAP_TOKEN"]
    return invoke("export-redcap", *args, env={"REDCAP_TOKEN": token})


def test_csv_for_the_data_import_tool_has_record_id_event_and_mapped_fields(study_db, tmp_path):
    out_file = tmp_path / "redcap.csv"
    out = invoke("export-redcap", "--fields", MAPPING, "--db", study_db, "--out", out_file)
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(out_file.open(encoding="utf-8")))
    assert list(rows[0])[:2] == ["record_id", "redcap_event_name"]
    assert set(rows[0]) == {
        "record_id",
        "redcap_event_name",
        "il6_result",
        "il6_conc",
        "il6_flags",
        "il6_run_id",
        "il6_export_sha256",
    }
    first = next(r for r in rows if r["record_id"] == "AML-001" and r["il6_flags"])
    assert first["redcap_event_name"] == "baseline_arm_1"
    assert first["il6_result"].startswith("<") and first["il6_conc"] == ""
    assert not out_file.read_bytes().startswith(b"\xef\xbb\xbf")  # no BOM in the header


def test_api_push_sends_what_redcap_expects_and_checks_the_count(study_db, redcap):
    out = api_export(study_db, redcap)
    assert out.exit_code == 0, out.output
    sent = FakeRedcap.requests[-1]
    records = {r["record_id"] for r in csv.DictReader(io.StringIO(sent["data"]))}
    assert f"REDCap imported {len(records)} record(s)" in out.output
    assert sent["overwriteBehavior"] == "overwrite" and sent["action"] == "import"
    assert TOKEN not in out.output


def test_count_zero_answer_is_a_failed_push(study_db, redcap):
    FakeRedcap.mode = "count0"
    out = api_export(study_db, redcap)
    assert out.exit_code == 2
    assert "REDCap reported 0 record(s) imported but" in out.output
    assert TOKEN not in out.output


def test_http_error_from_redcap_is_one_line_with_its_message(study_db, redcap):
    FakeRedcap.mode = "error"
    out = api_export(study_db, redcap)
    assert out.exit_code == 2
    assert "HTTP 400" in out.output and "il6_conc" in out.output
    assert len(error_lines(out)) == 1


def test_wrong_token_is_refused_without_printing_it(study_db, redcap):
    wrong = "FEDCBA98765432100123456789ABCDEF"
    out = api_export(study_db, redcap, token=wrong)
    assert out.exit_code == 2 and "HTTP 403" in out.output
    assert wrong not in out.output


def test_token_comes_only_from_an_environment_variable(study_db, redcap):
    out = invoke("export-redcap", "--fields", MAPPING, "--db", study_db, "--api", redcap)
    assert out.exit_code == 2 and "--token-env" in out.output
    out = invoke(
        "export-redcap",
        "--fields",
        MAPPING,
        "--db",
        study_db,
        "--api",
        redcap,
        "--token-env",
        "NO_SUCH_VAR_IL6",
        env={"NO_SUCH_VAR_IL6": ""},
    )
    assert out.exit_code == 2 and "NO_SUCH_VAR_IL6" in out.output
    assert FakeRedcap.requests == []


def test_visit_without_an_event_is_refused(study_db, tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text(MAPPING.read_text().replace('C1D28 = "cycle_1_day_28_arm_1"\n', ""))
    out = invoke("export-redcap", "--fields", mapping, "--db", study_db)
    assert out.exit_code == 2 and "visit 'C1D28'" in out.output


def test_classic_project_needs_one_visit_per_record(study_db, tmp_path):
    classic = '[project]\nrecord_id = "study_no"\n\n[fields]\nresult = "il6_result"\n'
    mapping = tmp_path / "classic.toml"
    mapping.write_text(classic)
    out = invoke("export-redcap", "--fields", mapping, "--db", study_db)
    assert out.exit_code == 2 and "not longitudinal" in out.output
    mapping.write_text(classic.replace('"study_no"\n', '"study_no"\nvisits = ["D0"]\n'))
    out = invoke("export-redcap", "--fields", mapping, "--db", study_db)
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines()[0] == "study_no,il6_result"


@pytest.mark.parametrize(
    "text, message",
    [
        ('[fields]\nresult = "IL6 Result"\n', "not a REDCap field name"),
        ('[fields]\npatient_name = "name"\n', "unknown il6assay value"),
        ('[project]\nlongitudinal = true\n[fields]\nresult = "il6"\n', "needs [events]"),
        ("[fields\n", "not valid TOML"),
    ],
)
def test_bad_mapping_is_refused_saying_why(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message.replace("[", r"\[")):
        load_mapping(path)


def export_audit(db: str) -> list[Any]:
    """The audit table's export rows, oldest first."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from il6assay.db.models import DbAudit

    with Session(make_engine(db)) as session:
        return list(
            session.scalars(
                select(DbAudit).where(DbAudit.action == "export-redcap").order_by(DbAudit.id)
            )
        )


def test_every_export_is_recorded_in_the_audit_table_with_the_hash_of_what_was_sent(
    study_db, tmp_path, redcap
):
    import hashlib

    out_file = tmp_path / "redcap.csv"
    args = ["export-redcap", "--fields", MAPPING, "--db", study_db, "--by", "Chen Data"]
    assert invoke(*args, "--out", out_file).exit_code == 0
    api = [*args, "--api", redcap, "--token-env", "REDCAP_TOKEN"]
    assert invoke(*api, env={"REDCAP_TOKEN": TOKEN}).exit_code == 0
    to_file, to_api = export_audit(study_db)
    sent = out_file.read_text(encoding="utf-8")
    for row in (to_file, to_api):
        value = json.loads(row.new_value)
        assert value["sha256"] == hashlib.sha256(sent.encode()).hexdigest()
        assert value["rows"] == len(list(csv.DictReader(io.StringIO(sent))))
        assert "AML-001" in value["records"]
        assert row.by_name == "Chen Data" and row.os_account
    assert str(out_file.resolve()) in to_file.what
    assert redcap in to_api.what and TOKEN not in to_api.what + to_api.new_value


def test_a_failed_api_export_is_not_recorded_as_sent(study_db, redcap):
    FakeRedcap.mode = "count0"
    out = api_export(study_db, redcap)
    assert out.exit_code == 2
    assert export_audit(study_db) == []


# --- REDCap API hygiene and cleared fields (issue 12, items 6 and 7) ---------------------------


def test_a_number_superseded_by_a_censored_result_is_cleared_in_redcap(study_db, redcap):
    """5.49 -> <9.38 in il6assay must not leave REDCap holding the number beside the new text."""
    assert api_export(study_db, redcap).exit_code == 0
    before = FakeRedcap.stored[("AML-004", "baseline_arm_1")]
    assert before["il6_result"] == "12.1" and before["il6_conc"].startswith("12.07")
    push_runs(make_engine(study_db), [run_folder("swap")], supersede=True, reason="tubes swapped")
    out = api_export(study_db, redcap)
    assert out.exit_code == 0, out.output
    assert FakeRedcap.requests[-1]["overwriteBehavior"] == "overwrite"
    after = FakeRedcap.stored[("AML-004", "baseline_arm_1")]
    assert after["il6_result"] == "<4.69" and after["il6_conc"] == ""
    assert "BELOW_LLOQ" in after["il6_flags"]
    gained = FakeRedcap.stored[("AML-001", "baseline_arm_1")]  # and the other way round
    assert gained["il6_result"] == "12.1" and gained["il6_flags"] == ""


@pytest.mark.parametrize(
    "url, message",
    [
        ("file:///etc/passwd", "must be an https:// URL"),
        ("ftp://redcap.example.org/api/", "must be an https:// URL"),
        ("http://redcap.example.org/api/", "is http"),
        ("redcap.example.org/api/", "must be an https:// URL"),
    ],
)
def test_api_url_that_is_not_https_is_refused_before_anything_is_sent(study_db, url, message):
    out = api_export(study_db, url)
    assert out.exit_code == 2 and message in out.output
    assert "root:" not in out.output  # file:///etc/passwd is never read
    assert len(error_lines(out)) == 1
    assert export_audit(study_db) == []


@pytest.mark.parametrize("userinfo", ["lin:s3cr3t-pw@", "lin@", ":s3cr3t-pw@"])
def test_credentials_in_the_api_url_are_refused_and_never_printed(study_db, redcap, userinfo):
    url = redcap.replace("http://", f"http://{userinfo}")
    out = api_export(study_db, url)
    assert out.exit_code == 2 and "user name or password" in out.output
    assert "s3cr3t-pw" not in out.output and "lin" not in out.output.replace("line", "")
    assert FakeRedcap.requests == []


def test_a_token_that_is_not_a_redcap_token_is_refused_without_showing_it(study_db, redcap):
    token = "sk live/0123+456 789=ABC&DEF"
    out = api_export(study_db, redcap, token=token)
    assert out.exit_code == 2 and "does not hold a REDCap API token" in out.output
    from urllib.parse import quote, quote_plus

    for form in (token, quote(token, safe=""), quote_plus(token), "0123"):
        assert form not in out.output
    assert FakeRedcap.requests == []


def test_the_token_never_appears_in_any_encoding_when_redcap_echoes_the_request(study_db, redcap):
    import base64

    FakeRedcap.mode = "echo"  # the error quotes the URL-encoded form it got, token included
    token = "0123456789abcdef0123456789ABCDEF"
    out = api_export(study_db, redcap, token=token)
    assert out.exit_code == 2 and "HTTP 400" in out.output and "token=***" in out.output
    encoded = base64.b64encode(token.encode()).decode()
    for form in (token, token.lower(), token.upper(), encoded[:40]):
        assert form not in out.output


def test_a_count_that_is_not_an_integer_is_a_failed_push(study_db, redcap):
    FakeRedcap.mode = "fraction"  # {"count": 36.9}
    out = api_export(study_db, redcap)
    assert out.exit_code == 2 and "not a record count" in out.output
    assert export_audit(study_db) == []
