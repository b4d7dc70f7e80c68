"""Evaluation: subject-wise cross-validation of CNNs, engagement runs, the paper's experiments (Tables IV-VI)."""
