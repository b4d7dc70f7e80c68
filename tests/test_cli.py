"""`auengine extract` end to end on real photos and videos, and every bad input."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from auengine.cli import main
from auengine.io.media import output_name
from auengine.io.tables import LANDMARK_COLUMNS


def test_extract_single_face_offline(tmp_path, media_dir, monkeypatch):
    monkeypatch.setenv("AUENGINE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    code = main(["extract", str(media_dir / "single_face.jpg"), "--out", str(tmp_path / "out"), "--overlay"])
    assert code == 0
    table = pd.read_csv(tmp_path / "out" / "landmarks.csv")
    assert len(table) == 1 and table.loc[0, "success"] == 1 and table.loc[0, "face_id"] == 0
    assert table.loc[0, "detector"] == "mtcnn" and table.loc[0, "landmarker"] == "dlib"
    assert np.isfinite(table[LANDMARK_COLUMNS].to_numpy()).all() and len(LANDMARK_COLUMNS) == 136
    overlays = list((tmp_path / "out" / "overlays").glob("*.png"))
    name = output_name(media_dir / "single_face.jpg")
    assert name.startswith("single_face-") and [p.name for p in overlays] == [f"{name}_f000000_face0.png"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["faces"] == 1 and summary["problems"] == 0


def test_extract_all_faces_and_parquet(tmp_path, media_dir):
    code = main(["extract", str(media_dir / "multi_face.jpg"), "--out", str(tmp_path), "--all-faces",
                 "--format", "parquet"])
    table = pd.read_parquet(tmp_path / "landmarks.parquet")
    assert code == 0 and len(table) >= 3
    assert list(table["face_id"]) == list(range(len(table)))
    areas = (table.bbox_x1 - table.bbox_x0) * (table.bbox_y1 - table.bbox_y0)
    assert list(areas) == sorted(areas, reverse=True)


def test_extract_video_every_nth_frame(tmp_path, face_video):
    assert main(["extract", str(face_video), "--out", str(tmp_path), "--every", "4"]) == 0
    table = pd.read_csv(tmp_path / "landmarks.csv")
    assert list(table["frame"]) == [0, 4, 8] and table["success"].all()
    assert list(table["time_s"]) == pytest.approx([0.0, 0.4, 0.8])


def test_bad_inputs_batch_goes_on(tmp_path, media_dir, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "corrupt.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (bad / "notes.txt").write_text("hello")
    (bad / "empty.mp4").write_bytes(b"")
    good = tmp_path / "good.jpg"
    shutil.copy(media_dir / "single_face.jpg", good)
    inputs = [str(bad / n) for n in ["corrupt.jpg", "notes.txt", "empty.mp4"]] + [
        str(tmp_path / "missing.jpg"), str(media_dir / "free-mountain-vector-01.jpg"), str(good)]
    code = main(["extract", *inputs, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0                                        # something was processed
    table = pd.read_csv(tmp_path / "out" / "landmarks.csv", keep_default_na=False)
    assert list(table["success"]) == [0, 0, 0, 0, 0, 1]
    reasons = list(table["reason"])
    for expected in ["cannot decode image", "unsupported file type", "empty video",
                     "file not found", "no face detected"]:
        assert sum(expected in r for r in reasons) == 1, expected
        assert sum(expected in line for line in err.splitlines()) == 1, expected
    assert "Traceback" not in err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["faces"] == 1 and summary["problems"] == 5 and len(summary["failures"]) == 5


def test_nothing_processed_exits_non_zero(tmp_path):
    (tmp_path / "x.txt").write_text("no")
    assert main(["extract", str(tmp_path / "x.txt"), str(tmp_path / "gone.jpg"), "--out", str(tmp_path / "o")]) == 1


def test_errors_are_one_line_without_debug(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AUENGINE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    code = main(["extract", "x.jpg", "--out", str(tmp_path), "--detector", "face-alignment",
                 "--landmarks", "dlib"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("auengine: error:") and "s3fd-619a316812.pth" in err[0]


def test_unknown_backend_is_rejected_by_the_parser(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["extract", "x.jpg", "--out", str(tmp_path), "--detector", "yolo"])
    assert "mtcnn" in capsys.readouterr().err


def test_console_script_runs(tmp_path):
    result = subprocess.run([sys.executable, "-m", "auengine.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("auengine ")


def test_import_has_no_side_effects():
    code = ("import os, sys; before = dict(os.environ); import auengine; "
            "assert dict(os.environ) == before; "
            "assert not {'torch', 'feat', 'facenet_pytorch', 'dlib', 'face_alignment'} & set(sys.modules), "
            "sorted({'torch', 'feat', 'dlib'} & set(sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("position", ["before", "after"])
def test_debug_shows_the_traceback_in_either_position(tmp_path, monkeypatch, position):
    from auengine.errors import WeightsNotFoundError

    monkeypatch.setenv("AUENGINE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    command = ["extract", "x.jpg", "--out", str(tmp_path), "--detector", "face-alignment"]
    argv = ["--debug", *command] if position == "before" else [*command, "--debug"]
    with pytest.raises(WeightsNotFoundError):
        main(argv)
