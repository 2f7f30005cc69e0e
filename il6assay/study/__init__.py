"""Across runs: a day's plates at once, control trends, the study overview."""
