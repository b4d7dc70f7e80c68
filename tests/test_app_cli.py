"""`auengine users add|token|delete` and `auengine models add` (issue 16)."""
from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
from auengine.cli import main  # noqa: E402

from app_support import PASSWORD  # noqa: E402


def test_users_and_models_commands(tmp_path, app_phantom, capsys):
    from fastapi.testclient import TestClient

    from auengine.app.factory import AppSettings, create_app

    data, secret = tmp_path / "data", tmp_path / "pw.txt"
    secret.write_text(PASSWORD + "\n")
    assert main(["users", "add", "ada", "--role", "admin", "--data", str(data), "--password-file", str(secret)]) == 0
    capsys.readouterr()
    assert main(["users", "token", "ada", "--data", str(data)]) == 0
    out = capsys.readouterr().out
    token = out.strip()
    assert out == token + "\n" and token.startswith("aue_") and len(token) > 40       # the token and nothing else
    assert main(["models", "add", str(app_phantom[2]), "--name", "demo", "--data", str(data)]) == 0
    assert (data / "models" / "demo" / "manifest.json").is_file()
    # refused, one line each: a taken name, an unknown role, a short password, a broken bundle, no terminal
    assert main(["users", "add", "ada", "--role", "admin", "--data", str(data), "--password-file", str(secret)]) == 2
    assert "exists already" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["users", "add", "bob", "--role", "nurse", "--data", str(data), "--password-file", str(secret)])
    (tmp_path / "short.txt").write_text("abc")
    assert main(["users", "add", "bob", "--role", "clinician", "--data", str(data), "--password-file",
                 str(tmp_path / "short.txt")]) == 2
    assert main(["models", "add", str(tmp_path), "--name", "bad", "--data", str(data)]) == 2
    assert "not a bundle" in capsys.readouterr().err
    app = create_app(AppSettings(data))
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/me", headers=headers).json() == {"name": "ada", "role": "admin"}
    assert main(["users", "add", "cy", "--role", "clinician", "--data", str(data), "--password-file", str(secret)]) == 0
    assert main(["users", "token", "cy", "--data", str(data)]) == 0
    cy = capsys.readouterr().out.strip()
    assert client.get("/api/recordings", headers={"Authorization": f"Bearer {cy}"}).status_code == 200
    assert main(["users", "delete", "cy", "--data", str(data)]) == 0
    assert client.get("/api/recordings", headers={"Authorization": f"Bearer {cy}"}).status_code == 401
    app.state.db.engine.dispose()
