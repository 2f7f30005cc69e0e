"""``python -m il6assay.cli``: the same commands as ``il6assay``."""

from il6assay.cli import main

main()
