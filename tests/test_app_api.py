"""The JSON API of `auengine serve` (issue 16), the same tests on SQLite and on a throwaway PostgreSQL."""
from __future__ import annotations

import io
import itertools

import pandas as pd
import pytest

pytest.importorskip("fastapi")
from app_support import make_service  # noqa: E402

_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request, tmp_path, app_phantom):
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_server").new_database(f"auengine_test_{next(_names)}")
    made = make_service(tmp_path, app_phantom, url)
    yield made
    made.app.state.db.engine.dispose()


def test_healthz_needs_no_login(service):
    assert service.client.get("/healthz").json() == {"status": "ok"}


def test_upload_score_epochs_reviews_export_delete(service):
    created = service.upload(patient="NICU-007")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "queued" and body["progress"] == 0 and body["model_synthetic"] is True
    rid = body["id"]
    assert service.work()
    got = service.client.get(f"/api/recordings/{rid}", headers=service.headers("researcher")).json()
    assert got["status"] == "done" and got["progress"] == 1 and got["summary"]["frames"] == got["frames_total"] > 0
    assert [r["id"] for r in service.client.get("/api/recordings", headers=service.headers("nurse")).json()] == [rid]
    frames = pd.read_csv(io.StringIO(service.client.get(f"/api/recordings/{rid}/frames.csv",
                                                        headers=service.headers("nurse")).text))
    assert len(frames) == got["summary"]["frames"] and {"intensity", "level", "face_found", "AU12_r"} <= set(frames)
    epochs = service.client.get(f"/api/recordings/{rid}/epochs", headers=service.headers("nurse")).json()
    assert len(epochs) == got["summary"]["epochs"] and epochs[0]["start_s"] == 0 and epochs[0]["review"]
    first = epochs[0]["id"]
    # a review, a correction (append-only: both kept), and a not-assessable one
    for payload in ({"score": 3.5, "note": "grimace"}, {"score": 4, "note": "correction"}):
        assert service.client.post(f"/api/epochs/{first}/reviews", json=payload,
                                   headers=service.headers("nurse")).status_code == 201
    assert service.client.post(f"/api/epochs/{epochs[1]['id']}/reviews", json={"not_assessable": True},
                               headers=service.headers("nurse2")).json()["score"] is None
    history = service.client.get(f"/api/recordings/{rid}/epochs", headers=service.headers("nurse")).json()[0]["reviews"]
    assert [r["score"] for r in history] == [3.5, 4.0] and history[1]["note"] == "correction"
    # the scale's range is enforced (FLACC 0-10) and a score is required unless not assessable
    for bad in ({"score": 11}, {"score": -0.5}, {}):
        refused = service.client.post(f"/api/epochs/{first}/reviews", json=bad, headers=service.headers("nurse"))
        assert refused.status_code == 400 and "[0, 10]" in refused.json()["detail"]
    table = pd.read_csv(io.StringIO(service.client.get("/api/reviews.csv", headers=service.headers("researcher")).text))
    assert len(table) == 3 and list(table["user"]) == ["nurse", "nurse", "nurse2"]
    assert {"created_at", "recording_id", "epoch_id", "patient"} <= set(table.columns)
    assert table["not_assessable"].tolist() == [False, False, True]
    # delete: not by another clinician, yes by the owner; then it is gone from the list and the disk
    assert service.client.delete(f"/api/recordings/{rid}", headers=service.headers("nurse2")).status_code == 403
    assert service.client.delete(f"/api/recordings/{rid}", headers=service.headers("nurse")).status_code == 204
    assert service.client.get(f"/api/recordings/{rid}", headers=service.headers("nurse")).status_code == 404
    assert service.client.get("/api/recordings", headers=service.headers("nurse")).json() == []
    assert not list((service.data / "recordings").iterdir())
    from auengine.store.accounts import audit_events

    with service.app.state.db.session() as db:
        actions = [e.action for e in audit_events(db)]
    assert {"create", "review", "export", "delete"} <= set(actions)


def test_non_video_refused_nothing_stored(service, tmp_path):
    junk = tmp_path / "notes.mp4"
    junk.write_bytes(b"this is not a video" * 500)
    refused = service.upload(video=junk)
    assert refused.status_code == 400 and "not a video" in refused.json()["detail"]
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert service.upload(video=text).status_code == 400
    assert service.client.get("/api/recordings", headers=service.headers("nurse")).json() == []
    assert not list((service.data / "recordings").iterdir()) and not list((service.data / "uploads").iterdir())


def test_bad_fields_refused(service):
    assert "unknown model" in service.upload(model="nope").json()["detail"]
    assert "unknown pain scale" in service.upload(scale="pspi9").json()["detail"]
    assert "patient code" in service.upload(patient="").json()["detail"]
    assert service.client.get("/api/recordings", headers=service.headers("nurse")).json() == []


def test_upload_size_limit(service, tmp_path):
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (21 * 1024 ** 2))
    refused = service.upload(video=big)
    assert refused.status_code == 413 and "limit" in refused.json()["detail"]
    assert not list((service.data / "recordings").iterdir())


def test_epochs_csv_and_cancel(service, tmp_path):
    epochs = tmp_path / "procedure.csv"
    pd.DataFrame({"start_s": [0.0, 1.0], "end_s": [1.0, 3.0], "label": ["baseline", "heel lance"]}).to_csv(epochs,
                                                                                                       index=False)
    video = service.videos[0]
    created = service.client.post("/api/recordings", headers=service.headers("nurse"),
                                  data={"patient": "P2", "scale": "flacc", "model": "phantom"},
                                  files={"file": (video.name, video.read_bytes(), "video/mp4"),
                                         "epochs": ("procedure.csv", epochs.read_bytes(), "text/csv")})
    assert created.status_code == 201, created.text
    queued = service.upload()
    assert service.client.post(f"/api/recordings/{queued.json()['id']}/cancel",
                               headers=service.headers("nurse")).json()["status"] == "cancelled"
    assert service.work()
    assert not service.work()                                  # the cancelled one is never scored
    found = service.client.get(f"/api/recordings/{created.json()['id']}/epochs", headers=service.headers("nurse"))
    assert [e["label"] for e in found.json()] == ["baseline", "heel lance"]


def test_researcher_reads_but_never_writes(service):
    rid = service.upload().json()["id"]
    service.work()
    epoch = service.client.get(f"/api/recordings/{rid}/epochs", headers=service.headers("researcher")).json()[0]
    h = service.headers("researcher")
    assert service.upload("researcher").status_code == 403
    assert service.client.post(f"/api/epochs/{epoch['id']}/reviews", json={"score": 1}, headers=h).status_code == 403
    assert service.client.delete(f"/api/recordings/{rid}", headers=h).status_code == 403
    assert service.client.post(f"/api/recordings/{rid}/cancel", headers=h).status_code == 403
    assert service.client.get("/api/reviews.csv", headers=h).status_code == 200


def test_exports_per_recording_and_cohort(service):
    ids = [service.upload(patient=p).json()["id"] for p in ("A-1", "B-2")]
    assert service.work() and service.work()
    epoch = service.client.get(f"/api/recordings/{ids[0]}/epochs", headers=service.headers("nurse")).json()[0]
    service.client.post(f"/api/epochs/{epoch['id']}/reviews", json={"score": 2}, headers=service.headers("nurse"))
    h = service.headers("researcher")

    def table(path):
        response = service.client.get(path, headers=h)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv"), path
        return pd.read_csv(io.StringIO(response.text))

    frames = table("/exports/frames.csv")
    assert sorted(frames["patient"].unique()) == ["A-1", "B-2"] and {"intensity", "time_s"} <= set(frames)
    epochs = table("/exports/epochs.csv")
    assert set(epochs["recording_id"]) == set(ids) and epochs["model_synthetic"].all()
    assert len(table(f"/recordings/{ids[0]}/export/frames.csv")) == len(frames[frames["recording_id"] == ids[0]])
    assert len(table(f"/recordings/{ids[1]}/export/epochs.csv")) == len(epochs[epochs["recording_id"] == ids[1]])
    reviews = table("/exports/reviews.csv")
    assert list(reviews["score"]) == [2.0] and reviews["model_synthetic"].all()
    assert table(f"/recordings/{ids[1]}/export/reviews.csv").empty
    assert service.client.get("/exports/secrets.csv", headers=h).status_code == 404


def test_several_videos_in_one_upload(service):
    first, second = service.videos[:2]
    created = service.client.post("/api/recordings", headers=service.headers("nurse"),
                                  data={"patient": "TWIN-1", "scale": "nips", "model": "phantom"},
                                  files=[("file", (first.name, first.read_bytes(), "video/mp4")),
                                         ("file", (second.name, second.read_bytes(), "video/mp4"))])
    assert created.status_code == 201
    made = created.json()["recordings"]
    assert [r["filename"] for r in made] == [first.name, second.name] and {r["scale"] for r in made} == {"nips"}
    assert service.work() and service.work() and not service.work()
    epoch = service.client.get(f"/api/recordings/{made[1]['id']}/epochs", headers=service.headers("nurse")).json()[0]
    # NIPS is 0-7: 7 is accepted, 8 is not
    assert service.client.post(f"/api/epochs/{epoch['id']}/reviews", json={"score": 7},
                               headers=service.headers("nurse")).status_code == 201
    assert service.client.post(f"/api/epochs/{epoch['id']}/reviews", json={"score": 8},
                               headers=service.headers("nurse")).status_code == 400
    history = service.client.get(f"/api/epochs/{epoch['id']}/reviews", headers=service.headers("researcher")).json()
    assert [r["score"] for r in history] == [7.0]


def test_authentication_gives_its_connection_back_before_the_body_is_read(service):
    """20 concurrent uploads once held 20 pooled connections while their bodies streamed in (pool: 15): 500s."""
    from starlette.requests import Request

    from auengine.app.auth import authenticate

    header = (b"authorization", f"Bearer {service.tokens['nurse']}".encode())
    with service.app.state.db.session() as db:
        principal = authenticate(Request({"type": "http", "headers": [header], "app": service.app}), db)
        assert principal.user.name == "nurse" and principal.user.role == "clinician"
        assert not db.in_transaction()
        assert service.app.state.db.engine.pool.checkedout() == 0


def test_concurrent_uploads_on_a_one_connection_pool(tmp_path, app_phantom):
    """Database reads on the event loop (the upload's lazy ``recording.job``) blocked it while the pool
    was exhausted, so no request could finish and give its connection back: 3 of 20 concurrent uploads
    met the pool timeout (500). With one pooled connection, four at once must all be stored."""
    import asyncio

    import httpx
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from auengine.store.db import Database

    service = make_service(tmp_path, app_phantom)
    url = service.app.state.db.url
    engine = create_engine(url, pool_size=1, max_overflow=0, pool_timeout=5,
                           connect_args={"timeout": 30, "check_same_thread": False})
    service.app.state.db = Database(engine, sessionmaker(engine, expire_on_commit=False), url)
    video = service.videos[0]

    async def uploads():
        transport = httpx.ASGITransport(app=service.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as client:
            return await asyncio.gather(*(
                client.post("/api/recordings", headers=service.headers("nurse"),
                            data={"patient": f"P{i}", "scale": "flacc", "model": "phantom"},
                            files={"file": (video.name, video.read_bytes(), "video/mp4")}) for i in range(4)))

    try:
        responses = asyncio.run(uploads())
        assert [r.status_code for r in responses] == [201] * 4, [r.text[:200] for r in responses]
        assert len({r.json()["id"] for r in responses}) == 4
    finally:
        engine.dispose()
