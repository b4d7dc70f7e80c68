"""Security of `auengine serve` (issue 16): every route needs a login, roles, CSRF, traversal, escaping, tokens."""
from __future__ import annotations

import re

import pytest

pytest.importorskip("fastapi")
from app_support import PASSWORD, login  # noqa: E402


def _routes(app):
    """(method, path) of every route, included routers too (newer FastAPI includes them lazily)."""
    import fastapi.routing

    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = contexts(app.router.routes) if contexts else app.routes
    for route in routes:
        for method in getattr(route, "methods", None) or ():
            yield method, route.path


def _fill(path: str) -> str:
    return re.sub(r"\{(\w+)(:path)?\}", lambda m: "x.png" if m.group(2) else "1", path)


def test_every_route_but_login_and_healthz_needs_a_login(service):
    from auengine.app.routes.media import PUBLIC_ASSETS
    from auengine.app.routes.session import PUBLIC

    routes = sorted(set(_routes(service.app)))
    assert len(routes) >= 25                                   # the enumeration really sees the app
    client = service.client
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        response = client.request(method, _fill(path), follow_redirects=False)
        if path.startswith("/api/"):
            assert response.status_code == 401, (method, path, response.status_code)
        else:
            assert response.status_code in (401, 303), (method, path, response.status_code)
            if response.status_code == 303:
                assert response.headers["location"] == "/login", (method, path)
    # public: the login page, its stylesheet, the health check; every other static file needs a login
    assert client.get("/login").status_code == 200 and client.get("/healthz").status_code == 200
    assert PUBLIC_ASSETS == {"style.css"} and client.get("/static/style.css").status_code == 200
    assert client.get("/static/recording.js", follow_redirects=False).status_code == 303
    # a wrong token is as good as none
    assert client.get("/api/recordings", headers={"Authorization": "Bearer aue_wrong"}).status_code == 401


def test_session_cookie_flags_and_csrf(service):
    client = service.client
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    # login without the pre-login CSRF token is refused
    assert client.post("/login", data={"name": "nurse", "password": PASSWORD, "csrf": "x"}).status_code == 403
    done = client.post("/login", data={"name": "nurse", "password": PASSWORD, "csrf": token}, follow_redirects=False)
    cookie = done.headers["set-cookie"]
    assert "auengine_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/recordings").text).group(1)
    video = service.videos[0]
    fields = {"patient": "P1", "scale": "flacc", "model": "phantom"}
    files = {"file": (video.name, video.read_bytes(), "video/mp4")}
    # cookie-authenticated writes without the CSRF token: 403 (form, JSON API and logout alike)
    assert client.post("/recordings", data=fields, files=files).status_code == 403
    assert client.post("/api/recordings", data=fields, files=files).status_code == 403
    assert client.post("/logout").status_code == 403
    assert client.post("/api/recordings", data={**fields, "csrf": "wrong"}, files=files).status_code == 403
    assert client.get("/api/recordings").json() == []
    ok = client.post("/api/recordings", data=fields, files=files, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    assert client.post("/recordings", data={**fields, "csrf": csrf}, files=files,
                       follow_redirects=False).status_code == 303
    assert len(client.get("/api/recordings").json()) == 2
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/api/recordings").status_code == 401


def test_researcher_writes_forbidden_on_pages(service):
    client = service.client
    csrf = login(client, "researcher")
    rid = service.upload().json()["id"]
    service.work()
    epoch = client.get(f"/api/recordings/{rid}/epochs").json()[0]["id"]
    for path, data in ((f"/epochs/{epoch}/review", {"score": "2"}), (f"/recordings/{rid}/delete", {}),
                       (f"/recordings/{rid}/cancel", {}), ("/admin/users", {"name": "x", "role": "admin",
                                                                             "password": "12345678"})):
        assert client.post(path, data={**data, "csrf": csrf}).status_code == 403, path
    assert client.get("/admin").status_code == 403
    assert client.get("/api/reviews.csv").status_code == 200 and client.get("/exports").status_code == 200
    page = client.get("/queue").text
    assert "Save review" not in page                          # no form offered either


def test_path_traversal_in_media_urls(service):
    client = service.client
    login(client, "nurse")
    rid = service.upload().json()["id"]
    service.work()
    assert client.get(f"/recordings/{rid}/files/peak_regions.png").status_code == 200
    assert client.get(f"/recordings/{rid}/video").headers["content-type"].startswith("video/")
    (service.data / "secret.png").write_bytes(b"\x89PNG secret")
    for bad in ("../../../secret.png", "..%2F..%2F..%2Fsecret.png", "%2e%2e/%2e%2e/%2e%2e/secret.png",
                "/etc/passwd", "frames.csv", "../video.mp4", "thumbnails/../../video.mp4"):
        response = client.get(f"/recordings/{rid}/files/{bad}")
        assert response.status_code == 404 and b"secret" not in response.content, bad
    for bad in ("../../store/db.py", "..%2F..%2Fstore%2Fdb.py", "%2e%2e/factory.py"):
        assert client.get(f"/static/{bad}").status_code == 404, bad


def test_html_in_patient_code_and_label_is_escaped(service, tmp_path):
    import pandas as pd

    client = service.client
    login(client, "nurse")
    script = "<script>alert('x')</script>"
    epochs = tmp_path / "e.csv"
    pd.DataFrame({"start_s": [0.0], "end_s": [2.0], "label": ['<img src=x onerror="alert(1)">']}).to_csv(epochs,
                                                                                                      index=False)
    video = service.videos[0]
    rid = client.post("/api/recordings", headers=service.headers("nurse"),
                      data={"patient": script, "scale": "flacc", "model": "phantom"},
                      files={"file": (video.name, video.read_bytes()), "epochs": ("e.csv", epochs.read_bytes())}
                      ).json()["id"]
    service.work()
    for page in (client.get("/recordings").text, client.get(f"/recordings/{rid}").text, client.get("/queue").text):
        assert script not in page and "&lt;script&gt;" in page
    detail = client.get(f"/recordings/{rid}").text
    assert "<img src=x" not in detail and "&lt;img src=x onerror=" in detail
    assert "script-src 'self'" in client.get("/recordings").headers["content-security-policy"]


def test_deleted_users_token_and_session_refused(service):
    from auengine.store import accounts

    client = service.client
    headers = service.headers("nurse2")
    assert client.get("/api/recordings", headers=headers).status_code == 200
    login(client, "nurse2")
    with service.app.state.db.session() as db:
        accounts.delete_user(db, accounts.find_user(db, "nurse2"))
        db.commit()
    assert client.get("/api/recordings", headers=headers).status_code == 401
    assert client.get("/api/recordings").status_code == 401            # the browser session ends too
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert client.post("/login", data={"name": "nurse2", "password": PASSWORD, "csrf": token}).status_code == 401


def test_login_attempts_rate_limited(service):
    client = service.client
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    codes = [client.post("/login", data={"name": "nurse", "password": "wrong password", "csrf": token}).status_code
             for _ in range(6)]
    assert codes == [401] * 5 + [429]
    # even the right password is refused while blocked
    right = client.post("/login", data={"name": "nurse", "password": PASSWORD, "csrf": token}, follow_redirects=False)
    assert right.status_code == 429
