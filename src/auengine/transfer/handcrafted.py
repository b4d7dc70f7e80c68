"""Handcrafted features: optical strain from video (Zamzmi et al. [32]), LBP and HOG (scikit-image).

Optical strain: dense optical flow (Farneback, OpenCV) between consecutive face crops;
the strain tensor of the flow field (u, v),
    e_xx = du/dx, e_yy = dv/dy, e_xy = (du/dy + dv/dx) / 2,
has magnitude sqrt(e_xx^2 + e_yy^2 + 2 e_xy^2) per pixel. Its mean over the whole face
and over four quadrants (upper/lower x left/right) gives five strain curves along the
video; peaks of each curve are summarised by count, mean, max and std.
"""
from __future__ import annotations

import cv2
import numpy as np

REGIONS = ("face", "upper_left", "upper_right", "lower_left", "lower_right")
PEAK_STATS = ("n_peaks", "peak_mean", "peak_max", "peak_std")
MIN_STRAIN = 1e-6      # strain below this is numerical noise of a still face


def strain_magnitude(flow: np.ndarray) -> np.ndarray:
    """Optical strain magnitude (H, W) of a flow field (H, W, 2) in px/frame (central differences)."""
    du_dy, du_dx = np.gradient(flow[..., 0])
    dv_dy, dv_dx = np.gradient(flow[..., 1])
    shear = 0.5 * (du_dy + dv_dx)
    return np.sqrt(du_dx ** 2 + dv_dy ** 2 + 2 * shear ** 2)


def dense_flow(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Farneback optical flow (H, W, 2) between two grey uint8 frames of the same size."""
    return cv2.calcOpticalFlowFarneback(previous, current, None, pyr_scale=0.5, levels=3, winsize=15,
                                        iterations=3, poly_n=5, poly_sigma=1.2, flags=0)


def region_means(strain: np.ndarray) -> np.ndarray:
    """Mean strain over the whole face and the four quadrants, shape (5,), in REGIONS order."""
    h, w = strain.shape
    top, bottom, left, right = slice(0, h // 2), slice(h // 2, h), slice(0, w // 2), slice(w // 2, w)
    return np.array([strain.mean(), strain[top, left].mean(), strain[top, right].mean(),
                     strain[bottom, left].mean(), strain[bottom, right].mean()])


def strain_curves(frames: list[np.ndarray]) -> np.ndarray:
    """Strain per region along a sequence of grey face crops: shape (T - 1, 5)."""
    if len(frames) < 2:
        return np.zeros((0, len(REGIONS)))
    return np.array([region_means(strain_magnitude(dense_flow(a, b))) for a, b in zip(frames[:-1], frames[1:])])


def peak_statistics(curve: np.ndarray) -> np.ndarray:
    """Count, mean, max and std of a curve's peaks, shape (4,).

    Peaks are the interior local maxima above the median; a curve without any (too short,
    or monotone) has its maximum as its one peak; a curve below MIN_STRAIN gives zeros.
    """
    inner = np.zeros(0, dtype=bool)
    if len(curve) >= 3:
        inner = (curve[1:-1] > curve[:-2]) & (curve[1:-1] >= curve[2:]) & (curve[1:-1] > np.median(curve))
    peaks = curve[1:-1][inner] if inner.any() else curve[np.argmax(curve):][:1] if len(curve) else curve
    if not len(peaks) or not np.any(peaks > MIN_STRAIN):
        return np.zeros(len(PEAK_STATS))
    return np.array([len(peaks), peaks.mean(), peaks.max(), peaks.std()])


def strain_features(frames: list[np.ndarray]) -> np.ndarray:
    """Peak statistics of the five strain curves of a sequence: shape (20,), names from :func:`strain_names`."""
    curves = strain_curves(frames)
    return np.concatenate([peak_statistics(curves[:, r]) for r in range(len(REGIONS))]) if len(curves) \
        else np.zeros(len(REGIONS) * len(PEAK_STATS))


def strain_names() -> list[str]:
    """Column names of :func:`strain_features`."""
    return [f"strain_{region}_{stat}" for region in REGIONS for stat in PEAK_STATS]


def lbp_histogram(grey: np.ndarray, points: int = 8, radius: float = 1.0, grid: int = 4) -> np.ndarray:
    """Uniform LBP histograms on a grid x grid partition, concatenated: shape (grid^2 (points + 2),)."""
    from skimage.feature import local_binary_pattern

    codes = local_binary_pattern(grey, points, radius, method="uniform")
    h, w = codes.shape
    hists = []
    for i in range(grid):
        for j in range(grid):
            cell = codes[i * h // grid:(i + 1) * h // grid, j * w // grid:(j + 1) * w // grid]
            hist, _ = np.histogram(cell, bins=points + 2, range=(0, points + 2))
            hists.append(hist / max(cell.size, 1))
    return np.concatenate(hists)


def hog_features(grey: np.ndarray, size: int = 64) -> np.ndarray:
    """HOG of the crop resized to size x size (9 orientations, 8 px cells, 2 x 2 blocks)."""
    from skimage.feature import hog

    small = cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA)
    return hog(small, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), feature_vector=True)
