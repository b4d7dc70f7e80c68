"""Aligned crops: landmarks mapped in, affine kept, round trip back to the image."""
from __future__ import annotations

import numpy as np
import pytest

from auengine.faces.crop import align_crop, apply_affine


@pytest.mark.parametrize("align", [True, False])
def test_crop_round_trip_within_a_hundredth_pixel(random_face, align):
    image = np.zeros((300, 260, 3), np.uint8)
    crop = align_crop(image, random_face, 224, align=align)
    assert crop.image.shape == (224, 224, 3) and crop.affine.shape == (2, 3)
    np.testing.assert_allclose(crop.to_image(crop.landmarks), random_face, atol=0.01)
    assert (crop.landmarks >= 0).all() and (crop.landmarks < 224).all()


def test_aligned_crop_levels_the_eyes(random_face):
    theta = np.radians(25)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    tilted = (random_face - 110) @ rot.T + 150
    crop = align_crop(np.zeros((300, 300, 3), np.uint8), tilted, 224)
    eye_line = crop.landmarks[42:48].mean(0) - crop.landmarks[36:42].mean(0)
    assert abs(eye_line[1]) < 1e-6 and eye_line[0] > 0


def test_crop_pixels_follow_the_landmarks(random_face):
    """A bright dot drawn at a landmark lands where the crop says that landmark is."""
    image = np.zeros((300, 300, 3), np.uint8)
    x, y = np.round(random_face[30]).astype(int)
    image[y - 1:y + 2, x - 1:x + 2] = 255
    snapped = random_face.copy()
    snapped[30] = [x, y]
    crop = align_crop(image, snapped, 224)
    ys, xs = np.nonzero(crop.image[..., 0] > 60)
    weights = crop.image[ys, xs, 0].astype(float)
    found = np.array([np.average(xs, weights=weights), np.average(ys, weights=weights)])
    np.testing.assert_allclose(found, crop.landmarks[30], atol=0.75)


def test_apply_affine_identity():
    points = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(apply_affine(np.array([[1.0, 0, 0], [0, 1, 0]]), points), points)
