"""Fit the infant-face check (resources/infant_check.json): logistic regression, infant vs adult,
on the 13 landmark measurements of real annotations (../shared/data/landmarks/).

    python scripts/make_infant_check.py [--landmarks DIR] [--out PATH]

Prints the ROC AUC of 5-fold cross-validation with person-grouped folds (faces of one photo
or advertisement video stay in one fold) and stores it with the model.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from auengine.au.landmark_aus import measurements
from auengine.io.landmark_sets import load_landmark_set
from auengine.io.tables import atomic_write_bytes

OUT = Path(__file__).resolve().parents[1] / "src" / "auengine" / "resources" / "infant_check.json"
TERMS = ("Fitted on InfAnFace (Wan et al., ICPR 2022) and 300-W (Sagonas et al., 2013) annotations; both are for "
         "non-commercial research, teaching and benchmarking only, and so is this model.")


def training_data(root: Path | None):
    """(features DataFrame, labels (N,) 1 = infant, groups (N,))."""
    import pandas as pd

    sets = [load_landmark_set(p, root) for p in ("infant", "adult")]
    features = pd.concat([measurements(s.landmarks) for s in sets], ignore_index=True)
    labels = np.concatenate([np.full(len(s), int(s.population == "infant")) for s in sets])
    groups = np.concatenate([s.group for s in sets])
    return features, labels, groups


def cross_validated_auc(features, labels, groups, folds: int = 5, seed: int = 0) -> tuple[float, list[float]]:
    """Pooled out-of-fold ROC AUC and per-fold AUCs, person-grouped stratified folds."""
    scores = np.zeros(len(labels))
    per_fold = []
    for train, test in StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(features, labels, groups):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
        model.fit(features.iloc[train], labels[train])
        scores[test] = model.predict_proba(features.iloc[test])[:, 1]
        per_fold.append(float(roc_auc_score(labels[test], scores[test])))
    return float(roc_auc_score(labels, scores)), per_fold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landmarks", type=Path, help="folder with infanface/ and 300w/ (default ../shared/data/landmarks)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    features, labels, groups = training_data(args.landmarks)
    auc, per_fold = cross_validated_auc(features, labels, groups)
    scaler = StandardScaler().fit(features)
    fit = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(features), labels)
    model = {"format": 1, "made_by": "scripts/make_infant_check.py", "kind": "logistic regression on standardised "
             "landmark measurements (units of the inner-eye-corner distance)",
             "features": list(features.columns), "mean": scaler.mean_.round(6).tolist(),
             "scale": scaler.scale_.round(6).tolist(), "coef": fit.coef_[0].round(6).tolist(),
             "intercept": round(float(fit.intercept_[0]), 6),
             "cv_auc": round(auc, 4), "cv_auc_per_fold": [round(a, 4) for a in per_fold],
             "cv": "5-fold StratifiedGroupKFold (seed 0), groups: one photo / one advertisement video",
             "faces": {"infant": int(labels.sum()), "adult": int((1 - labels).sum())},
             "source": "InfAnFace training split (210 infant faces) vs 300-W common+challenging (689 adult faces)",
             "terms": TERMS}
    atomic_write_bytes(args.out, (json.dumps(model, indent=1) + "\n").encode())
    print(f"infant check: ROC AUC {auc:.3f} (5 person-grouped folds: {', '.join(f'{a:.3f}' for a in per_fold)}); "
          f"{model['faces']['infant']} infant, {model['faces']['adult']} adult faces; wrote {args.out}")


if __name__ == "__main__":
    main()
