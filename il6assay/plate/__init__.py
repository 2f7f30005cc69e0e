"""Files in: reader exports, layouts and sample sheets become one table of wells.

``readers/`` holds one module per export format; ``export`` the Plate and its
reads; ``tokens`` what a reader prints instead of a number; ``layout`` and
``samples`` the lab's files; ``wells`` joins them; ``hashing`` fingerprints files.
"""

from il6assay.plate.export import MASKED, MISSING, SATURATED, Export, Plate, Reading, Token

__all__ = ["MASKED", "MISSING", "SATURATED", "Export", "Plate", "Reading", "Token"]
