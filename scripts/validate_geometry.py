"""The geometry estimator, the phantom and the infant check on real annotations (issue 14).

    python scripts/validate_geometry.py [--landmarks DIR] [--out FILE.md] [--splits 5]

On ../shared/data/landmarks/ (InfAnFace infants, 300-W adults; skipped with a message when
absent), prints Markdown tables:
  1. per-AU median and share of faces >= 4.5 for real infants and adults under each neutral;
  2. the same bar on held-out faces: references refitted on half of the people, read on the
     other half, over several random person-grouped splits (worst AU's median and share);
  3. phantom resting faces vs real infants, for every measurement the estimator uses;
  4. the infant-face check's ROC AUC with person-grouped folds.
Every number is computed in the run. The data sets are for non-commercial research only.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from auengine.au.landmark_aus import au_from_landmarks, intensities_from_measurements, measurements
from auengine.au.reference import AUModel, au_model, measurement_of
from auengine.au.reference_fit import cross_validated_auc, fit_reference, infant_check_data
from auengine.errors import InputError
from auengine.io.landmark_sets import load_landmark_set

SATURATED = 4.5


def per_au_table(sets: dict) -> str:
    """Per-AU median (share >= 4.5) for each population under each neutral mode."""
    rows = {}
    for population, faces in sets.items():
        for mode in ("none", "infant", "adult"):
            table = au_from_landmarks(faces.landmarks, neutral=mode)
            rows[f"{population} faces, neutral={mode}"] = [f"{m:.2f} ({s:.0%})" for m, s in
                                                           zip(table.median(), (table >= SATURATED).mean())]
    columns = list(au_from_landmarks(sets["infant"].landmarks[:1], neutral="infant").columns)
    return pd.DataFrame(rows, index=columns).T.to_markdown()


def held_out(faces, splits: int) -> dict:
    """Worst AU's median and share >= 4.5 on the held-out half, mean (max) over ``splits`` person splits."""
    measured = measurements(faces.landmarks)
    groups = np.unique(faces.group)
    own = au_model()
    medians, shares = [], []
    for seed in range(splits):
        fit_groups = set(np.random.default_rng(seed).permutation(groups)[: len(groups) // 2])
        fit = np.array([g in fit_groups for g in faces.group])
        ref = fit_reference(measured[fit], own.spans, measurement_of())
        model = AUModel("held-out", ref["spans"], own.cross, own.au43_closed, "")
        table = intensities_from_measurements(measured[~fit], pd.Series(ref["neutral"]), model=model)
        medians.append(table.median().max())
        shares.append((table >= SATURATED).mean().max())
    return {"worst AU median": f"{np.mean(medians):.2f} (max {np.max(medians):.2f})",
            "worst AU share >= 4.5": f"{np.mean(shares):.1%} (max {np.max(shares):.1%})"}


def phantom_table(infants, n: int = 500) -> str:
    """Phantom resting faces vs real infants: medians, IQRs and the distance in real IQRs."""
    from auengine.phantom import neutral_faces

    real = measurements(infants.landmarks)
    phantom = measurements(neutral_faces(n, population=0, seed=0))
    iqr = lambda t: t.quantile(0.75) - t.quantile(0.25)  # noqa: E731
    table = pd.DataFrame({"real infants median": real.median(), "real IQR": iqr(real),
                          "phantom median": phantom.median(), "phantom IQR": iqr(phantom)})
    table["|difference| / real IQR"] = (table["phantom median"] - table["real infants median"]).abs() / table["real IQR"]
    table["within 0.5 IQR"] = np.where(table["|difference| / real IQR"] <= 0.5, "yes", "NO")
    return table.round(3).to_markdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landmarks", type=Path, help="folder with infanface/ and 300w/ (default ../shared/data/landmarks)")
    parser.add_argument("--out", type=Path, help="also write the Markdown here")
    parser.add_argument("--splits", type=int, default=5, help="random person-grouped splits for the held-out bar")
    args = parser.parse_args()
    try:
        sets = {p: load_landmark_set(p, args.landmarks) for p in ("infant", "adult")}
    except InputError as exc:
        print(f"validate_geometry: skipped: {exc}", file=sys.stderr)
        return 0
    auc, per_fold = cross_validated_auc(*infant_check_data(args.landmarks))
    parts = [
        f"Data: {len(sets['infant'])} InfAnFace infant faces, {len(sets['adult'])} 300-W adult faces "
        "(annotations; non-commercial research only).",
        "### AU intensities of real faces under each neutral: median (share >= 4.5)\n\n" + per_au_table(sets),
        "### Held-out: references refitted on half of the people, read on the other half "
        f"({args.splits} splits)\n\n" + pd.DataFrame({p: held_out(f, args.splits) for p, f in sets.items()}).to_markdown(),
        "### Phantom resting faces (500, population 0) vs real infants\n\n" + phantom_table(sets["infant"]),
        f"### Infant-face check\n\nROC AUC {auc:.3f} (5 person-grouped folds: "
        f"{', '.join(f'{a:.3f}' for a in per_fold)}).",
    ]
    text = "\n\n".join(parts) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
