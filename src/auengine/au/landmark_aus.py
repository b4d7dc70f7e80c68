"""AU intensities (0-5) from 68 landmarks: the transparent, offline ``geometry`` estimator.

Every AU comes from one documented measurement (docs/aus.md) in the face's own frame:
origin between the eye centers, u along the right-eye -> left-eye line, v down the
face, both in units of the face scale s (inner-eye-corner distance). Measurements are
therefore unchanged by in-plane rotation, translation and image scale.

intensity = 5 * clip((measure - neutral) * direction / span, 0, 1)

``neutral`` is the measurement on a resting face: the average infant face of the
phantom by default, or a per-subject calibration on its least active frames
(``neutral="auto"``), because infant faces differ from adults' and from each other.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from ..columns import au_column
from ..errors import InputError
from ..face_geometry import as_landmarks, face_coordinates

MAX_INTENSITY = 5.0
#: with neutral="auto", each AU is taken to rest in at least this share of a subject's frames
REST_QUANTILE = 0.1

# Spans (units of s, change at intensity 5) and cross-effects. Spans are the full-intensity
# displacements of the phantom's AU model (phantom/face.py), so the phantom's scale and
# this one agree; on other faces intensities are relative to them. A cross-effect is how
# far one AU moves another AU's measurement at full intensity; it is subtracted so that,
# e.g., AU4's lowering of the inner brows does not hide AU1.
SPANS = {"AU1": 0.24, "AU2": 0.24, "AU4": 0.214, "AU6": 0.048, "AU7": 0.083, "AU9": 0.107, "AU10": 0.186,
         "AU12": 0.131, "AU20": 0.167, "AU25": 0.155, "AU26": 0.19, "AU27": 0.38}
CROSS = {
    ("AU4", "inner_brow_height"): -0.143, ("AU4", "outer_brow_height"): -0.06,
    ("AU6", "lower_lid_depth"): -0.019, ("AU6", "eye_aperture"): -0.019, ("AU7", "eye_aperture"): -0.131,
    ("AU9", "upper_lip_height"): 0.036, ("AU10", "lip_gap"): 0.024,
    ("AU27", "lip_corner_height"): -0.167, ("AU27", "mouth_width"): -0.143, ("AU27", "lip_gap"): 0.69,
    ("AU12", "mouth_width"): 0.214,
}
AU43_CLOSED = 0.96                         # share of the eye aperture that closes at AU43 = 5
OUTPUT_AUS = ["AU1", "AU2", "AU4", "AU6", "AU7", "AU9", "AU10", "AU12", "AU20", "AU25", "AU26", "AU27", "AU43"]

#: how well landmarks alone see each AU (recorded in the table's attrs and in docs/aus.md)
RELIABILITY = {
    "AU1": "good: inner brow height", "AU2": "good: outer brow height",
    "AU4": "good for lowering/drawing together; brow bulge and furrows are texture, not seen",
    "AU6": "weak: the cheek raise barely moves landmarks (jaw-contour points 1-3/13-15 only)",
    "AU7": "fair: lower-lid raise; confounded with AU6's slight lid raise",
    "AU9": "fair: ala raise only; nose wrinkles are texture, not seen",
    "AU10": "fair: upper-lip raise; AU9 lifts the lip a little too",
    "AU12": "good: lip-corner height; AU27's jaw drop lowers the corners",
    "AU20": "fair: mouth widening beyond AU12's oblique pull",
    "AU25": "good: inner-lip gap beyond the jaw drop",
    "AU26": "good: jaw drop (shares the measurement with AU27, smaller span)",
    "AU27": "good: jaw drop (chin below the eye line)",
    "AU43": "good: eye aperture closing (after AU6/AU7's narrowing)",
}


def measurements(landmarks: np.ndarray) -> pd.DataFrame:
    """The named measurements (N rows) behind the AUs, in units of s."""
    points = as_landmarks(landmarks)
    points = points[None] if points.ndim == 2 else points
    c = face_coordinates(points)
    u, v = c[..., 0], c[..., 1]
    corner_line_r, corner_line_l = (v[:, 36] + v[:, 39]) / 2, (v[:, 42] + v[:, 45]) / 2
    return pd.DataFrame({
        "inner_brow_height": -(v[:, 21] + v[:, 22]) / 2,
        "outer_brow_height": -(v[:, 17] + v[:, 26]) / 2,
        "brow_height": -v[:, 19:25].mean(axis=1),
        "brow_gap": u[:, 22] - u[:, 21],
        "lower_lid_depth": ((v[:, [40, 41]].mean(1) - corner_line_r) + (v[:, [46, 47]].mean(1) - corner_line_l)) / 2,
        "eye_aperture": (v[:, [41, 40, 47, 46]] - v[:, [37, 38, 43, 44]]).mean(axis=1),
        "cheek_height": -v[:, [1, 2, 3, 13, 14, 15]].mean(axis=1),
        "ala_height": -(v[:, 31] + v[:, 35]) / 2,
        "upper_lip_height": -v[:, 50:53].mean(axis=1),
        "lip_corner_height": -(v[:, 48] + v[:, 54]) / 2,
        "mouth_width": u[:, 54] - u[:, 48],
        "lip_gap": (v[:, 67] - v[:, 61] + v[:, 66] - v[:, 62] + v[:, 65] - v[:, 63]) / 3,
        "jaw_drop": v[:, 8],
    })


@lru_cache(maxsize=1)
def default_neutral() -> pd.Series:
    """Measurements of the phantom's average infant face at rest (all identity factors 1)."""
    from ..phantom.face import neutral_landmarks
    from ..phantom.identity import Identity

    mean_face = Identity(**{name: 1.0 for name in (
        "face_width", "chin_length", "cranium", "eye_spacing", "eye_size", "eye_height", "brow_height",
        "brow_thickness", "nose_length", "nose_width", "mouth_width", "mouth_height", "lip_thickness",
        "cheek_fullness")}, skin_tone=0.5, skin=(200, 150, 120), hair_style="none", hair=(0, 0, 0),
        iris=(0, 0, 0), brow=(0, 0, 0), lips=(0, 0, 0), seed=0)
    return measurements(neutral_landmarks(mean_face)).iloc[0]


def intensities_from_measurements(measured: pd.DataFrame, neutral: pd.Series,
                                  rest_quantile: float | None = None, rest_of=None) -> pd.DataFrame:
    """AU intensities (N rows, AU01_r...) from measurements and a neutral (resting) face.

    AUs are read in an order where each one's measurement is corrected for the AUs
    already read (CROSS): brows (AU4 from the brow gap first), eyes (AU6, AU7, AU43),
    nose and upper lip (AU9, AU10), jaw (AU26, AU27), then corners and lips (AU12,
    AU20, AU25). With ``rest_quantile`` (frames of one subject), each AU's raw value
    is shifted so that this quantile of its frames reads 0: the subject's own rest.
    ``rest_of`` (a callable ``rest_of(au, raw) -> offset``, for online use: monitor/neutral.py)
    instead gives the offset of each AU's raw fraction (N,) from outside.
    """
    delta = measured - neutral
    f: dict[str, np.ndarray] = {}   # fractions of full intensity, 0-1

    def settle(raw: np.ndarray, au: str) -> np.ndarray:
        if rest_of is not None:
            raw = raw - rest_of(au, raw)
        elif rest_quantile is not None and len(raw):
            raw = raw - np.quantile(raw, rest_quantile)
        return np.clip(raw, 0.0, 1.0)

    def read(au: str, measurement: str, direction: float = 1.0) -> None:
        change = delta[measurement].to_numpy(dtype=float).copy()
        for (other, name), effect in CROSS.items():
            if name == measurement and other in f:
                change -= effect * f[other]
        f[au] = settle(direction * change / SPANS[au], au)

    read("AU4", "brow_gap", -1)
    read("AU1", "inner_brow_height")
    read("AU2", "outer_brow_height")
    read("AU6", "cheek_height")
    read("AU7", "lower_lid_depth", -1)
    rest = (neutral["eye_aperture"] + CROSS[("AU7", "eye_aperture")] * f["AU7"]
            + CROSS[("AU6", "eye_aperture")] * f["AU6"])                     # aperture before closing
    f["AU43"] = settle((1 - measured["eye_aperture"].to_numpy(dtype=float) / rest) / AU43_CLOSED, "AU43")
    read("AU9", "ala_height")
    read("AU10", "upper_lip_height")
    read("AU27", "jaw_drop")
    read("AU26", "jaw_drop")
    read("AU12", "lip_corner_height")
    read("AU20", "mouth_width")
    read("AU25", "lip_gap")
    return pd.DataFrame({au_column(au): MAX_INTENSITY * f[au] + 0.0 for au in OUTPUT_AUS}, index=measured.index)


def au_from_landmarks(landmarks: np.ndarray, *, neutral=None) -> pd.DataFrame:
    """AU intensities 0-5 from landmarks.

    Parameters
    ----------
    landmarks : ndarray, shape (N, 68, 2) or (68, 2)
        Pixel (x, y), iBUG order, one face per row (frames of one subject for "auto").
    neutral : None, "auto", or ndarray (68, 2) / (K, 68, 2)
        None: the average infant face; "auto": per-subject calibration on these frames,
        each AU's least active 10 % reading 0; landmarks: the subject's resting
        face(s) (median of K).

    Returns
    -------
    DataFrame, N rows, columns AU01_r, AU02_r, AU04_r, ... AU43_r (12 Table I AUs and
    AU26). ``attrs`` holds the backend name and each AU's reliability note.
    """
    measured = measurements(landmarks)
    if neutral is None or (isinstance(neutral, str) and neutral == "auto"):
        table = intensities_from_measurements(measured, default_neutral(),
                                              REST_QUANTILE if neutral is not None else None)
    else:
        table = intensities_from_measurements(measured, measurements(neutral).median())
    table.attrs.update(table_attrs())
    return table


def table_attrs() -> dict:
    """Metadata of geometry AU tables: the backend and how well landmarks see each AU."""
    return {"backend": "geometry", "reliability": {au_column(k): v for k, v in RELIABILITY.items()}}
