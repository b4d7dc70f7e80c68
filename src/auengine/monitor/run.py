"""The monitoring loop: source -> live scorer -> alarm -> events, timeline, live page.

Outputs in DIR: ``events.jsonl`` (state changes, source notes, per-minute status; the
same JSON lines go to ``echo``, i.e. stdout), ``timeline.csv`` (one row per second of
stream; both rotated, see logs.py) and ``session.json`` (settings, neutral, counts;
written atomically at start and at the end). The loop ends when the file ends, when
``stop`` is set (the CLI sets it on SIGINT/SIGTERM) or after ``max_seconds`` of stream.
"""
from __future__ import annotations

import dataclasses
import math
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..bundle import load_bundle
from ..errors import InputError
from ..io.tables import atomic_write_json
from .alarm import AlarmConfig, AlarmMachine, Observation, Transition
from .logs import CsvLog, JsonLines
from .scorer import BackgroundRedetect, InfantShare, LiveScorer, OnlineNeutral
from .source import FrameSource, source_kind

SESSION = "session.json"
TIMELINE_COLUMNS = ["time", "t_s", "frames", "face_frames", "dropped", "intensity_mean", "intensity_max",
                    "intensity_smooth", "state", "calibrating", "latency_ms_p95", "infant_share"]


@dataclass(frozen=True)
class MonitorOptions:
    """How to monitor (everything but the source, bundle and folder); durations in seconds."""

    pace: str = "realtime"                 # files: "realtime" or "fast"
    loop: bool = False                     # files: replay forever
    alarm: AlarmConfig = AlarmConfig()     # threshold None: the scale's first pain edge
    smooth_s: float = 1.0
    warmup_s: float = 5.0
    neutral_window_s: float = 300.0
    stall_s: float = 2.0                   # no frame this long: the stream counts as stalled
    detect_every: int = 30
    background_detect: bool | None = None  # re-detect in a thread; None: for real-time sources, not --fast
    detector: str = "auto"
    landmarks: str = "dlib"
    report_every_s: float = 60.0
    max_seconds: float | None = None       # stop after this much stream time
    log_max_bytes: int = 5_000_000
    log_keep: int = 5
    log_max_age_s: float | None = None


def now_iso() -> str:
    """The wall clock, UTC, ISO 8601 with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class _Second:
    """Accumulates the frames of one second of stream time."""

    def __init__(self, second: int) -> None:
        self.second, self.frames, self.faces, self.values, self.latencies, self.smooth = second, 0, 0, [], [], math.nan
        self.calibrating: bool | None = None         # at the second's last frame
        self.infant: list[bool] = []                  # per face frame: looks like an infant's


def warm_up(detector, landmarker, shape: tuple[int, int, int] = (360, 640, 3)) -> None:
    """Run the detector and the landmark model once on a blank frame (their first call is slow: about 100 frames
    of a real-time stream would otherwise be dropped while it runs)."""
    from ..faces.detect import FaceBox

    blank = np.zeros(shape, np.uint8)
    detector.detect(blank)
    landmarker.predict(blank, [FaceBox(shape[1] / 3, shape[0] / 4, shape[1] / 2, shape[0] * 3 / 4, 1.0)])


class Monitor:
    """One monitoring session; call :meth:`run` once."""

    def __init__(self, source: str, bundle_dir: str | Path, out: str | Path, options: MonitorOptions = MonitorOptions(),
                 *, sender=None, echo=print, backends=None, on_frame=None) -> None:
        from ..pipeline import build_backends
        from ..scoring.stream import FaceTracker

        self.out = Path(out)
        if (self.out / SESSION).exists():
            raise InputError(f"{self.out}: already holds a monitoring session ({SESSION}); give a new --out folder")
        if source_kind(str(source)) == "file" and not Path(source).is_file():     # before loading any model
            raise InputError(f"{source}: file not found (give a video file, a camera index or a stream URL)")
        self.options, self.sender, self.echo, self.on_frame = options, sender, echo, on_frame
        self.bundle_dir = Path(bundle_dir)
        bundle = load_bundle(bundle_dir)
        self.scale = bundle.scale
        self.alarm_config = options.alarm if options.alarm.threshold is not None else \
            dataclasses.replace(options.alarm, threshold=float(self.scale.edges[0]))
        self.machine = AlarmMachine(self.alarm_config)
        detector, landmarker = backends or build_backends(options.detector, options.landmarks)
        self.neutral = OnlineNeutral(window_s=options.neutral_window_s, warmup_s=options.warmup_s)
        realtime = options.pace == "realtime" or source_kind(str(source)) != "file"
        background = options.background_detect if options.background_detect is not None else realtime
        tracker = (BackgroundRedetect if background else FaceTracker)(detector, landmarker, options.detect_every)
        self.scorer = LiveScorer(bundle, tracker, self.neutral, options.smooth_s)
        warm_up(detector, landmarker)                 # the models' slow first calls, before the stream's clock runs
        self.source = FrameSource(source, options.pace, options.loop)
        self.infant_check = InfantShare()
        self._infant_verdict: bool | None = None
        self.synthetic = bundle.synthetic
        logs = {"max_bytes": options.log_max_bytes, "keep": options.log_keep, "max_age_s": options.log_max_age_s}
        self.out.mkdir(parents=True, exist_ok=True)
        self.events = JsonLines(self.out / "events.jsonl", **logs)
        self.timeline = CsvLog(self.out / "timeline.csv", TIMELINE_COLUMNS, **logs)
        self.started = now_iso()
        self.frames = self.face_frames = self.transitions = self.pain_alarms = 0
        self.latencies: list[float] = []            # seconds, the last 10 000 frames (bounded)
        self._second: _Second | None = None
        self._minute = {"frames": 0, "dropped": 0, "latencies": [], "since": time.monotonic()}
        self._dropped_seen = 0

    # -- records ----------------------------------------------------------------------------------
    def _record(self, kind: str, t_s: float, reason: str, intensity: float = math.nan, **extra) -> None:
        record = {"time": now_iso(), "t_s": round(t_s, 3), "event": kind, "state": self.machine.state,
                  "intensity": None if not math.isfinite(intensity) else round(intensity, 3), "reason": reason, **extra}
        self.echo(self.events.log(record))
        if self.sender is not None:
            self.sender.send({"kind": "event", **record}, urgent=True)

    def _transition(self, change: Transition | None) -> None:
        if change is None:
            return
        self.transitions += 1
        self.pain_alarms += change.state == "pain"
        self._record("state", change.t_s, change.reason, change.intensity, previous=change.previous)

    def _write_session(self, ended: str | None = None) -> None:
        dropped = self.source.dropped
        session = {"source": self.source.source, "source_kind": self.source.kind, "fps": self.source.fps,
                   "pace": self.source.pace, "bundle": str(self.bundle_dir), "bundle_synthetic": self.synthetic,
                   "scale": self.scale.name, "alarm": asdict(self.alarm_config),
                   "detector_in_background": isinstance(self.scorer.tracker, BackgroundRedetect),
                   "options": asdict(self.options),
                   "neutral": self.neutral.describe(), "infant_check": self.infant_check.describe(),
                   "started": self.started, "ended": ended, "frames_scored": self.frames,
                   "face_frames": self.face_frames, "frames_dropped": dropped, "reconnects": self.source.reconnects,
                   "transitions": self.transitions, "pain_alarms": self.pain_alarms, "state": self.machine.state,
                   "latency_ms": _percentiles(self.latencies),
                   "timeline_files": [p.name for p in self.timeline.files()],
                   "live": self.sender.stats() if self.sender is not None else None}
        atomic_write_json(self.out / SESSION, session)

    # -- per second / per minute -------------------------------------------------------------------
    def _roll(self, t_s: float) -> None:
        """Write the rows of every second before ``t_s`` that is complete."""
        second = int(math.floor(t_s))
        if self._second is None:
            self._second = _Second(second)
        while self._second.second < second:
            self._write_second(self._second)
            self._second = _Second(self._second.second + 1 if second - self._second.second < 5 else second)

    def _write_second(self, s: _Second) -> None:
        dropped = self.source.dropped - self._dropped_seen
        self._dropped_seen += dropped
        values = np.array(s.values, float)
        row = {"time": now_iso(), "t_s": s.second, "frames": s.frames, "face_frames": s.faces, "dropped": dropped,
               "intensity_mean": round(float(values.mean()), 3) if len(values) else math.nan,
               "intensity_max": round(float(values.max()), 3) if len(values) else math.nan,
               "intensity_smooth": round(s.smooth, 3) if math.isfinite(s.smooth) else math.nan,
               "state": self.machine.state,
               "calibrating": int(self.neutral.calibrating if s.calibrating is None else s.calibrating),
               "latency_ms_p95": round(1000 * float(np.percentile(s.latencies, 95)), 1) if s.latencies else math.nan,
               "infant_share": round(float(np.mean(s.infant)), 3) if s.infant else math.nan}
        self.timeline.log(row)
        if self.sender is not None:
            self.sender.send({"kind": "point", **row})

    def _report_minute(self, t_s: float, force: bool = False) -> None:
        m = self._minute
        elapsed = time.monotonic() - m["since"]
        if elapsed < self.options.report_every_s and not force:
            return
        dropped = self.source.dropped - m["dropped"]
        stats = _percentiles(m["latencies"])
        live = f"; live page: {self.sender.sent} sent, {self.sender.dropped} dropped" if self.sender else ""
        rate = m["frames"] / max(elapsed, 1e-9)
        self._record("status", t_s, f"{m['frames']} frames scored in {elapsed:.0f} s ({rate:.1f}/s), "
                                    f"{dropped} dropped, latency p50 {stats['p50']} ms p95 {stats['p95']} ms{live}",
                     frames=m["frames"], dropped=dropped, latency_ms=stats)
        self._minute = {"frames": 0, "dropped": self.source.dropped, "latencies": [], "since": time.monotonic()}

    def _notes(self, t_s: float) -> None:
        while self.source.notes:
            self._record("source", t_s, self.source.notes.popleft()[1])

    # -- the loop ----------------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> dict:
        """Monitor until the source ends, ``stop`` is set or ``max_seconds`` pass; returns the session summary."""
        stop = stop or threading.Event()
        self._write_session()
        self._record("start", 0.0, f"monitoring {self.source.source} ({self.source.kind}); neutral: "
                     f"{self.neutral.describe()['method']}, warm-up {self.options.warmup_s:g} s", threshold=
                     self.alarm_config.threshold, bundle_synthetic=self.synthetic)
        last_t, last_at, why = 0.0, time.monotonic(), "source ended"
        try:
            while not stop.is_set():
                frame = self.source.get(timeout=0.2)
                now = time.monotonic()
                if frame is None:
                    if self.source.ended:
                        break
                    t_s = last_t + (now - last_at)
                    self._notes(t_s)
                    if not self.source.connected or now - last_at >= self.options.stall_s:
                        note = "stream disconnected; reopening" if not self.source.connected \
                            else f"no frame for {now - last_at:.1f} s (stream stalled)"
                        self._transition(self.machine.update(Observation(t_s, stream_ok=False, note=note)))
                        self._roll(t_s)
                    self._report_minute(t_s)
                    continue
                self._notes(frame.t_s)
                score = self.scorer.step(frame.rgb(), frame.t_s)
                latency = time.monotonic() - frame.captured_at
                last_t, last_at = frame.t_s, now
                self._roll(frame.t_s)
                self._transition(self.machine.update(Observation(
                    frame.t_s, score.intensity_smooth, score.face, score.quality_ok, self.neutral.calibrating)))
                self._count(frame, score, latency)
                self._report_minute(frame.t_s)
                if self.options.max_seconds is not None and frame.t_s >= self.options.max_seconds:
                    why = f"max-seconds ({self.options.max_seconds:g} s of stream) reached"
                    break
        finally:
            self.source.close()
            if isinstance(self.scorer.tracker, BackgroundRedetect):
                self.scorer.tracker.close()
            self._finish(last_t, "stopped" if stop.is_set() else why)
        return dict(self.summary)

    def _count(self, frame, score, latency: float) -> None:
        s = self._second
        s.frames += 1
        s.faces += score.face
        s.latencies.append(latency)
        s.smooth = score.intensity_smooth
        s.calibrating = self.neutral.calibrating
        if math.isfinite(score.intensity):
            s.values.append(score.intensity)
        if math.isfinite(score.infant_prob):
            s.infant.append(score.infant_prob >= 0.5)
            self._check_infant(frame.t_s, score.infant_prob)
        self.frames += 1
        self.face_frames += score.face
        self._minute["frames"] += 1
        self._minute["latencies"].append(latency)
        self.latencies.append(latency)
        if len(self.latencies) > 10_000:
            del self.latencies[:5_000]
        if self.on_frame is not None:
            self.on_frame(frame, score, latency, self.machine.state)

    def _check_infant(self, t_s: float, infant_prob: float) -> None:
        """Say when the face starts or stops looking like an infant's (then its scores are not infant pain)."""
        self.infant_check.add(t_s, infant_prob)
        verdict = self.infant_check.looks_like_infant
        if verdict is None or verdict == self._infant_verdict:
            return
        share = self.infant_check.recent_share
        reason = (f"the face looks like an infant's ({share:.0%} of recent face frames)" if verdict else
                  f"the face does not look like an infant's ({share:.0%} of recent face frames do): "
                  "intensities are not infant pain scores")
        self._infant_verdict = verdict
        self._record("infant-check", t_s, reason, infant_share=round(share, 3), looks_like_infant=verdict)

    def _finish(self, t_s: float, why: str) -> None:
        self._notes(t_s)
        if self._second is not None and self._second.frames:
            self._write_second(self._second)
        self._report_minute(t_s, force=True)
        self._record("stop", t_s, why)
        self.summary = {"frames_scored": self.frames, "frames_dropped": self.source.dropped,
                        "pain_alarms": self.pain_alarms, "state": self.machine.state, "out": str(self.out)}
        if self.sender is not None:
            self.sender.close()
        self._write_session(ended=now_iso())
        self.events.close()
        self.timeline.close()


def _percentiles(latencies: list[float]) -> dict:
    if not latencies:
        return {"p50": None, "p95": None, "n": 0}
    values = 1000 * np.asarray(latencies)
    return {"p50": round(float(np.percentile(values, 50)), 1), "p95": round(float(np.percentile(values, 95)), 1),
            "n": len(values)}
