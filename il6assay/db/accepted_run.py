"""An accepted run folder read for the study database: verified, its tables in normal form.

``load_run`` is the first half of ``push`` (``il6assay.db.push``): the run folder
verified by recomputation (``il6assay.record.verify.verified_run``, or remembered
as verified by the study database), accepted by review, its study IDs, visits and
sample labels in their one normal form and spelled one way, and dilutions.csv
consistent with results.csv. Its tables come from the run folder's typed accessors
(``il6assay.record.folder.RunFolder``), read once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from il6assay.db.result_rows import number
from il6assay.errors import InputError
from il6assay.plate.hashing import sha256_bytes
from il6assay.plate.samples import clean_label, spelling_key
from il6assay.record.folder import RunFolder
from il6assay.record.verify import Memory, verified_run


@dataclass
class RunData:
    """A checked run folder read for the database."""

    folder: RunFolder
    content_sha256: str
    results: list[dict[str, str]]
    dilutions: list[dict[str, str]]
    wells: list[dict[str, str]]
    curve: dict[str, Any]
    verification: dict[str, str] | None = None  # to record with the run (il6assay.db.verified)

    @property
    def run_id(self) -> str:
        """The run's id (its folder name)."""
        return self.folder.record.run_id


def load_run(run_dir: str | Path, memory: Memory | None = None) -> RunData:
    """A run folder ready to push: hashes verified, review accepted, study IDs spelled one way.

    ``memory``: where verifications are remembered (the study database), so that a run
    verified before is not processed again (``il6assay.record.verify``).
    """
    # Hashes, audit chain, review, and recomputed from inputs/ (unless verified before).
    folder = verified_run(run_dir, memory)
    status = folder.record.review.status
    if status != "accepted":
        raise InputError(
            f"run is not accepted by review (review status: {status}); only accepted runs "
            "are pushed (il6assay review RUN_DIR --accept --by NAME --reason TEXT)",
            path=folder.path,
        )
    results = [dict(r) for r in folder.results]
    check_normal_form(results, folder.path)
    check_spellings([r["study_id"] for r in results if r.get("study_id")], folder.path)
    dilutions = [dict(r) for r in folder.dilutions]
    with_id = [r for r in dilutions if r.get("study_id")]
    if {key_of(r) for r in results if r.get("study_id")} != {key_of(r) for r in with_id} or any(
        number(r.get("dilution")) is None for r in with_id
    ):
        raise InputError(
            "dilutions.csv does not match results.csv (specimens or dilutions); "
            "process the plate again",
            path=folder.path,
        )
    content = sha256_bytes(json.dumps(dict(folder.record.outputs_sha256), sort_keys=True))
    return RunData(
        folder=folder,
        content_sha256=content,
        results=results,
        dilutions=dilutions,
        wells=[dict(r) for r in folder.wells],
        curve=folder.curve.raw,
    )


def key_of(row: dict[str, str]) -> tuple[str, str]:
    """A CSV row's specimen: study ID and visit."""
    return (row["study_id"], row.get("visit", ""))


def check_normal_form(results: list[dict[str, str]], path: Path | None = None) -> None:
    """Refuse a study ID, visit or sample label not in its one normal form (NFKC, trimmed, clean).

    A run processed by this il6assay always passes (the sample sheet is read so);
    a run folder from before, or one carrying an invisible character, does not.
    """
    for line, row in enumerate(results, start=2):
        for column in ("study_id", "visit", "sample"):
            value = row.get(column) or ""
            where = f"results.csv line {line}"
            try:
                normal = clean_label(value, column, where)
            except InputError as err:
                raise err.at(path) from None
            if normal != value:
                raise InputError(
                    f"{column} {value!a} is not in its normal form (NFKC, trimmed); "
                    "process the plate again with this il6assay",
                    path=path,
                    where=where,
                )


def check_spellings(study_ids: list[str], path: Path | None = None) -> None:
    """Refuse study IDs that differ only by case, spaces, width or dashes ("AML-001", "aml-001")."""
    seen: dict[str, str] = {}
    for sid in study_ids:
        key = spelling_key(sid)
        if key in seen and seen[key] != sid:
            raise InputError(
                f"study ID spelled two ways in the sample sheet: '{seen[key]}' and '{sid}'; "
                "correct the sheet and process the plate again",
                path=path,
            )
        seen.setdefault(key, sid)
