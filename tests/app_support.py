"""Helpers of the app tests: a small phantom bundle, phantom videos, a running server, a logged-in client."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from dataclasses import dataclass

import numpy as np
import pandas as pd

AUS = ["AU1", "AU2", "AU4", "AU6", "AU7", "AU9", "AU10", "AU12", "AU20", "AU25", "AU27", "AU43"]
PASSWORD = "correct horse battery"


@dataclass
class Service:
    app: object
    client: object
    tokens: dict[str, str]
    videos: list[Path]
    data: Path

    def headers(self, name: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def upload(self, name: str = "nurse", video: Path | None = None, **fields):
        video = video or self.videos[0]
        data = {"patient": "NICU-001", "scale": "flacc", "model": "phantom", **fields}
        return self.client.post("/api/recordings", headers=self.headers(name), data=data,
                                files={"file": (video.name, video.read_bytes(), "video/mp4")})

    def work(self, min_confidence: float = 1.01) -> bool:
        """Run one queued job in this process (min_confidence above 1 flags every scored epoch)."""
        from auengine.jobs.worker import Worker, WorkerSettings

        return Worker(WorkerSettings(str(self.data), min_confidence=min_confidence), db=self.app.state.db).run_once()


def make_service(tmp_path: Path, app_phantom, db_url: str | None = None) -> Service:
    """An app on a fresh data folder with users admin, nurse, nurse2 (clinicians), researcher and model 'phantom'."""
    from fastapi.testclient import TestClient

    from auengine.app.factory import AppSettings, create_app
    from auengine.store import accounts, records

    _, videos, bundle = app_phantom
    app = create_app(AppSettings(tmp_path / "data", db_url, max_upload_bytes=20 * 1024 ** 2))
    tokens = {}
    with app.state.db.session() as db:
        for name, role in (("admin", "admin"), ("nurse", "clinician"), ("nurse2", "clinician"),
                           ("researcher", "researcher")):
            tokens[name] = accounts.new_token(db, accounts.add_user(db, name, role, PASSWORD))
        records.register_model(db, app.state.layout, bundle, "phantom")
        db.commit()
    return Service(app, TestClient(app), tokens, videos, tmp_path / "data")


def login(client, name: str, password: str = PASSWORD) -> str:
    """Log ``client`` in through the login form; returns the session's CSRF token (from a page)."""
    import re

    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    done = client.post("/login", data={"name": name, "password": password, "csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303, done.text
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/recordings").text).group(1)


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

    def diagnosis(self) -> str:
        """The server's thread stacks (SIGUSR1) and the tail of its log, for a failure message."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGUSR1)
            time.sleep(1)
        self.log.flush()
        return (self.data / f"server-{self.port}.log").read_text(errors="replace")[-6000:]

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


def postgres_binaries() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin with initdb and pg_ctl, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3])
                   if p.parts[-3].isdigit() else 0)
    return found[-1].parent if found and (found[-1].parent / "pg_ctl").is_file() else None


class Postgres:
    """A throwaway PostgreSQL server from the machine's binaries (as user postgres when we are root)."""

    def __init__(self, bin_dir: Path) -> None:
        import tempfile

        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="auengine-pg-"))
        self.port = free_port()
        self.user_prefix: list[str] = []
        if os.geteuid() == 0:                         # initdb refuses to run as root
            import pwd

            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self.user_prefix = ["runuser", "-u", "postgres", "--"]
        data = self.root / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(self.root / "log"), "-w",
                  "start")
        self.url_base = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.user_prefix, *args], check=True, capture_output=True, stdin=subprocess.DEVNULL)

    def new_database(self, name: str) -> str:
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"{self.url_base}/{name}"

    def stop(self) -> None:
        import shutil

        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def prepare_data(data: Path, bundle: Path, db_url: str | None = None) -> dict[str, str]:
    """Users nurse (clinician) and researcher, model 'phantom'; returns their API tokens."""
    from auengine.store import accounts, records
    from auengine.store.db import open_database
    from auengine.store.layout import DataLayout

    layout = DataLayout(data)
    layout.create()
    database = open_database(data, db_url)
    tokens = {}
    with database.session() as db:
        for name, role in (("nurse", "clinician"), ("researcher", "researcher")):
            tokens[name] = accounts.new_token(db, accounts.add_user(db, name, role, PASSWORD))
        records.register_model(db, layout, bundle, "phantom")
        db.commit()
    database.engine.dispose()
    return tokens
