"""Phantom face geometry: neutral 68 landmarks of an identity, moved by AU intensities.

Face units: x to the image's right, y down, origin between the eyes on the eye line;
the inner-eye-corner distance s is about FACE_UNITS_PER_S = 0.42. Landmarks follow iBUG order.
Resting faces come from the shape model of real infants (:mod:`.shape_model`, units of s);
AU_MOVES reproduce the AU model of resources/reference_faces.json (spans in units of s) on
its mean shape (tests/test_phantom_shape.py).
"""
from __future__ import annotations

import numpy as np

from ..face_geometry import MIRROR, face_scale
from .identity import Identity
from .shape_model import shape

#: the 12 AUs of the infant rule set (paper Table I), in order
PHANTOM_AUS = ("AU1", "AU2", "AU4", "AU6", "AU7", "AU9", "AU10", "AU12", "AU20", "AU25", "AU27", "AU43")
MAX_INTENSITY = 5.0
#: face units per s: shape-model shapes (units of s) are scaled by this, the phantom's former s
FACE_UNITS_PER_S = 0.42

# Landmark displacement at full intensity (5), in face units of a face whose s is FACE_UNITS_PER_S
# (apply_aus scales them by the face's own s), as (indices, outward dx, dy).
# Outward dx moves a point away from its mirror partner (the face's own midline); dy < 0 is up.
AU_MOVES: dict[str, list[tuple[tuple[int, ...], float, float]]] = {
    "AU1": [((21, 22), 0.0, -0.10), ((20, 23), 0.0, -0.065), ((19, 24), 0.0, -0.03)],
    "AU2": [((17, 26), 0.0, -0.10), ((18, 25), 0.0, -0.07), ((19, 24), 0.0, -0.03)],
    "AU4": [((21, 22), -0.045, 0.06), ((20, 23), -0.03, 0.065), ((19, 24), -0.015, 0.06),
            ((18, 25), 0.0, 0.04), ((17, 26), 0.0, 0.025)],
    "AU6": [((40, 41, 46, 47), 0.0, -0.008), ((1, 2, 3, 13, 14, 15), 0.01, -0.02)],
    "AU7": [((37, 38, 43, 44), 0.0, 0.02), ((40, 41, 46, 47), 0.0, -0.035)],
    "AU9": [((31, 35), 0.018, -0.045), ((32, 33, 34), 0.0, -0.035), ((29, 30), 0.0, -0.015),
            ((50, 51, 52), 0.0, -0.015)],
    "AU10": [((51,), 0.0, -0.085), ((50, 52), 0.0, -0.075), ((49, 53), 0.0, -0.05),
             ((61, 62, 63), 0.0, -0.01)],
    "AU12": [((48, 54), 0.045, -0.055), ((60, 64), 0.04, -0.05), ((49, 53, 55, 59), 0.02, -0.025)],
    "AU20": [((48, 54), 0.035, 0.012), ((60, 64), 0.03, 0.01), ((49, 53, 55, 59), 0.015, 0.0),
             ((56, 58), 0.015, -0.01)],
    "AU25": [((61, 62, 63), 0.0, -0.015), ((65, 66, 67), 0.0, 0.05), ((55, 56, 57, 58, 59), 0.0, 0.03)],
    "AU27": [((57, 66), 0.0, 0.30), ((56, 58, 65, 67), 0.0, 0.285), ((55, 59), 0.0, 0.24),
             ((48, 54, 60, 64), -0.03, 0.07),
             ((8,), 0.0, 0.16), ((7, 9), 0.0, 0.145), ((6, 10), 0.0, 0.11), ((5, 11), 0.0, 0.07),
             ((4, 12), 0.0, 0.03)],
}
# AU43 closes the eyes: each upper-lid point moves this fraction of the way to its lower-lid partner.
EYE_CLOSURE = 0.96
LID_PAIRS = ((37, 41), (38, 40), (43, 47), (44, 46))
#: AU6 + AU7 narrow each lid pair to no less than this share of its resting gap (narrow-eyed
#: faces: their lid moves are scaled down so the lids never cross); AU43 then closes the rest
MIN_OPEN = 0.1


def neutral_landmarks(identity: Identity) -> np.ndarray:
    """The identity's resting face: 68 landmarks (68, 2) in face units, from the infant shape model."""
    return shape(identity.shape) * FACE_UNITS_PER_S


def _dense_moves() -> np.ndarray:
    """AU_MOVES as an array (len(PHANTOM_AUS), 68, 2): outward dx and dy at full intensity."""
    dense = np.zeros((len(PHANTOM_AUS), 68, 2))
    for row, au in enumerate(PHANTOM_AUS):
        for indices, dx, dy in AU_MOVES.get(au, []):
            dense[row, list(indices)] += (dx, dy)
    return dense


DENSE_MOVES = _dense_moves()
UPPER_LIDS = [upper for upper, _ in LID_PAIRS]
LOWER_LIDS = [lower for _, lower in LID_PAIRS]


def apply_aus(neutral: np.ndarray, intensities: dict[str, float]) -> np.ndarray:
    """Landmarks (68, 2) of ``neutral`` (face units, upright) moved by AU ``intensities`` (0-5 each).

    Moves scale with the face's own s, so each AU's span (units of s) is the same on every face.
    Lid order is kept: where AU6 + AU7 would narrow a lid pair below MIN_OPEN of its resting
    gap, that pair's lid moves are scaled down; AU43 closes EYE_CLOSURE of what is left."""
    fractions = np.array([min(max(float(intensities.get(au, 0.0)), 0.0), MAX_INTENSITY)
                          for au in PHANTOM_AUS]) / MAX_INTENSITY
    own_s = face_scale(neutral) / FACE_UNITS_PER_S
    move = own_s * np.tensordot(fractions, DENSE_MOVES, axes=1)    # (68, 2): spans in units of the face's s
    move[:, 0] *= np.sign(neutral[:, 0] - neutral[MIRROR, 0])                # 0 on the midline
    points = neutral + move
    rest_gap = neutral[LOWER_LIDS, 1] - neutral[UPPER_LIDS, 1]                     # (4,)
    narrowing = rest_gap - (points[LOWER_LIDS, 1] - points[UPPER_LIDS, 1])
    keep = np.minimum(1.0, (1 - MIN_OPEN) * rest_gap / np.maximum(narrowing, 1e-12))
    for lids in (UPPER_LIDS, LOWER_LIDS):
        points[lids, 1] = neutral[lids, 1] + keep * move[lids, 1]
    closure = EYE_CLOSURE * fractions[PHANTOM_AUS.index("AU43")]
    points[UPPER_LIDS] += closure * (points[LOWER_LIDS] - points[UPPER_LIDS])
    return points
