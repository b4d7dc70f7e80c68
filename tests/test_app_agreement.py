"""Issue 17 in the review app: agreement over stored reviews, observer-score import, researcher media, deletion."""
from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("fastapi")
from app_support import login  # noqa: E402


def _scored(service) -> tuple[int, list[dict]]:
    rid = service.upload().json()["id"]
    assert service.work()
    return rid, service.client.get(f"/api/recordings/{rid}/epochs", headers=service.headers("nurse")).json()


def _review(service, name: str, epoch_id: int, **payload):
    done = service.client.post(f"/api/epochs/{epoch_id}/reviews", json=payload, headers=service.headers(name))
    assert done.status_code == 201, done.text


def test_agreement_over_reviews_latest_per_reviewer(service):
    from auengine.agreement import compute_agreement

    rid, epochs = _scored(service)
    scored = [e for e in epochs if e["intensity_mean"] is not None]
    assert len(scored) >= 2
    for i, epoch in enumerate(scored):
        _review(service, "nurse", epoch["id"], score=9.0)                         # superseded below
        _review(service, "nurse", epoch["id"], score=float(i % 3) + 1)
        _review(service, "nurse2", epoch["id"], score=float(i % 2) + 2)
    got = service.client.get("/api/agreement", headers=service.headers("researcher"))
    assert got.status_code == 200, got.text
    results = got.json()["results"]
    engine_nurse = [r for r in results if r["rater"] == "engine" and r["reference"] == "nurse" and
                    r["scope"] == "pooled"]
    assert len(engine_nurse) == 1 and engine_nurse[0]["n"] == len(scored)
    assert any(r["comparison"] == "observers" for r in results)                  # nurse vs nurse2: the ceiling
    # the same numbers as the library on the latest reviews (the 9.0s must not count)
    import pandas as pd

    engine = pd.DataFrame({"video": f"recording-{rid}", "start_s": [e["start_s"] for e in epochs],
                           "end_s": [e["end_s"] for e in epochs], "scale": "flacc",
                           "score": [np.nan if e["intensity_mean"] is None else e["intensity_mean"] for e in epochs]})
    nurse = pd.DataFrame({"video": f"recording-{rid}", "start_s": [e["start_s"] for e in scored],
                          "end_s": [e["end_s"] for e in scored], "scale": "flacc",
                          "score": [float(i % 3) + 1 for i in range(len(scored))]})
    expected = compute_agreement(engine, {"nurse": nurse}).pooled().iloc[0]
    assert engine_nurse[0]["bias"] == pytest.approx(expected["bias"], abs=1e-9)
    assert engine_nurse[0]["pearson_r"] == pytest.approx(expected["pearson_r"], abs=1e-9, nan_ok=True)
    # the pages: pooled and per recording, any role, with the Bland-Altman figure inline
    login(service.client, "researcher")
    for path in ("/agreement", f"/recordings/{rid}/agreement"):
        page = service.client.get(path)
        assert page.status_code == 200 and "Engine vs clinicians" in page.text and "human ceiling" in page.text
        assert re.search(r'src="data:image/png;base64,[A-Za-z0-9+/=]{200,}"', page.text)
    assert service.client.get("/recordings/999/agreement").status_code == 404


def test_agreement_without_reviews_says_so(service):
    _scored(service)
    assert "no scored reviews" in service.client.get("/api/agreement", headers=service.headers("nurse")).json()["detail"]
    login(service.client, "nurse")
    assert "no scored reviews" in service.client.get("/agreement").text


def test_agreement_pages_need_a_login(service):
    for path in ("/agreement", "/recordings/1/agreement"):
        assert service.client.get(path, follow_redirects=False).headers["location"] == "/login"
    assert service.client.get("/api/agreement").status_code == 401


def test_deletion_leaves_no_file_of_the_recording(service):
    rid, epochs = _scored(service)
    _review(service, "nurse", epochs[0]["id"], score=2.0)
    folder = next((service.data / "recordings").iterdir())
    assert any(folder.rglob("*.png")) and any(folder.rglob("video.*"))
    assert service.client.delete(f"/api/recordings/{rid}", headers=service.headers("nurse")).status_code == 204
    remaining = [p for p in service.data.rglob("*") if p.is_file() and (folder.name in str(p) or
                                                                        f"recording-{rid}" in p.name)]
    assert remaining == [] and not folder.exists()
    from auengine.store.accounts import audit_events

    from sqlalchemy import func, select

    from auengine.store.models import Epoch, Recording, Review

    with service.app.state.db.session() as db:
        assert any(e.action == "delete" and e.target == f"recording:{rid}" for e in audit_events(db))
        assert db.scalar(select(func.count()).select_from(Epoch).where(Epoch.recording_id == rid)) == 0
        assert db.scalar(select(func.count()).select_from(Review)) == 0
        tombstone = db.get(Recording, rid)
        assert tombstone.deleted_at is not None and tombstone.summary_json is None and tombstone.filename == ""
    assert "no scored reviews" in service.client.get("/api/agreement", headers=service.headers("nurse")).json()["detail"]


def _observer_csv(rows: list[tuple]) -> bytes:
    lines = ["video,start_s,end_s,scale,score,observer"] + [",".join(map(str, r)) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def test_import_observer_scores_api_and_form(service):
    rid, epochs = _scored(service)
    filename = service.videos[0].name
    first, second = epochs[0], epochs[1]
    content = _observer_csv([
        (filename, first["start_s"], first["end_s"], "flacc", 3, "Dr A"),            # by file name
        ("NICU-001", second["start_s"], second["end_s"], "flacc", 5, "Dr B"),         # by patient code
        ("elsewhere.mp4", 0, 1, "flacc", 2, "Dr A"),                                   # no such recording
        (f"recording-{rid}", first["start_s"], first["end_s"], "nips", 2, "Dr A"),    # wrong scale
        (f"recording-{rid}", 9000, 9010, "flacc", 1, "Dr A")])                        # outside every epoch
    # researchers may not import; a clinician may
    files = {"file": ("ward7.csv", content, "text/csv")}
    assert service.client.post("/api/reviews/import", files=files, headers=service.headers("researcher")).status_code == 403
    done = service.client.post("/api/reviews/import", files=files, headers=service.headers("nurse"))
    assert done.status_code == 200, done.text
    body = done.json()
    assert sorted((r["epoch_id"], r["score"]) for r in body["imported"]) == [(first["id"], 3), (second["id"], 5)]
    reasons = {r["video"]: r["reason"] for r in body["unmatched"]}
    assert len(body["unmatched"]) == 3 and "no recording called" in reasons["elsewhere.mp4"]
    assert {"scale nips", "no epoch"} == {w for w in ("scale nips", "no epoch") for r in body["unmatched"]
                                          if w in r["reason"]}
    history = service.client.get(f"/api/epochs/{first['id']}/reviews", headers=service.headers("nurse")).json()
    assert history[-1]["user"] == "nurse" and "ward7.csv" in history[-1]["note"] and "Dr A" in history[-1]["note"]
    from auengine.store.accounts import audit_events

    with service.app.state.db.session() as db:
        event = next(e for e in audit_events(db) if e.action == "import")
    assert event.target == "file:ward7.csv" and '"imported": 2' in event.detail
    assert not list((service.data / "uploads").iterdir())                      # the staged file is gone
    # the form: CSRF like the other forms, then a result page listing the unmatched rows
    csrf = login(service.client, "nurse2")
    assert service.client.post("/queue/import", files=files).status_code == 403
    page = service.client.post("/queue/import", files=files, data={"csrf": csrf})
    assert page.status_code == 200 and "2 score(s) imported" in page.text and "no recording called" in page.text
    assert 'action="/queue/import"' in service.client.get("/queue").text
    bad = service.client.post("/queue/import", files={"file": ("x.pdf", b"%PDF", "application/pdf")}, data={"csrf": csrf})
    assert bad.status_code == 400 and "ELAN .eaf" in bad.text


def test_researchers_receive_deidentified_media_only(service):
    import cv2

    from auengine.app.shared_media import _thumbnail_landmarks
    from auengine.deidentify import face_region

    rid, epochs = _scored(service)
    thumbnail = next(e["thumbnail"] for e in epochs if e["thumbnail"] and e["face_share"] > 0)
    name = thumbnail.split("/files/", 1)[1]

    def image(user: str, path: str) -> np.ndarray:
        got = service.client.get(path, headers=service.headers(user))
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
        return cv2.imdecode(np.frombuffer(got.content, np.uint8), cv2.IMREAD_COLOR)

    original, shared = image("nurse", thumbnail), image("researcher", thumbnail)
    result = next((service.data / "recordings").iterdir()) / "result"
    frame = int(name[len("thumbnails/frame"):-4])
    landmarks = _thumbnail_landmarks(result, frame, original.shape[1], next(result.parent.glob("video.*")))
    assert landmarks is not None                                     # the face was located, not guessed
    region = face_region(original.shape, landmarks)
    assert region.sum() > 50 and original.shape == shared.shape
    assert not np.array_equal(original[region], shared[region])
    face_a, face_b = original[region].astype(float).ravel(), shared[region].astype(float).ravel()
    # blurred: far less detail (pixel-to-pixel variation) in the face region than the original
    detail = lambda im: np.abs(np.diff(im.astype(float), axis=1))[region[:, 1:]].mean()
    assert detail(shared) < 0.6 * detail(original), (detail(shared), detail(original))
    assert np.abs(face_a - face_b).mean() > 1.0
    from auengine.deidentify import MASK_GREY, structure_correlation

    rgb = lambda im: np.ascontiguousarray(im[..., ::-1])
    assert structure_correlation(rgb(original), rgb(shared), landmarks) < 0.3       # the face's structure is gone
    # `auengine serve --researcher-media mask`: the same thumbnail with its face region grey
    from dataclasses import replace

    service.app.state.settings = replace(service.app.state.settings, researcher_media="mask")
    masked = image("researcher", thumbnail)
    assert (np.abs(masked[region].astype(int) - np.array(MASK_GREY)).max(axis=-1) <= 2).mean() > 0.95
    service.app.state.settings = replace(service.app.state.settings, researcher_media="blur")
    # the peak frame is blurred too; a chart without a face is served as it is; the video is refused
    peak = f"/recordings/{rid}/files/peak_regions.png"
    if (result / "peak_regions.png").is_file():
        assert not np.array_equal(image("nurse", peak), image("researcher", peak))
    timeline = f"/recordings/{rid}/files/timeline.png"
    assert np.array_equal(image("nurse", timeline), image("researcher", timeline))
    refused = service.client.get(f"/recordings/{rid}/video", headers=service.headers("researcher"))
    assert refused.status_code == 403 and "de-identified" in refused.text
    assert service.client.get(f"/recordings/{rid}/video", headers=service.headers("nurse")).status_code == 200
    login(service.client, "researcher")
    page = service.client.get(f"/recordings/{rid}").text
    assert "video-withheld" in page and f'src="/recordings/{rid}/video"' not in page
