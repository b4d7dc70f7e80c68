"""`auengine monitor`: watch a camera, stream or file; alarms as JSON lines (thin layer)."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

from . import options


def cmd_monitor(args: argparse.Namespace) -> int:
    """Monitor SOURCE with a bundle until it ends or SIGINT/SIGTERM."""
    from ..errors import InputError
    from ..monitor.alarm import AlarmConfig
    from ..monitor.run import Monitor, MonitorOptions

    alarm = AlarmConfig(threshold=args.threshold, min_duration_s=args.min_duration, hysteresis=args.hysteresis,
                        clear_s=args.clear, cooldown_s=args.cooldown, missing_s=args.missing)
    options = MonitorOptions(
        pace="fast" if args.fast else "realtime", loop=args.loop, alarm=alarm, smooth_s=args.smooth,
        warmup_s=args.warmup, neutral_window_s=args.neutral_window,
        stall_s=args.stall, detect_every=args.detect_every, background_detect=False if args.sync_detect else None,
        detector=args.detector, landmarks=args.landmarks,
        report_every_s=args.report_every, max_seconds=args.max_seconds,
        log_max_bytes=int(args.log_max_mb * 1_000_000), log_keep=args.log_keep,
        log_max_age_s=args.log_max_hours * 3600 if args.log_max_hours else None)
    out = Path(args.out or f"monitor_{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}")
    sender = None
    if args.serve:
        from ..monitor.live import LiveSender

        token = None
        if args.token_file:
            path = Path(args.token_file)
            if not path.is_file():
                raise InputError(f"{path}: token file not found (--token-file: a file holding the app's API token)")
            token = path.read_text().strip()
        sender = LiveSender(args.serve, args.bed, session=out.name, token=token)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        monitor = Monitor(args.source, args.bundle, out, options, sender=sender,
                          echo=lambda line: print(line, flush=True))
    except BaseException:
        if sender is not None:
            sender.close(drain_s=0)
        raise
    if monitor.synthetic:
        print(f"auengine monitor: warning: bundle {args.bundle} was trained on synthetic data (the phantom); "
              "its alarms are not for clinical use", file=sys.stderr)
    summary = monitor.run(stop)
    print(f"auengine monitor: {summary['frames_scored']} frames scored, {summary['frames_dropped']} dropped, "
          f"{summary['pain_alarms']} pain alarms; {out}/events.jsonl, timeline.csv, session.json", file=sys.stderr)
    return 0 if summary["frames_scored"] else 1


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Register `monitor` on the subcommand parser."""
    mo = sub.add_parser("monitor", parents=[common], help="watch a camera, stream or video file; raise pain alarms")
    mo.add_argument("source", help="camera index (0) or device (/dev/video0), stream URL (rtsp://, http://) "
                                   "or video file")
    mo.add_argument("--bundle", required=True, help="model bundle folder (auengine fit / demo)")
    mo.add_argument("--out", help="output folder (default monitor_<UTC time>); must not hold a session already")
    pace = mo.add_mutually_exclusive_group()
    pace.add_argument("--realtime", action="store_true", help="files: play at their frame rate (default)")
    pace.add_argument("--fast", action="store_true", help="files: every frame, as fast as possible (tests)")
    mo.add_argument("--loop", action="store_true", help="files: replay from the start at the end")
    mo.add_argument("--serve", metavar="URL", help="review app base URL: stream events to the bed's live page")
    mo.add_argument("--bed", default="bed1", help="bed id on the live page (default bed1)")
    mo.add_argument("--token-file", help="file holding the app's API token (sent as a Bearer token)")
    mo.add_argument("--threshold", type=float, help="pain threshold (default: the scale's first pain edge)")
    mo.add_argument("--min-duration", type=float, default=3.0, help="seconds above threshold to raise (default 3)")
    mo.add_argument("--hysteresis", type=float, default=0.5, help="clears below threshold minus this (default 0.5)")
    mo.add_argument("--clear", type=float, default=2.0, help="seconds below that to clear (default 2)")
    mo.add_argument("--cooldown", type=float, default=30.0, help="seconds after clearing with no new alarm (30)")
    mo.add_argument("--missing", type=float, default=2.0, help="seconds without a good face -> indeterminate (2)")
    mo.add_argument("--smooth", type=float, default=1.0, help="trailing smoothing window in seconds (default 1)")
    mo.add_argument("--warmup", type=float, default=5.0, help="seconds of face to calibrate the neutral (default 5)")
    mo.add_argument("--neutral-window", type=float, default=300.0, help="seconds the neutral remembers (300)")
    mo.add_argument("--stall", type=float, default=2.0, help="seconds without a frame -> stream stalled (2)")
    mo.add_argument("--max-seconds", type=float, help="stop after this many seconds of stream")
    mo.add_argument("--report-every", type=float, default=60.0, help="status line every N seconds (default 60)")
    mo.add_argument("--log-max-mb", type=float, default=5.0, help="rotate a log file at this size (default 5 MB)")
    mo.add_argument("--log-keep", type=int, default=5, help="rotated files kept per log (default 5)")
    mo.add_argument("--log-max-hours", type=float, help="also rotate a log file at this age")
    mo.add_argument("--detect-every", type=int, default=30, help="detector every N frames, tracking between (30)")
    mo.add_argument("--sync-detect", action="store_true",
                    help="run the face detector inside the frame step as `score` does (default: in a thread for real-time sources)")
    options.add_face_options(mo)
    mo.set_defaults(func=cmd_monitor)
