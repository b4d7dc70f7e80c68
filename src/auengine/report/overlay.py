"""Overlays: face box and landmarks on the frame; AU regions on the aligned crop."""
from __future__ import annotations

import cv2
import numpy as np

from ..au.rules import AURules
from ..faces.crop import Crop
from ..faces.detect import FaceBox

#: region colours (RGB) by facial zone, so a reader sees brows / eyes / nose / mouth at a glance
ZONE_COLOURS = {
    "brows": (255, 170, 0), "eyes": (0, 200, 255), "nose": (180, 90, 255), "mouth": (255, 60, 90),
}
AU_ZONES = {"AU1": "brows", "AU2": "brows", "AU4": "brows", "AU6": "eyes", "AU7": "eyes",
            "AU43": "eyes", "AU9": "nose", "AU10": "mouth", "AU12": "mouth", "AU20": "mouth",
            "AU25": "mouth", "AU26": "mouth", "AU27": "mouth"}
LANDMARK_COLOUR = (60, 255, 60)
BOX_COLOUR = (255, 255, 0)


def draw_landmarks(image: np.ndarray, landmarks: np.ndarray, box: FaceBox | None = None,
                   radius: int = 2) -> np.ndarray:
    """A copy of ``image`` (H, W, 3) with the face box and 68 landmarks (68, 2) drawn."""
    out = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 400))
    if box is not None:
        cv2.rectangle(out, (int(box.x0), int(box.y0)), (int(box.x1), int(box.y1)), BOX_COLOUR, thickness)
    for x, y in landmarks:
        cv2.circle(out, (int(round(x)), int(round(y))), max(radius, thickness), LANDMARK_COLOUR, -1)
    return out


def draw_au_regions(image: np.ndarray, landmarks: np.ndarray, rules: AURules,
                    label: bool = True) -> np.ndarray:
    """A copy of a face crop (S, S, 3) with every AU region of ``rules`` drawn and labelled."""
    out = image.copy()
    scale = image.shape[1] / 224
    labels: dict[tuple[int, int, int, int], list[str]] = {}
    for au, boxes in rules.boxes(landmarks, image.shape[:2]).items():
        for box in boxes:
            labels.setdefault(box, []).append(au)  # AUs sharing a region get one joint label
    for (x0, y0, x1, y1), aus in labels.items():
        colour = ZONE_COLOURS.get(AU_ZONES.get(aus[0], ""), (255, 255, 255))
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), colour, 1)
        if label:
            cv2.putText(out, "/".join(aus), (x0, max(y0 - 2, 8)), cv2.FONT_HERSHEY_SIMPLEX, 0.3 * scale,
                        colour, 1, cv2.LINE_AA)
    return out


def face_overlay(frame: np.ndarray, box: FaceBox | None, landmarks: np.ndarray, crop: Crop,
                 rules: AURules) -> np.ndarray:
    """Side-by-side panel: frame with box + landmarks | crop (S x S) with AU regions.

    The frame is resized to the crop's height S; the result has shape (S, ?, 3).
    """
    height = crop.image.shape[0]
    left = draw_landmarks(frame, landmarks, box)
    left = cv2.resize(left, (max(1, round(left.shape[1] * height / left.shape[0])), height),
                      interpolation=cv2.INTER_AREA)
    right = draw_au_regions(draw_landmarks(crop.image, crop.landmarks, radius=1), crop.landmarks, rules)
    return np.hstack([left, right])


def write_png(path, image: np.ndarray) -> None:
    """Write an RGB image (H, W, 3) as PNG, atomically."""
    from ..io.tables import atomic_write_bytes

    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"{path}: PNG encoding failed")
    atomic_write_bytes(path, data.tobytes())
