"""Helpers of the app tests: a small phantom bundle, phantom videos, a running server, a logged-in client."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

AUS = ["AU1", "AU2", "AU4", "AU6", "AU7", "AU9", "AU10", "AU12", "AU20", "AU25", "AU27", "AU43"]
PASSWORD = "correct horse battery"


def make_phantom(folder: Path, n_subjects: int = 3, frames: int = 60, seed: int = 5) -> pd.DataFrame:
    """A phantom data set with procedure videos; returns its manifest table."""
    from auengine.io.manifest import read_manifest
    from auengine.phantom import generate

    return read_manifest(generate(folder, n_subjects=n_subjects, frames_per_subject=frames, seed=seed, videos=True,
                                  progress=False, workers=1))


def make_bundle(folder: Path, table: pd.DataFrame) -> Path:
    """A bundle fitted on geometry AUs of the phantom's own landmarks (fast: no face detection); synthetic."""
    from auengine.au.backends import GeometryBackend
    from auengine.au.rules import load_rules
    from auengine.bundle import save_bundle
    from auengine.estimators.aueipa import AuEIPARegressor

    aus = GeometryBackend().estimate(table.assign(source=table["subject"]))
    ok = aus.notna().all(axis=1).to_numpy()
    engagement = pd.Series(1.0 / len(AUS), index=AUS)
    model = AuEIPARegressor(aus=AUS, engagement=engagement, weighted=False, epochs=30).fit(
        aus[ok], table["score"].to_numpy()[ok])
    return save_bundle(folder, model, rules=load_rules("infant"), engagement=engagement,
                       preprocessing={"au_backend": "geometry", "landmarks": "phantom"},
                       training_data={"synthetic": True, "rows": int(ok.sum())})


def long_video(source: Path, target: Path, repeats: int) -> Path:
    """``source`` played ``repeats`` times in one MP4 (a longer job for the fault tests)."""
    import cv2

    capture = cv2.VideoCapture(str(source))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    fps = capture.get(cv2.CAP_PROP_FPS) or 10
    capture.release()
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for _ in range(repeats):
        for frame in frames:
            writer.write(frame)
    writer.release()
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `auengine ARGS` in a subprocess (this worktree's code)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    return subprocess.run([sys.executable, "-m", "auengine.cli", *args], capture_output=True, text=True, env=env,
                          check=check, stdin=subprocess.DEVNULL)


class Server:
    """`auengine serve` in a subprocess on 127.0.0.1 (its own process group, killed by pid at the end)."""

    def __init__(self, data: Path, *extra: str, workers: int = 1, db: str | None = None) -> None:
        self.data, self.port = data, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
        args = [sys.executable, "-m", "auengine.cli", "serve", "--data", str(data), "--port", str(self.port),
                "--workers", str(workers), *extra] + (["--db", db] if db else [])
        self.log = open(data / f"server-{self.port}.log", "wb")
        self.process = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        self.wait_ready()

    def wait_ready(self, timeout: float = 120) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {(self.data / f'server-{self.port}.log').read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("server did not start in time")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the server and its workers (its process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill(signal.SIGTERM)
        self.log.close()


def wait_for(predicate, timeout: float = 180, every: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def scores_in_range(values, low, high) -> bool:
    values = np.asarray(values, float)
    return bool(((values >= low) & (values <= high)).all())
