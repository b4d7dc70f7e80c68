"""Reading images and videos; every bad input becomes an error Frame, not an exception."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from auengine.errors import InputError
from auengine.io.media import expand_inputs, iter_frames, read_image


def _frames(path, **kwargs):
    return list(iter_frames(path, **kwargs))


def test_png_with_alpha_and_gray_become_rgb(tmp_path):
    rgba = np.zeros((8, 9, 4), np.uint8)
    rgba[..., 2] = 200                      # red in BGRA
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    cv2.imwrite(str(tmp_path / "g.png"), np.full((5, 6), 77, np.uint8))
    assert read_image(tmp_path / "a.png").shape == (8, 9, 3) and read_image(tmp_path / "a.png")[0, 0, 0] == 200
    assert read_image(tmp_path / "g.png").shape == (5, 6, 3)


@pytest.mark.parametrize("name, content, reason", [
    ("missing.jpg", None, "file not found"),
    ("corrupt.jpg", b"\xff\xd8\xff\xe0 this is not really a jpeg", "cannot decode image"),
    ("empty.png", b"", "cannot decode image"),
    ("notes.txt", b"hello", "unsupported file type '.txt'"),
    ("empty.mp4", b"", "empty video file"),
    ("garbage.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(200), "cannot open video"),
])
def test_bad_inputs_yield_one_error_frame(tmp_path, name, content, reason):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    frames = _frames(path)
    assert len(frames) == 1 and frames[0].image is None
    assert reason in frames[0].error and name in frames[0].error


def _video(path, n=20, fps=10):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (32, 24))
    for i in range(n):
        writer.write(np.full((24, 32, 3), i * 10, np.uint8))
    writer.release()
    return path


def test_video_sampling_every_and_fps(tmp_path):
    path = _video(tmp_path / "v.mp4")
    frames = _frames(path, every=5)
    assert [f.frame for f in frames] == [0, 5, 10, 15]
    assert frames[1].time_s == pytest.approx(0.5) and frames[0].image.shape == (24, 32, 3)
    assert [f.frame for f in _frames(path, fps=2)] == [0, 5, 10, 15]


def test_truncated_video_is_reported(tmp_path):
    data = _video(tmp_path / "full.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    frames = _frames(cut)
    assert frames[-1].error is not None and "cut.mp4" in frames[-1].error


def test_folders_expand_to_media_sorted(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ["b.jpg", "a.png", "sub/c.mp4", "skip.txt"]:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in expand_inputs([tmp_path])] == ["a.png", "b.jpg", "c.mp4"]


def test_read_image_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="nothere.jpg: file not found"):
        read_image(tmp_path / "nothere.jpg")
