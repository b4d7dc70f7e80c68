"""Latency of `auengine serve` pages and API (p50 / p95) with 20 concurrent clients while a job scores.

Data: a phantom (synthetic faces, generated here) and a bundle fitted on it; one short recording
scored first (so pages have content), then a long one kept scoring during the measurement.
Everything binds to 127.0.0.1; every loop is bounded (--rounds per client, --timeout overall).
Reuses the test harness in tests/app_support.py (server subprocess, phantom bundle).

    PYTHONPATH=src .venv/bin/python scripts/bench_app.py [--clients 20] [--rounds 10]
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import httpx  # noqa: E402

from app_support import (PASSWORD, Server, long_video, make_bundle, make_phantom, prepare_data,  # noqa: E402
                         wait_for)

#: a page or API call slower than this at p95 counts as too slow for a ward (ratio printed)
TARGET_P95_S = 0.5


def _login(client: httpx.Client, name: str) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    done = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf})
    done.raise_for_status()


def _client(url: str, token: str, rid: int, rounds: int, deadline: float, timings, errors, lock, name) -> None:
    with httpx.Client(base_url=url, timeout=30, follow_redirects=True) as client:
        _login(client, name)
        api = {"Authorization": f"Bearer {token}"}
        calls = [("page /recordings", "/recordings", {}), ("page /recordings/{id}", f"/recordings/{rid}", {}),
                 ("page /queue", "/queue", {}), ("api GET /api/recordings", "/api/recordings", api),
                 ("api GET /api/recordings/{id}", f"/api/recordings/{rid}", api),
                 ("api GET /api/recordings/{id}/epochs", f"/api/recordings/{rid}/epochs", api)]
        for _ in range(rounds):
            for label, path, headers in calls:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                response = client.get(path, headers=headers)
                elapsed = time.perf_counter() - started
                with lock:
                    timings[label].append(elapsed)
                    if response.status_code != 200:
                        errors.append(f"{label}: {response.status_code}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10, help="rounds of 6 requests per client")
    parser.add_argument("--timeout", type=float, default=600, help="stop measuring after this many seconds")
    parser.add_argument("--workers", type=int, default=1, help="scoring workers of the server")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench_app_"))
    table = make_phantom(root / "phantom")
    bundle = make_bundle(root / "bundle", table)
    videos = sorted((root / "phantom" / "videos").glob("*.mp4"))
    tokens = prepare_data(root / "data", bundle)
    server = Server(root / "data", workers=args.workers)
    try:
        api = {"Authorization": f"Bearer {tokens['nurse']}"}

        def upload(video: Path) -> int:
            response = httpx.post(server.url + "/api/recordings", headers=api, timeout=120,
                                  data={"patient": "BENCH", "scale": "flacc", "model": "phantom"},
                                  files={"file": (video.name, video.read_bytes(), "video/mp4")})
            response.raise_for_status()
            return response.json()["id"]

        def status(rid: int) -> dict:
            return httpx.get(f"{server.url}/api/recordings/{rid}", headers=api, timeout=30).json()

        done = upload(videos[0])
        wait_for(lambda: status(done)["status"] == "done", 600, what="the first recording scored")
        busy = upload(long_video(videos[1], root / "long.mp4", repeats=40))
        wait_for(lambda: status(busy)["frames_done"] > 0, 600, what="the long job running")
        before = status(busy)["frames_done"]
        timings, errors, lock = defaultdict(list), [], threading.Lock()
        deadline = time.monotonic() + args.timeout
        started = time.perf_counter()
        threads = [threading.Thread(target=_client, args=(server.url, tokens["researcher"], done, args.rounds,
                                                           deadline, timings, errors, lock, "researcher"))
                   for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(args.timeout + 60)
        wall = time.perf_counter() - started
        after = status(busy)
        scored = (after["frames_total"] if after["status"] == "done" else after["frames_done"]) - before
    finally:
        server.stop()

    print(f"bench_app: {args.clients} clients x {args.rounds} rounds in {wall:.1f} s; scoring job: "
          f"{scored} frames scored meanwhile ({after['status']}); {len(errors)} errors")
    print(f"{'route':40s} {'n':>5s} {'p50 ms':>8s} {'p95 ms':>8s} {'p95/target':>10s}")
    for label, values in sorted(timings.items()):
        values = sorted(values)
        p50, p95 = statistics.median(values), values[min(len(values) - 1, int(0.95 * len(values)))]
        print(f"{label:40s} {len(values):5d} {p50 * 1e3:8.1f} {p95 * 1e3:8.1f} {p95 / TARGET_P95_S:10.2f}")
    if errors:
        print("errors:", errors[:5])
    return 1 if errors or scored <= 0 else 0


if __name__ == "__main__":
    sys.exit(main())
