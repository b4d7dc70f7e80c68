"""AU intensities (0-5) from 68 landmarks: the transparent, offline ``geometry`` estimator.

Every AU comes from one documented measurement (docs/aus.md) in the face's own frame:
origin between the eye centers, u along the right-eye -> left-eye line, v down the
face, both in units of the face scale s (inner-eye-corner distance). Measurements are
therefore unchanged by in-plane rotation, translation and image scale.

intensity = 5 * clip((measure - neutral) * direction / span, 0, 1)

``neutral`` is the measurement on a resting face: a per-subject calibration on its least
active frames (``"auto"``), the person's own resting landmarks, or a population reference
face (``"infant"``, ``"adult"``; au/reference.py, derived from real annotations) whose spans
are widened to that population's spread of resting faces. Spans and cross-effects are data
(resources/reference_faces.json), not the phantom's code.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..columns import au_column
from ..errors import InputError
from ..face_geometry import as_landmarks
from .measurements import measurements  # noqa: F401 - re-exported: measurements behind the AUs
from .reference import POPULATIONS, AUModel, au_model, reference

MAX_INTENSITY = 5.0
#: with neutral="auto", each AU is taken to rest in at least this share of a subject's frames
REST_QUANTILE = 0.1
#: fewer frames than this in a group: "auto" cannot estimate a resting face and uses the population's
MIN_AUTO_FRAMES = 20
NEUTRAL_MODES = ("auto", "infant", "adult", "none")
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


def default_neutral() -> pd.Series:
    """Resting measurements of the infant reference face (real infants at rest)."""
    return reference("infant").neutral


def intensities_from_measurements(measured: pd.DataFrame, neutral: pd.Series,
                                  rest_quantile: float | None = None, rest_of=None,
                                  model: AUModel | None = None) -> pd.DataFrame:
    """AU intensities (N rows, AU01_r...) from measurements and a neutral (resting) face.

    AUs are read in an order where each one's measurement is corrected for the AUs
    already read (CROSS): brows (AU4 from the brow gap first), eyes (AU6, AU7, AU43),
    nose and upper lip (AU9, AU10), jaw (AU26, AU27), then corners and lips (AU12,
    AU20, AU25). With ``rest_quantile`` (frames of one subject), each AU's raw value
    is shifted so that this quantile of its frames reads 0: the subject's own rest.
    ``rest_of`` (a callable ``rest_of(au, raw) -> offset``, for online use: monitor/neutral.py)
    instead gives the offset of each AU's raw fraction (N,) from outside. ``model`` gives the
    spans and cross-effects (default: the one-face AU model, for a face's own resting face).
    """
    model = model or au_model()
    spans, cross = model.spans, model.cross
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
        for (other, name), effect in cross.items():
            if name == measurement and other in f:
                change -= effect * f[other]
        f[au] = settle(direction * change / spans[au], au)

    read("AU4", "brow_gap", -1)
    read("AU1", "inner_brow_height")
    read("AU2", "outer_brow_height")
    read("AU6", "cheek_height")
    read("AU7", "lower_lid_depth", -1)
    rest = (neutral["eye_aperture"] + cross[("AU7", "eye_aperture")] * f["AU7"]
            + cross[("AU6", "eye_aperture")] * f["AU6"])                     # aperture before closing
    f["AU43"] = settle((1 - measured["eye_aperture"].to_numpy(dtype=float) / rest) / model.au43_closed, "AU43")
    read("AU9", "ala_height")
    read("AU10", "upper_lip_height")
    read("AU27", "jaw_drop")
    read("AU26", "jaw_drop")
    read("AU12", "lip_corner_height")
    read("AU20", "mouth_width")
    read("AU25", "lip_gap")
    return pd.DataFrame({au_column(au): MAX_INTENSITY * f[au] + 0.0 for au in OUTPUT_AUS}, index=measured.index)


def au_from_landmarks(landmarks: np.ndarray, *, neutral="auto", population: str | None = None) -> pd.DataFrame:
    """AU intensities 0-5 from landmarks.

    Parameters
    ----------
    landmarks : ndarray, shape (N, 68, 2) or (68, 2)
        Pixel (x, y), iBUG order, one face per row (frames of one subject for "auto").
    neutral : "auto", "infant", "adult", "none", or ndarray (68, 2) / (K, 68, 2)
        "auto": per-subject calibration on these frames, each AU's least active 10 % reading 0;
        with fewer than MIN_AUTO_FRAMES frames, the population reference of the faces' age
        group instead (a UserWarning and ``attrs["neutral"]`` say so). "infant" / "adult": that
        population's reference face. "none": the infant reference's resting face on the one-face
        spans, uncalibrated (for comparison; real faces read high). Landmarks: the person's own
        resting face(s) (median of K). None means "none".
    population : "infant", "adult" or None
        The age group for "auto"'s base and fallback; None: from the infant-face check.

    Returns
    -------
    DataFrame, N rows, columns AU01_r, AU02_r, AU04_r, ... AU43_r (12 Table I AUs and
    AU26). ``attrs`` holds the backend name, each AU's reliability note and
    ``attrs["neutral"]``: what resting face and spans were used, and why.
    """
    points = as_landmarks(landmarks)
    measured = measurements(points)
    mode = "none" if neutral is None else neutral
    if isinstance(mode, str):
        if mode not in NEUTRAL_MODES:
            raise InputError(f"neutral must be one of {', '.join(NEUTRAL_MODES)} or resting-face landmarks, "
                             f"not {mode!r}")
        table, used = _from_mode(points, measured, mode, population)
    else:
        table = intensities_from_measurements(measured, measurements(neutral).median())
        used = {"mode": "landmarks", "reference": "the person's resting face (given)", "spans": "one-face AU model"}
    table.attrs.update(table_attrs())
    table.attrs["neutral"] = used
    return table


def _from_mode(points: np.ndarray, measured: pd.DataFrame, mode: str, population: str | None):
    """(table, what was used) for a named neutral mode."""
    if mode in POPULATIONS:
        model = reference(mode)
        return (intensities_from_measurements(measured, model.neutral, model=model),
                {"mode": mode, "reference": mode, "spans": f"{mode} population (widened)", "source": model.source})
    group = population or age_group(points)
    if mode == "none":
        return (intensities_from_measurements(measured, reference("infant").neutral),
                {"mode": "none", "reference": "infant (uncalibrated)", "spans": "one-face AU model"})
    if len(measured) >= MIN_AUTO_FRAMES:
        return (intensities_from_measurements(measured, reference(group).neutral, REST_QUANTILE),
                {"mode": "auto", "reference": f"own rest: least active {REST_QUANTILE:.0%} of {len(measured)} frames",
                 "spans": "one-face AU model", "age_group": group})
    note = (f"{len(measured)} frame(s) are too few (< {MIN_AUTO_FRAMES}) to estimate a resting face; "
            f"used the {group} reference face instead")
    warnings.warn(f"neutral='auto': {note}", UserWarning, stacklevel=3)
    model = reference(group)
    return (intensities_from_measurements(measured, model.neutral, model=model),
            {"mode": "auto", "reference": group, "spans": f"{group} population (widened)", "fallback": note,
             "age_group": group, "source": model.source})


def age_group(points: np.ndarray) -> str:
    """"infant" or "adult" for faces (N, 68, 2) of one subject: the median infant probability."""
    from .infant_check import infant_probability

    return "infant" if float(np.median(infant_probability(points))) >= 0.5 else "adult"


def table_attrs() -> dict:
    """Metadata of geometry AU tables: the backend and how well landmarks see each AU."""
    return {"backend": "geometry", "reliability": {au_column(k): v for k, v in RELIABILITY.items()}}
