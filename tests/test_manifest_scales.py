"""Manifest validation (every bad row at once), level derivation, subject-wise splits, scales."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auengine.errors import InputError
from auengine.io.manifest import ManifestError, read_manifest, subject_folds, subject_split
from auengine.scales import get_scale


def test_flacc_bins_follow_table_ii():
    flacc = get_scale("FLACC")
    np.testing.assert_array_equal(flacc.level([0, 2.49, 2.5, 4.9, 5, 7.49, 7.5, 10]), [0, 0, 1, 1, 2, 2, 3, 3])
    assert flacc.n_levels == 4 and flacc.level_names[-1] == "severe"
    np.testing.assert_array_equal(get_scale("nips").level([0, 2, 3, 4, 5, 7]), [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(get_scale("binary").level([0, 1]), [0, 1])
    with pytest.raises(InputError, match="flacc, nips"):
        get_scale("vas")
    with pytest.raises(InputError, match=r"\[0, 10\]"):
        flacc.level([11])


@pytest.fixture
def images(tmp_path):
    for name in ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg", "f.jpg"]:
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def _write(folder, text):
    path = folder / "manifest.csv"
    path.write_text(text)
    return path


def test_every_bad_row_reported_at_once(images):
    path = _write(images, "path,subject,scale,score\n"
                          "a.jpg,s1,flacc,3\n"        # line 2 fine
                          "missing.jpg,s1,flacc,3\n"  # line 3 missing file
                          "b.jpg,s2,vas,3\n"          # line 4 unknown scale
                          "c.jpg,s2,flacc,12\n"       # line 5 out of range
                          "d.jpg,,flacc,1\n"          # line 6 missing subject
                          "a.jpg,s3,flacc,1\n"        # line 7 duplicated path
                          "e.jpg,s3,nips,\n")         # line 8 missing score
    with pytest.raises(ManifestError) as info:
        read_manifest(path)
    lines = [line for line, _ in info.value.problems]
    assert lines == [3, 4, 5, 6, 7, 8]
    message = str(info.value)
    for text in ["file not found: missing.jpg", "unknown scale 'vas'", "score 12 out of range",
                 "missing subject", "duplicated path 'a.jpg'", "missing score"]:
        assert text in message
    assert str(path) in message


def test_levels_derived_or_kept(images):
    path = _write(images, "path,subject,scale,score,level\n"
                          "a.jpg,s1,flacc,6,\nb.jpg,s1,nips,4,\nc.jpg,s2,binary,1,\nd.jpg,s2,,,2\n")
    table = read_manifest(path)
    assert list(table["level"]) == [2, 1, 1, 2]
    assert table["abspath"].iloc[0] == str((images / "a.jpg").resolve())


def test_missing_columns_are_named(images):
    with pytest.raises(InputError, match="subject"):
        read_manifest(_write(images, "path,scale,score\na.jpg,flacc,1\n"))
    with pytest.raises(InputError, match="level"):
        read_manifest(_write(images, "path,subject\na.jpg,s1\n"))


def test_subject_splits_never_share_a_subject():
    table = pd.DataFrame({"subject": [f"s{i % 7}" for i in range(70)]})
    folds = subject_folds(table, 5)
    assert len(folds) == 5
    seen = []
    for train, test in folds:
        assert not set(table.subject[train]) & set(table.subject[test])
        seen.extend(test)
    assert sorted(seen) == list(range(70))
    train, test = subject_split(table, 0.3, seed=1)
    assert not set(table.subject[train]) & set(table.subject[test]) and len(train) + len(test) == 70
    with pytest.raises(InputError, match="at least 5 subjects"):
        subject_folds(table.iloc[:3], 5)


def test_frames_from_scored_video_time_points(tmp_path):
    import cv2

    from auengine.cli import main

    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (32, 24))
    for i in range(40):
        writer.write(np.full((24, 32, 3), i * 5, np.uint8))
    writer.release()
    (tmp_path / "scores.csv").write_text("video,subject,time_s,scale,score\n"
                                         "clip.mp4,baby1,0.5,flacc,1\nclip.mp4,baby1,2.0,flacc,8\n"
                                         "clip.mp4,baby1,3.4,flacc,4\n")
    assert main(["frames", str(tmp_path / "scores.csv"), "--out", str(tmp_path / "out"), "--frames", "6"]) == 0
    table = read_manifest(tmp_path / "out" / "manifest.csv")
    assert len(table) == 6 + 6 + 6                      # the last time point ends on the video's last frame
    assert list(table["frame"][:6]) == [5, 6, 7, 8, 9, 10]
    assert list(table["level"].unique()) == [0, 3, 1]
    assert len(list((tmp_path / "out" / "frames").iterdir())) == 18
