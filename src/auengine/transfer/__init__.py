"""Frame-level transfer-learning classifiers (Zamzmi et al., Zhao et al., thesis): `auengine transfer`."""
