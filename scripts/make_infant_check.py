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

from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from auengine.au.reference_fit import cross_validated_auc, infant_check_data
from auengine.io.tables import atomic_write_bytes

OUT = Path(__file__).resolve().parents[1] / "src" / "auengine" / "resources" / "infant_check.json"
TERMS = ("Fitted on InfAnFace (Wan et al., ICPR 2022) and 300-W (Sagonas et al., 2013) annotations; both are for "
         "non-commercial research, teaching and benchmarking only, and so is this model.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landmarks", type=Path, help="folder with infanface/ and 300w/ (default ../shared/data/landmarks)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    features, labels, groups = infant_check_data(args.landmarks)
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
