"""De-identified images: the face region blurred, masked, or replaced by a phantom infant.

The face region is the convex hull of the 68 landmarks plus the forehead (the brows moved up
by ``FOREHEAD`` x the eye-to-chin distance D along the face's up axis), dilated by ``DILATE`` x D.
Every mode builds the region's new pixels *without reading the original pixels inside it*:

- ``mask``: a flat grey;
- ``blur``: the region is filled from its surroundings (OpenCV inpainting of the region, which
  reads only pixels outside it) and smoothed with a Gaussian of ``BLUR_SIGMA`` x D, so it looks
  blurred but holds nothing of the face;
- ``phantom``: the ``blur`` fill, then the phantom renderer draws a synthetic infant
  (:mod:`auengine.phantom.render`) with the source's landmarks and AU intensities: expression
  kept, identity gone.

Hence the output does not change when the original face pixels change (tested), and its
correlation with the original face crop is that of an unrelated face. Images without landmarks
(no face found) are de-identified whole, since a face may be there unseen: masked, or (blur,
phantom) shrunk to ``WHOLE_IMAGE_SIDE`` pixels on the longer side and enlarged again.
"""
from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from .errors import InputError
from .face_geometry import eye_centers

MODES = ("blur", "mask", "phantom")
FOREHEAD = 0.75            # forehead height above the brows, x D (eye centres to chin)
DILATE = 0.12              # region margin, x D
BLUR_SIGMA = 0.2           # Gaussian of the blur fill, x D
WHOLE_IMAGE_SIDE = 6       # without landmarks: the image shrunk to this many pixels (longer side), enlarged
MASK_GREY = (128, 128, 128)
WORK_SIZE = 96             # the fill is computed at about this many pixels per D (speed), then resized
PHANTOM_SEED = 6           # the synthetic infant drawn in "phantom" mode (chosen: MTCNN finds it, dlib tracks it best)


def check_mode(mode: str | None) -> str | None:
    """The mode, or None for no de-identification; an unknown mode raises InputError."""
    if mode in (None, "", "none"):
        return None
    if mode not in MODES:
        raise InputError(f"unknown de-identification mode {mode!r}; choose one of: {', '.join(MODES)}")
    return mode


def _eyes_mid(landmarks: np.ndarray) -> np.ndarray:
    """Midpoint (2,) of the two eye centres, pixels."""
    return 0.5 * np.add(*eye_centers(landmarks))


def face_size(landmarks: np.ndarray) -> float:
    """D: distance from the eye centres' midpoint to the chin (point 8), pixels."""
    return float(max(np.linalg.norm(landmarks[8] - _eyes_mid(landmarks)), 1.0))


def face_region(shape: tuple[int, ...], landmarks: np.ndarray, dilate: float = DILATE) -> np.ndarray:
    """Boolean mask (H, W) of the face region of one face's landmarks (68, 2) pixel (x, y)."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    d = face_size(landmarks)
    up = _eyes_mid(landmarks) - landmarks[8]
    up /= np.linalg.norm(up) or 1.0
    points = np.vstack([landmarks, landmarks[17:27] + FOREHEAD * d * up])
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1, cv2.LINE_8)
    radius = int(np.ceil(dilate * d))
    if radius > 0:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    return mask.astype(bool)


def deidentify(image: np.ndarray, landmarks: np.ndarray | None, mode: str = "blur",
               intensities: Mapping[str, float] | None = None, identity_seed: int = PHANTOM_SEED) -> np.ndarray:
    """A de-identified copy of an RGB image.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    landmarks : (68, 2) or (N, 68, 2) pixel (x, y) of the faces, or None / NaN (no face found:
        the whole image is de-identified)
    mode : "blur", "mask" or "phantom"
    intensities : AU intensities 0-5 of the face for "phantom" (keys ``AU4`` or ``AU04_r``);
        default: measured from the landmarks by the geometry estimator (average infant neutral)
    identity_seed : which synthetic infant "phantom" draws (the same for every face by default)

    Returns
    -------
    (H, W, 3) uint8 RGB
    """
    mode = check_mode(mode)
    if mode is None:
        return image
    faces = _faces(landmarks)
    if not faces:
        return _whole_image(image, mode)
    out = image.copy()
    for points in faces:
        region = face_region(image.shape, points)
        if mode == "mask":
            out[region] = MASK_GREY
            continue
        out = _fill(out, region, points)
        if mode == "phantom":
            out = _phantom(out, region, points, intensities, identity_seed)
    return out


def structure_correlation(original: np.ndarray, other: np.ndarray, landmarks: np.ndarray) -> float:
    """How much of the original face's structure an image keeps: Pearson r inside the face region.

    Structure = grey levels minus their Gaussian blur of sigma 0.1 D (about an eye's width): the
    features that make a face recognisable, without the illumination gradient it shares with its
    surroundings. ``original``, ``other``: (H, W, 3) uint8 RGB; ``landmarks``: (68, 2) of the
    original's face. 0 when either is flat.
    """
    region = face_region(original.shape, landmarks, dilate=0)
    sigma = 0.1 * face_size(np.asarray(landmarks, dtype=np.float64))

    def detail(image: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(float)
        return (grey - cv2.GaussianBlur(grey, (0, 0), sigma))[region]

    a, b = detail(original), detail(other)
    return float(np.corrcoef(a, b)[0, 1]) if a.std() > 1e-9 and b.std() > 1e-9 else 0.0


def _faces(landmarks) -> list[np.ndarray]:
    if landmarks is None:
        return []
    array = np.asarray(landmarks, dtype=np.float64).reshape(-1, 68, 2)
    return [face for face in array if np.isfinite(face).all()]


def _whole_image(image: np.ndarray, mode: str) -> np.ndarray:
    if mode == "mask":
        return np.full_like(image, MASK_GREY, dtype=np.uint8)
    factor = WHOLE_IMAGE_SIDE / max(image.shape[:2])
    small = cv2.resize(image, (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_CUBIC)


def _fill(image: np.ndarray, region: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The region filled from outside it (inpainting at a working scale, then a Gaussian), composited."""
    d = face_size(landmarks)
    ys, xs = np.nonzero(region)
    pad = int(np.ceil(3 * BLUR_SIGMA * d)) + 2
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, image.shape[0])
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, image.shape[1])
    window, inside = image[y0:y1, x0:x1].copy(), region[y0:y1, x0:x1]
    window[inside] = 0                                  # nothing of the face enters the fill
    factor = min(1.0, WORK_SIZE / d)
    size = (max(2, round(window.shape[1] * factor)), max(2, round(window.shape[0] * factor)))
    small = cv2.resize(window, size, interpolation=cv2.INTER_AREA)
    small_mask = cv2.dilate(cv2.resize(inside.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST),
                            np.ones((3, 3), np.uint8))  # the zeroed pixels' blur into the neighbours is masked too
    filled = cv2.inpaint(small, small_mask, 3, cv2.INPAINT_TELEA)
    filled = cv2.GaussianBlur(filled, (0, 0), max(BLUR_SIGMA * d * factor, 0.5))
    filled = cv2.resize(filled, (window.shape[1], window.shape[0]), interpolation=cv2.INTER_LINEAR)
    out = image.copy()
    out[y0:y1, x0:x1][inside] = filled[inside]
    return out


def _phantom(image: np.ndarray, region: np.ndarray, landmarks: np.ndarray, intensities, seed: int) -> np.ndarray:
    """Draw the synthetic infant with these landmarks and AUs; only pixels inside the region change."""
    from skimage.transform import SimilarityTransform

    from .phantom.face import apply_aus, neutral_landmarks
    from .phantom.identity import sample_identity
    from .phantom.render import Pose, draw_face

    aus = _intensities(landmarks, intensities)
    identity = sample_identity(np.random.default_rng(seed))
    template = apply_aus(neutral_landmarks(identity), aus)
    transform = SimilarityTransform.from_estimate(template, landmarks) \
        if hasattr(SimilarityTransform, "from_estimate") else _estimate(template, landmarks)
    pose = Pose(float(np.degrees(transform.rotation)), float(transform.scale), tuple(transform.translation))
    drawn = draw_face(image.copy(), identity, aus, pose, transform.inverse(landmarks))
    out = image.copy()
    out[region] = drawn[region]
    return out


def _estimate(source: np.ndarray, target: np.ndarray):
    from skimage.transform import SimilarityTransform

    transform = SimilarityTransform()
    transform.estimate(source, target)
    return transform


def _intensities(landmarks: np.ndarray, given: Mapping[str, float] | None) -> dict[str, float]:
    """AU id -> intensity: the given values (AU4 or AU04_r keys; NaN -> 0), else geometry AUs of the landmarks."""
    if given is None:
        from .au.landmark_aus import age_group, au_from_landmarks

        face = landmarks[None]
        given = au_from_landmarks(face, neutral=age_group(face)).iloc[0].to_dict()
    out = {}
    for key, value in given.items():
        name = str(key).upper().removesuffix("_R")
        if name.startswith("AU") and name[2:].isdigit():
            out[f"AU{int(name[2:])}"] = float(value) if np.isfinite(value) else 0.0
    return out
