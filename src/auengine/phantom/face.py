"""Phantom face geometry: neutral 68 landmarks of an identity, moved by AU intensities.

Face units: x to the image's right, y down, origin between the eyes on the eye line;
the inner-eye-corner distance s is about 0.42. Landmarks follow iBUG order.
"""
from __future__ import annotations

import numpy as np

from .identity import Identity

#: the 12 AUs of the infant rule set (paper Table I), in order
PHANTOM_AUS = ("AU1", "AU2", "AU4", "AU6", "AU7", "AU9", "AU10", "AU12", "AU20", "AU25", "AU27", "AU43")
MAX_INTENSITY = 5.0

# Landmark displacement at full intensity (5), in face units, as (indices, outward dx, dy).
# Outward dx moves a point away from the face's midline; dy < 0 is up.
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


def neutral_landmarks(identity: Identity) -> np.ndarray:
    """The identity's neutral face: 68 landmarks (68, 2) in face units."""
    p = np.zeros((68, 2))
    ew, eh = 0.20 * identity.eye_size, 0.085 * identity.eye_size
    ec = (0.21 + 0.20) * identity.eye_spacing
    eye_y = 0.0
    for side, (outer, up1, up2, inner, low1, low2) in ((-1, (36, 37, 38, 39, 40, 41)),
                                                        (1, (45, 44, 43, 42, 47, 46))):
        cx = side * ec
        p[outer] = (cx + side * ew, eye_y)
        p[up1] = (cx + side * 0.4 * ew, eye_y - eh)
        p[up2] = (cx - side * 0.4 * ew, eye_y - eh)
        p[inner] = (cx - side * ew, eye_y)
        p[low1] = (cx - side * 0.4 * ew, eye_y + 0.8 * eh)
        p[low2] = (cx + side * 0.4 * ew, eye_y + 0.8 * eh)
    yb = -0.30 * identity.brow_height
    brow = np.array([[0.64, yb + 0.07], [0.52, yb - 0.01], [0.40, yb - 0.03], [0.28, yb - 0.01],
                     [0.15, yb + 0.03]])
    brow[:, 0] *= identity.eye_spacing
    p[17:22] = brow * [-1, 1]
    p[22:27] = brow[::-1]
    nl, nw = identity.nose_length, identity.nose_width
    p[27:31] = [[0, 0.0], [0, 0.10 * nl], [0, 0.19 * nl], [0, 0.28 * nl]]
    yn = 0.33 * nl
    p[31:36] = [[-0.13 * nw, yn - 0.02], [-0.065 * nw, yn + 0.01], [0, yn + 0.02],
                [0.065 * nw, yn + 0.01], [0.13 * nw, yn - 0.02]]
    ym, mw, lt = 0.56 * identity.mouth_height, 0.21 * identity.mouth_width, identity.lip_thickness
    p[48:60] = [[-mw, ym], [-0.6 * mw, ym - 0.055 * lt], [-0.22 * mw, ym - 0.07 * lt], [0, ym - 0.06 * lt],
                [0.22 * mw, ym - 0.07 * lt], [0.6 * mw, ym - 0.055 * lt], [mw, ym],
                [0.6 * mw, ym + 0.06 * lt], [0.22 * mw, ym + 0.08 * lt], [0, ym + 0.085 * lt],
                [-0.22 * mw, ym + 0.08 * lt], [-0.6 * mw, ym + 0.06 * lt]]
    p[60:68] = [[-0.85 * mw, ym], [-0.35 * mw, ym - 0.008], [0, ym - 0.008], [0.35 * mw, ym - 0.008],
                [0.85 * mw, ym], [0.35 * mw, ym + 0.008], [0, ym + 0.008], [-0.35 * mw, ym + 0.008]]
    jw, yc, y0 = 0.95 * identity.face_width, 0.96 * identity.chin_length, -0.05
    phi = np.pi * (1 - np.arange(17) / 16)
    fullness = 0.8 / identity.cheek_fullness
    cos = np.cos(phi)
    p[0:17, 0] = jw * np.sign(cos) * np.abs(cos) ** 0.85   # round, full cheeks
    p[0:17, 1] = y0 + (yc - y0) * np.sin(phi) ** fullness
    return p


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
    """Landmarks (68, 2) of ``neutral`` moved by AU ``intensities`` (0-5 each)."""
    fractions = np.array([min(max(float(intensities.get(au, 0.0)), 0.0), MAX_INTENSITY)
                          for au in PHANTOM_AUS]) / MAX_INTENSITY
    move = np.tensordot(fractions, DENSE_MOVES, axes=1)            # (68, 2)
    move[:, 0] *= np.sign(neutral[:, 0]) * (np.abs(neutral[:, 0]) > 1e-9)
    points = neutral + move
    closure = EYE_CLOSURE * fractions[PHANTOM_AUS.index("AU43")]
    points[UPPER_LIDS] += closure * (points[LOWER_LIDS] - points[UPPER_LIDS])
    return points
