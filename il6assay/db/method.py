"""The method profile in the study database: adopted by an account, superseded, never changed.

A profile is what a validation (``il6assay validate``) showed, in the form
processing enforces (``il6assay.qc.method``): the validated LLOQ/ULOQ, the
minimum required dilution and the validated dilution range, the curve model,
weighting and k, the zero-standard handling, the rule profile, the required
QC levels with their targets, and the hashes of the validation document and
report. Its SHA-256 (of its canonical JSON) names it in run.json. Adopting a
new profile supersedes the current one, with a reason, in one transaction;
the old row stays as it was adopted, so a run keeps the profile it was judged by.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from il6assay.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy import Engine

ADOPTING_ROLES = ("admin", "reviewer")
QC_TOLERANCE_PCT = 20.0  # ICH M10 §4.3.2: study-run QCs within ±20 % of their target


def profile_sha256(profile: dict[str, Any]) -> str:
    """The SHA-256 of a profile's canonical JSON (sorted keys, no spaces), without its id."""
    content = {k: v for k, v in profile.items() if k not in ("id", "sha256")}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def profile_from_validation(
    doc: dict[str, Any], validation_sha256: str, report_sha256: str
) -> dict[str, Any]:
    """The enforced profile a passing validation document gives (module docstring)."""
    if doc.get("pass") is not True:
        raise InputError(
            f"the validation does not pass ({doc.get('pass_reason', 'no verdict')}): "
            "only a passing validation can be adopted"
        )
    if doc.get("lloq") is None or doc.get("uloq") is None or not doc.get("dilution_range"):
        raise InputError("the validation gives no validated range or dilutions: nothing to adopt")
    inside = [
        i
        for i in doc["precision_accuracy"]
        if i["pass"] is True and doc["lloq"] <= i["nominal"] <= doc["uloq"]
    ]
    inner = [i for i in inside if doc["lloq"] < i["nominal"] < doc["uloq"]]
    required = {i["level"] for i in (inner or inside)}
    method = doc["method"]
    return {
        "lloq_pg_ml": doc["lloq"],
        "uloq_pg_ml": doc["uloq"],
        "mrd": doc["mrd"],
        "dilution_range": list(doc["dilution_range"]),
        "model": method["model"],
        "weighting": method["weighting"],
        "k": method["k"],
        "zero_standard": method["zero_standard"],
        "rules": method.get("rules"),
        "qc_levels": {
            i["level"]: {
                "target_pg_ml": i["nominal"],
                "tolerance_pct": QC_TOLERANCE_PCT,
                "required": i["level"] in required,
                "validated_mean_pg_ml": i["mean"],
                "validated_cv_total_pct": i["cv_total_pct"],
            }
            for i in inside
        },
        "validation_sha256": validation_sha256,
        "report_sha256": report_sha256,
    }


def _has_table(engine: Engine) -> bool:
    from sqlalchemy import inspect

    return inspect(engine).has_table("method_profiles")


def _as_dict(row: Any) -> dict[str, Any]:
    profile = json.loads(row.profile)
    return {
        "id": row.id,
        "sha256": row.sha256,
        **profile,
        "status": row.status,
        "adopted_by": row.adopted_by,
        "printed_name": row.printed_name,
        "role": row.role,
        "adopted_utc": row.adopted_utc,
        "reason": row.reason,
        "superseded_by": row.superseded_by,
        "superseded_utc": row.superseded_utc,
    }


def enforced(profile: dict[str, Any]) -> dict[str, Any]:
    """What processing holds a plate to (``Settings.method_profile``): id, hash and content."""
    keep = (
        "id",
        "sha256",
        "lloq_pg_ml",
        "uloq_pg_ml",
        "mrd",
        "dilution_range",
        "model",
        "weighting",
        "k",
        "zero_standard",
        "rules",
        "qc_levels",
        "validation_sha256",
        "report_sha256",
    )
    return {k: profile[k] for k in keep if k in profile}


def current_profile(engine: Engine) -> dict[str, Any] | None:
    """The adopted (current) method profile, or None when none was adopted."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from il6assay.db.models import CURRENT, DbMethodProfile

    if not _has_table(engine):
        return None
    with Session(engine) as session:
        row = session.scalars(
            select(DbMethodProfile).where(DbMethodProfile.status == CURRENT)
        ).first()
        return _as_dict(row) if row is not None else None


def list_profiles(engine: Engine) -> list[dict[str, Any]]:
    """Every profile ever adopted, oldest first."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from il6assay.db.models import DbMethodProfile

    if not _has_table(engine):
        return []
    with Session(engine) as session:
        rows = session.scalars(select(DbMethodProfile).order_by(DbMethodProfile.id)).all()
        return [_as_dict(r) for r in rows]


def adopt_profile(
    engine: Engine,
    profile: dict[str, Any],
    *,
    username: str,
    printed_name: str,
    role: str,
    reason: str,
) -> dict[str, Any]:
    """Store ``profile`` as the current one, signed by the account; the old one superseded.

    A current profile is superseded only with a reason; the same profile twice is refused.
    """
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from il6assay.db.engine import writer
    from il6assay.db.models import CURRENT, SUPERSEDED, DbAudit, DbMethodProfile
    from il6assay.record.audit import now_utc, os_account

    if role not in ADOPTING_ROLES:
        raise InputError(
            f"account {username} is a {role}: a method profile is adopted by an admin or reviewer"
        )
    digest = profile_sha256(profile)
    now = now_utc()
    with Session(writer(engine)) as session, session.begin():
        same = session.scalars(
            select(DbMethodProfile).where(DbMethodProfile.sha256 == digest)
        ).first()
        if same is not None:
            raise InputError(
                f"this profile was adopted before (profile {same.id}, {same.status}): "
                "nothing to adopt"
            )
        old = session.scalars(
            select(DbMethodProfile).where(DbMethodProfile.status == CURRENT)
        ).first()
        if old is not None and not reason.strip():
            raise InputError(
                f"profile {old.id} is in force: adopting another supersedes it; give --reason"
            )
        row = DbMethodProfile(
            sha256=digest,
            profile=json.dumps(profile, sort_keys=True, ensure_ascii=False),
            validation_sha256=profile["validation_sha256"],
            report_sha256=profile["report_sha256"],
            status=CURRENT,
            adopted_by=username,
            printed_name=printed_name,
            role=role,
            adopted_utc=now,
            reason=reason,
        )
        if old is not None:
            old.status = SUPERSEDED
            old.superseded_utc = now
            session.flush()  # one current profile at a time
        session.add(row)
        session.flush()
        if old is not None:
            old.superseded_by = row.id
        session.add(
            DbAudit(
                time_utc=now,
                os_account=os_account(),
                by_name=username,
                action="method-adopt",
                what=f"method profile {row.id} ({digest[:12]}) adopted"
                + (f", superseding profile {old.id}" if old is not None else ""),
                reason=reason or None,
                old_value=old.sha256 if old is not None else None,
                new_value=digest,
            )
        )
        session.flush()
        return _as_dict(row)


def profile_settings(settings: Any, db: str | None) -> tuple[Any, list[str]]:
    """``settings`` held to the study database's adopted profile, and notes for the user.

    No database configured, or none adopted: the settings unchanged. The
    profile fixes the model, weighting, zero-standard handling, rule profile and
    weighting constant k it was validated with (a note says what it changed). A
    database that cannot be read is a note, not a refusal: ``push`` refuses such
    a run later.
    """
    if not db:  # before the imports: no database, no SQLAlchemy
        return settings, []
    from dataclasses import replace

    from sqlalchemy.exc import DBAPIError

    from il6assay.db.engine import make_engine, unreachable

    try:
        engine = make_engine(db, must_exist=True)
        try:
            profile = current_profile(engine)
        except DBAPIError as err:  # the driver's words in one line, as every command says them
            raise unreachable(err, engine) from None
    except InputError as err:
        return settings, [f"method profile not checked: the study database cannot be read ({err})"]
    if profile is None:
        return settings, []
    notes = []
    fixed = {k: profile[k] for k in ("model", "weighting", "zero_standard")}
    if profile.get("rules"):  # the rule profile the method was validated under
        fixed["rules"] = profile["rules"]
    if profile.get("k") is not None:  # the noise constant measured over the validation runs
        fixed["k_od"] = profile["k"]
    for key, value in fixed.items():
        if getattr(settings, key) != value:
            notes.append(
                f"the adopted method profile {profile['id']} fixes {key} = {value} "
                f"(not {getattr(settings, key)})"
            )
    return replace(settings, **fixed, method_profile=enforced(profile)), notes


def check_run_profile(engine: Engine, record: dict[str, Any], path: Any) -> None:
    """Refuse a run not processed under the study's current profile (``push``)."""
    current = current_profile(engine)
    used = (record.get("settings") or {}).get("method_profile")
    if used is not None and profile_sha256(used) != used.get("sha256"):
        raise InputError(
            "run.json's method profile does not match its own hash (edited)", path=path
        )
    if current is None:
        if used is not None:
            raise InputError(
                f"the run was processed under method profile {used.get('id')}, which this "
                "study database has not adopted",
                path=path,
            )
        return
    if used is None or used.get("sha256") != current["sha256"]:
        said = f"profile {used.get('id')}" if used else "no method profile"
        raise InputError(
            f"the run was processed under {said}; method profile {current['id']} is in force: "
            "process the plate again under it",
            path=path,
        )
