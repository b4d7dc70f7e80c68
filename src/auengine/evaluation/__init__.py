"""Evaluation: metrics (paper Table III columns) and subject-wise cross-validation."""
