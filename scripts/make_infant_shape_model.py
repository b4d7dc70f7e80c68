"""Write src/auengine/resources/infant_shape_model.json: a PCA shape model of real infant faces
at rest, from which the phantom draws its identities' resting landmarks (phantom/shape_model.py).

    python scripts/make_infant_shape_model.py [--landmarks DIR] [--out PATH] [--variance 0.95]

Derivation: the InfAnFace faces of ../shared/data/landmarks/ (all 210) -> the faces at rest
under au/reference_fit.py's rest rule -> each face in the estimator's face frame
(face_geometry.face_coordinates: origin between the eye-corner midpoints, eye line along u,
units of s = inner-eye-corner distance) -> each face and its mirror image (iBUG points
relabelled left <-> right: a symmetric mean, no left/right bias from the photos' head turns)
-> generalised Procrustes alignment (unit centroid size: a turned head's foreshortened s does
not blow up its face) -> PCA (SVD of the centred shapes). The mirror-antisymmetric components
(left-right asymmetry, mostly the photos' head turns, which the phantom's frontal renderer
cannot draw; their share of the variance is stored) are left out; of the symmetric ones, the
fewest that explain ``--variance`` of the symmetric variance are kept. Model units: centroid size 1; ``mean_s`` is the mean
shape's s, by which phantom/shape_model.py divides (drawn faces: the mean has s = 1).
Each component's ``sd`` is the robust sd of its scores (IQR / 1.349): the first components
(head pitch and turn in the photos) are heavy-tailed, and normal draws with the classical sd
would spread the phantom's faces wider than real infants' (``sd_classical`` is stored too).
Derived from InfAnFace: non-commercial research, teaching and benchmarking only; the file says so.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from auengine.au.landmark_aus import measurements
from auengine.au.reference_fit import REST_RULE, rest_mask
from auengine.face_geometry import MIRROR, face_coordinates
from auengine.io.landmark_sets import load_landmark_set
from auengine.io.tables import atomic_write_bytes

OUT = Path(__file__).resolve().parents[1] / "src" / "auengine" / "resources" / "infant_shape_model.json"
VARIANCE = 0.95
TERMS = ("Derived from InfAnFace (Wan et al., ICPR 2022) annotations, which are for non-commercial research, "
         "teaching and benchmarking only; so is this file and any face drawn from it.")
SOURCE = ("InfAnFace training split (ads 104, google2 51, youtube2 55 faces), 68-point annotations, repository "
          "ostadabbas/Infant-Facial-Landmark-Detection-and-Tracking, data/infanface/")


def mirrored(shapes: np.ndarray) -> np.ndarray:
    """Mirror images (N, 68, 2) of face-frame shapes (N, 68, 2): u negated, points relabelled."""
    return shapes[:, MIRROR] * [-1.0, 1.0]


def procrustes(shapes: np.ndarray, rounds: int = 10) -> np.ndarray:
    """Generalised Procrustes alignment of shapes (N, 68, 2): each centred, scaled to unit centroid
    size and rotated (no reflection) onto the iterated mean; returns the aligned shapes (N, 68, 2)."""
    aligned = shapes - shapes.mean(axis=1, keepdims=True)
    aligned /= np.linalg.norm(aligned, axis=(1, 2), keepdims=True)
    mean = aligned.mean(axis=0)                      # the face-frame mean: upright, symmetric
    mean /= np.linalg.norm(mean)
    for _ in range(rounds):
        u, _, vt = np.linalg.svd(np.einsum("npi,pj->nij", aligned, mean))     # (N, 2, 2) cross-covariances
        d = np.sign(np.linalg.det(u @ vt))
        u[:, :, 1] *= d[:, None]
        aligned = np.einsum("npi,nij->npj", aligned, u @ vt)
        mean = aligned.mean(axis=0)
        mean /= np.linalg.norm(mean)
    return aligned


def fit_pca(shapes: np.ndarray, variance: float) -> dict:
    """PCA of mirror-closed shapes (N, 68, 2), keeping only mirror-symmetric components: mean (68, 2),
    components (k, 68, 2) unit-norm, explained (k,) share of the symmetric variance, asymmetric_share
    (the variance left out), sd_classical (k,) the scores' sd and sd (k,) their robust sd (IQR / 1.349)."""
    flat = shapes.reshape(len(shapes), -1)
    mean = flat.mean(axis=0)
    _, singular, vt = np.linalg.svd(flat - mean, full_matrices=False)
    var = singular ** 2 / (len(flat) - 1)
    mirror_of = mirrored(vt.reshape(-1, 68, 2)).reshape(len(vt), -1)
    symmetric = np.einsum("kd,kd->k", vt, mirror_of) > 0          # +1: symmetric, -1: antisymmetric
    vt, var_sym = vt[symmetric], var[symmetric]
    k = int(np.searchsorted(np.cumsum(var_sym) / var_sym.sum(), variance) + 1)
    scores = (flat - mean) @ vt[:k].T
    low, high = np.quantile(scores, [0.25, 0.75], axis=0)
    return {"mean": mean.reshape(68, 2), "components": vt[:k].reshape(k, 68, 2), "sd": (high - low) / 1.349,
            "sd_classical": np.sqrt(var_sym[:k]), "explained": var_sym[:k] / var_sym.sum(),
            "asymmetric_share": float(var[~symmetric].sum() / var.sum())}


def build(root: Path | None, variance: float) -> dict:
    faces = load_landmark_set("infant", root)
    rest = rest_mask(measurements(faces.landmarks))
    shapes = face_coordinates(faces.landmarks[rest])
    model = fit_pca(procrustes(np.concatenate([shapes, mirrored(shapes)])), variance)
    subsets = {name: int(((faces.subset == name) & rest).sum()) for name in np.unique(faces.subset)}
    return {
        "format": 1,
        "made_by": "scripts/make_infant_shape_model.py",
        "terms": TERMS,
        "source": SOURCE,
        "subset": {"faces": int(len(faces)), "faces_at_rest": int(rest.sum()), "at_rest_by_subset": subsets,
                   "rest_rule": REST_RULE},
        "derivation": ("faces at rest in the face frame of face_geometry.face_coordinates (origin between the "
                       "eye-corner midpoints, u along the eye line, v down, units of s = inner-eye-corner "
                       "distance), each with its mirror image; generalised Procrustes alignment (unit centroid "
                       f"size, rotation, no reflection); PCA; mirror-antisymmetric components (head turns) left out; "
                       f"the fewest symmetric components that explain {variance:.0%} of the symmetric variance; sd = robust sd (IQR / 1.349) of each component's scores"),
        "units": "Procrustes frame: centroid size 1; mean_s = the mean shape's inner-eye-corner distance",
        "mean_s": round(float(np.linalg.norm(model["mean"][39] - model["mean"][42])), 6),
        "variance_kept": round(float(model["explained"].sum()), 4),
        "asymmetric_variance_left_out": round(model["asymmetric_share"], 4),
        "explained": np.round(model["explained"], 5).tolist(),
        "sd": np.round(model["sd"], 6).tolist(),
        "sd_classical": np.round(model["sd_classical"], 6).tolist(),
        "mean": np.round(model["mean"], 5).tolist(),
        "components": np.round(model["components"], 6).tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landmarks", type=Path, help="folder with infanface/ (default ../shared/data/landmarks)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--variance", type=float, default=VARIANCE, help=f"share of the variance to keep (default {VARIANCE})")
    args = parser.parse_args()
    data = build(args.landmarks, args.variance)
    atomic_write_bytes(args.out, (json.dumps(data) + "\n").encode())
    print(f"{data['subset']['faces_at_rest']} of {data['subset']['faces']} faces at rest (x2 mirrored); "
          f"{data['asymmetric_variance_left_out']:.1%} of the variance asymmetric (left out); {len(data['sd'])} "
          f"symmetric components keep {data['variance_kept']:.1%} of the symmetric variance")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
