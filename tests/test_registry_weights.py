"""Registries choose backends by name; weights resolve explicit > cache > (opt-in) download."""
from __future__ import annotations

import pytest

from auengine.errors import AuEngineError, InputError, WeightsNotFoundError
from auengine.faces.detect import DETECTORS
from auengine.faces.landmarks import LANDMARKERS
from auengine.registry import Registry
from auengine.weights import WeightsSpec, resolve_weights


def test_unknown_backend_lists_valid_names():
    with pytest.raises(InputError) as info:
        DETECTORS.get("yolo")
    assert "mtcnn" in str(info.value) and "dlib" in str(info.value) and "face-alignment" in str(info.value)
    assert set(LANDMARKERS.names()) == {"dlib", "face-alignment", "auto"}


def test_duplicate_registration_rejected():
    registry: Registry = Registry("thing")
    registry.register("a")(object)
    with pytest.raises(AuEngineError, match="registered twice"):
        registry.register("a")(object)


@pytest.fixture
def spec(tmp_path, monkeypatch):
    monkeypatch.setenv("AUENGINE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("AUENGINE_DOWNLOAD", raising=False)
    # port 9 (discard) on loopback: refused at once, so a download attempt fails fast
    return WeightsSpec(name="test model", filename="model.bin", url="http://127.0.0.1:9/model.bin",
                       search_dirs=(tmp_path / "hub",), torch_hub=True)


def test_explicit_path_wins(spec, tmp_path):
    explicit = tmp_path / "mine.bin"
    explicit.write_bytes(b"x")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "model.bin").write_bytes(b"y")
    assert resolve_weights(spec, explicit) == explicit


def test_missing_explicit_path_is_named(spec, tmp_path):
    with pytest.raises(WeightsNotFoundError, match="nope.bin"):
        resolve_weights(spec, tmp_path / "nope.bin")


def test_cache_then_search_dirs(spec, tmp_path):
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "torch" / "hub" / "checkpoints" / "model.bin").write_bytes(b"t")
    assert resolve_weights(spec) == tmp_path / "torch" / "hub" / "checkpoints" / "model.bin"
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "model.bin").write_bytes(b"h")
    assert resolve_weights(spec) == tmp_path / "hub" / "model.bin"
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "model.bin").write_bytes(b"c")
    assert resolve_weights(spec) == tmp_path / "cache" / "model.bin"


def test_offline_error_names_file_and_place(spec, tmp_path):
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_weights(spec)
    message = str(info.value)
    assert "model.bin" in message and str(tmp_path / "cache" / "model.bin") in message
    assert "AUENGINE_DOWNLOAD=1" in message


def test_failed_download_is_a_clear_error_not_a_traceback(spec, tmp_path):
    with pytest.raises(WeightsNotFoundError, match="could not download test model"):
        resolve_weights(spec, download=True)
    assert not (tmp_path / "cache" / "model.bin").exists()


@pytest.fixture
def served(tmp_path):
    """A file served over HTTP on 127.0.0.1 (a thread), and its sha256."""
    import functools
    import hashlib
    import http.server
    import threading

    folder = tmp_path / "www"
    folder.mkdir()
    payload = b"weights" * 1000
    (folder / "model.bin").write_bytes(payload)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/model.bin", hashlib.sha256(payload).hexdigest()
    server.shutdown()


def test_download_checks_the_hash_its_file_name_carries(spec, served, tmp_path):
    url, digest = served
    good = WeightsSpec(name="test model", filename=f"model-{digest[:10]}.bin", url=url)
    assert good.hash_prefix == digest[:10]
    path = resolve_weights(good, download=True)
    assert path.read_bytes() == b"weights" * 1000
    bad = WeightsSpec(name="test model", filename="other-0123456789.bin", url=url)
    with pytest.raises(WeightsNotFoundError, match="hash check"):
        resolve_weights(bad, download=True)
    assert not (tmp_path / "cache" / "other-0123456789.bin").exists()
