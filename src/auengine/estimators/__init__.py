"""scikit-learn estimators: the AuE-IPA regressor."""
