"""Judging wells, samples and the plate: acceptance rules, censored sample
results, the combination of dilutions, and the tables a run holds."""
