"""How often the offline detectors find phantom faces, and how far dlib's landmarks land.

On N phantom images (default rule, population 0 and 1, all nuisances on), prints:
  - detection rate of MTCNN and of dlib's HOG detector (a face whose box center lies
    inside the ground-truth face box counts as found);
  - dlib 68-point landmark error against the ground truth, normalised by the
    inter-ocular distance (eye centers), median and 90th percentile, on the
    MTCNN box; overall and by occluder.
Informational only (docs/phantom.md); not a test.

Usage: python scripts/validate_phantom_detection.py [--n 300] [--seed 0]
"""
from __future__ import annotations

import argparse

import numpy as np

from auengine.faces.detect import DETECTORS, largest_first
from auengine.faces.landmarks import LANDMARKERS
from auengine.phantom import PHANTOM_AUS, render, sample_identity
from auengine.phantom.render import sample_nuisance, sample_pose
from auengine.phantom.sampling import face_box


def found(boxes, truth) -> object:
    for box in largest_first(boxes):
        cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
        if truth[0] <= cx <= truth[2] and truth[1] <= cy <= truth[3]:
            return box
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    mtcnn, hog = DETECTORS.create("mtcnn"), DETECTORS.create("dlib")
    landmarker = LANDMARKERS.create("dlib", box_source="mtcnn")
    hits = {"mtcnn": 0, "dlib": 0}
    errors: dict[str, list[float]] = {}
    for i in range(args.n):
        identity = sample_identity(rng, i % 2)
        intensities = dict(zip(PHANTOM_AUS, rng.uniform(0, 5, 12) * (rng.uniform(size=12) < 0.5)))
        nuisance = sample_nuisance(rng)
        image, truth = render(identity, intensities, sample_pose(rng, 224), nuisance, 224, rng)
        box_truth = face_box(truth)
        box = found(mtcnn.detect(image), box_truth)
        hits["mtcnn"] += box is not None
        hits["dlib"] += found(hog.detect(image), box_truth) is not None
        if box is not None:
            predicted = landmarker.predict(image, [box])[0]
            iod = np.linalg.norm(truth[36:42].mean(0) - truth[42:48].mean(0))
            nme = float(np.linalg.norm(predicted - truth, axis=1).mean() / iod)
            errors.setdefault(nuisance.occluder, []).append(nme)
            errors.setdefault("all", []).append(nme)
    print(f"phantom images: {args.n} (224 px, populations 0 and 1, seed {args.seed})")
    for name, count in hits.items():
        print(f"detection rate {name:6s}: {count / args.n:.3f} ({count}/{args.n})")
    for group in ["all", "none", "pacifier", "hand", "blanket"]:
        if errors.get(group):
            values = np.array(errors[group])
            print(f"dlib landmark NME on MTCNN boxes, {group:8s}: median {np.median(values):.3f}, "
                  f"90th percentile {np.percentile(values, 90):.3f} (n={len(values)})")


if __name__ == "__main__":
    main()
