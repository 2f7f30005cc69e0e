"""The statistics a statistician imports: the 4PL/5PL fit, its uncertainty, the
plate's noise model, outlier hints and detection limits.

``from il6assay.curve import fit_curve`` fits a curve without anything else of il6assay.
"""

from il6assay.curve.fit import CurveFit, fit_curve, four_pl, four_pl_inverse, logistic

__all__ = ["CurveFit", "fit_curve", "four_pl", "four_pl_inverse", "logistic"]
