"""Write the sheet twins of the shipped TOML layouts (run from the repository's root).

    python plate_layouts/make_sheet_layouts.py

il6_96_standard.xlsx and il6_96_standard.csv hold the standard layout
(il6_96_standard.toml with the default kit lot) as plate grids;
example_lab_layout.xlsx holds the example lab's layout (kit lot A1234). The
tests read each twin and its TOML and require identical wells, so an edit to
a TOML file that is not carried here fails them: re-run this script.
"""

from __future__ import annotations

from pathlib import Path

from il6assay.plate.layout import load_layout
from il6assay.plate.layout_sheet import layout_csv, write_layout_template

HERE = Path(__file__).resolve().parent

TWINS = {
    "il6_96_standard.toml": ("il6_96_standard.xlsx", "il6_96_standard.csv"),
    "example_lab_layout.toml": ("example_lab_layout.xlsx",),
}


def main() -> None:
    """Write every twin beside its TOML layout."""
    for toml_name, twins in TWINS.items():
        layout = load_layout(HERE / toml_name)
        for name in twins:
            target = HERE / name
            target.unlink(missing_ok=True)
            if name.endswith(".csv"):
                target.write_text(layout_csv(layout), encoding="utf-8")
            else:
                write_layout_template(layout, target)
            print(f"wrote {target.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
