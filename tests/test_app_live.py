"""Live page of the review app (issue 18): monitor items posted, stored once, streamed to a bed's page."""
from __future__ import annotations

import json
import signal
import time

import pytest

pytest.importorskip("fastapi")
from app_support import Server, login  # noqa: E402

ALARM = {"kind": "event", "event": "state", "time": "2026-12-02T15:14:58.512+00:00", "t_s": 63.4,
         "state": "pain", "previous": "ok", "intensity": 4.1, "reason": "intensity >= 2.5 for 3.0 s"}
POINT = {"kind": "point", "time": "2026-12-02T15:14:58.700+00:00", "t_s": 63, "frames": 30, "face_frames": 30,
         "dropped": 0, "intensity_mean": 3.9, "intensity_max": 4.2, "intensity_smooth": 4.1, "state": "pain",
         "calibrating": 0, "latency_ms_p95": 41.2}


def batch(*items, bed="nicu-4", session="bed1_today"):
    return {"version": 1, "bed": bed, "session": session, "sent_at": "2026-12-02T15:14:58.880+00:00",
            "items": list(items)}


def stored(service, bed="nicu-4"):
    from auengine.store import live

    with service.app.state.db.session() as db:
        return live.items_after(db, bed)


def sse_items(text: str) -> list[dict]:
    return [item for line in text.splitlines() if line.startswith("data: ")
            for item in json.loads(line[6:])["items"]]


def test_posted_items_stored_once(service):
    client = service.client
    first = client.post("/api/monitor/nicu-4/events", json=batch(ALARM, POINT), headers=service.headers("nurse"))
    assert first.status_code == 200 and first.json() == {"stored": 2, "received": 2}
    again = client.post("/api/monitor/nicu-4/events", json=batch(ALARM, POINT, ALARM), headers=service.headers("admin"))
    assert again.json() == {"stored": 0, "received": 3}
    other = client.post("/api/monitor/nicu-4/events", json=batch(ALARM, session="later"),
                        headers=service.headers("nurse"))
    assert other.json()["stored"] == 1                      # same event in another session is another item
    rows = stored(service)
    assert [(s, i["kind"]) for _, s, i in rows] == [("bed1_today", "event"), ("bed1_today", "point"),
                                                    ("later", "event")]
    assert rows[0][2] == ALARM
    # reviewable afterwards, by any logged-in user
    reader = service.headers("researcher")
    sessions = client.get("/api/monitor/nicu-4/sessions", headers=reader).json()
    assert sorted((s["session"], s["count"]) for s in sessions) == [("bed1_today", 2), ("later", 1)]
    assert client.get("/api/monitor/nicu-4/sessions/bed1_today", headers=reader).json()["items"] == [ALARM, POINT]
    assert client.get("/api/monitor/nicu-4/sessions/nope", headers=reader).status_code == 404


def test_posting_refused_without_rights_or_bad_body(service):
    client = service.client
    assert client.post("/api/monitor/nicu-4/events", json=batch(ALARM)).status_code == 401
    assert client.post("/api/monitor/nicu-4/events", json=batch(ALARM),
                       headers={"Authorization": "Bearer aue_wrong"}).status_code == 401
    assert client.post("/api/monitor/nicu-4/events", json=batch(ALARM),
                       headers=service.headers("researcher")).status_code == 403
    nurse = service.headers("nurse")
    assert client.post("/api/monitor/nicu-5/events", json=batch(ALARM), headers=nurse).status_code == 400
    assert client.post("/api/monitor/nicu-4/events", json={**batch(ALARM), "version": 2},
                       headers=nurse).status_code == 400
    assert client.post("/api/monitor/nicu-4/events", json=batch({"kind": "x"}), headers=nurse).status_code == 400
    assert client.post("/api/monitor/nicu-4/events", json=batch(), headers=nurse).status_code == 422
    assert stored(service) == []


def test_pages_and_stream_need_login_and_show_the_alarm(service):
    client = service.client
    for path in ("/beds", "/beds/nicu-4", "/beds/nicu-4/stream"):
        assert client.get(path, follow_redirects=False).headers.get("location") == "/login", path
    client.post("/api/monitor/nicu-4/events", json=batch(POINT, ALARM), headers=service.headers("nurse"))
    login(client, "researcher")                             # readers may watch
    beds = client.get("/beds").text
    assert '<a href="/beds/nicu-4">nicu-4</a></td><td>2</td>' in beds and 'href="/beds"' in beds
    page = client.get("/beds/nicu-4")
    assert page.status_code == 200 and '/static/bed.js' in page.text and "<script>" not in page.text
    assert client.get("/static/bed.js").status_code == 200
    stream = client.get("/beds/nicu-4/stream?seconds=0.5")
    assert stream.headers["content-type"].startswith("text/event-stream")
    items = sse_items(stream.text)
    assert [i["kind"] for i in items] == ["point", "event"] and items[1]["state"] == "pain"
    assert items[1]["session"] == "bed1_today"
    last = int([line for line in stream.text.splitlines() if line.startswith("id: ")][-1][4:])
    resumed = client.get("/beds/nicu-4/stream?seconds=0.3", headers={"Last-Event-ID": str(last)})
    assert sse_items(resumed.text) == []


def test_alarm_sent_by_the_monitor_client_reaches_an_open_stream(service, tmp_path):
    """A live server: the page's stream is open, the monitor's LiveSender posts an alarm, it arrives within a second."""
    import threading

    import httpx

    from auengine.monitor.live import LiveSender

    token = service.tokens["nurse"]
    service.app.state.db.engine.dispose()
    server = Server(service.data)
    try:
        cookies = httpx.Client(base_url=server.url)
        login(cookies, "nurse")
        received: list[tuple[float, dict]] = []

        def watch():
            with cookies.stream("GET", "/beds/nicu-4/stream?seconds=30", timeout=40) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        for item in json.loads(line[6:])["items"]:
                            received.append((time.monotonic(), item))
                            if item.get("state") == "pain" and item["kind"] == "event":
                                return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        time.sleep(1.0)                                     # the stream is open before the alarm is raised
        sender = LiveSender(server.url, "nicu-4", "bed1_today", token=token)
        sender.send(ALARM, urgent=True)
        watcher.join(15)                # the stream stays open 30 s: a watcher done by now got a pushed alarm
        sender.close()
        alarms = [(t, i) for t, i in received if i["kind"] == "event" and i["state"] == "pain"]
        assert alarms, f"no alarm on the stream; sender {sender.stats()}"
        assert not watcher.is_alive()   # pushed while the stream is open, not when it ends
        assert sender.stats()["sent"] == 1 and sender.dropped == 0
        # an open page does not hold up shutdown (a stream lasts up to 60 s otherwise)
        with cookies.stream("GET", "/beds/nicu-4/stream", timeout=90) as response:
            next(response.iter_lines())
            server.process.send_signal(signal.SIGTERM)
            server.process.wait(30)     # raises if the server waits for the stream (which lasts 60 s)
            assert server.process.returncode is not None
        cookies.close()
    finally:
        server.stop()


def test_monitor_cli_with_serve_stores_its_session(service, tmp_path, media_dir, tiny_bundle):
    """`auengine monitor FILE --fast --serve URL --bed B --token-file F` against a live app: the session is stored."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import cv2
    import numpy as np

    image = cv2.imread(str(media_dir / "single_face.jpg"))
    image = cv2.resize(image, (320, round(320 * image.shape[0] / image.shape[1])))
    clip = tmp_path / "face.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, image.shape[1::-1])
    for i in range(40):
        writer.write(np.roll(image, int(3 * np.sin(i / 5)), axis=1))
    writer.release()
    token_file = tmp_path / "token"
    token_file.write_text(service.tokens["nurse"] + "\n")
    service.app.state.db.engine.dispose()
    server = Server(service.data)
    try:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
        done = subprocess.run([sys.executable, "-m", "auengine.cli", "monitor", str(clip), "--fast", "--bundle",
                               str(tiny_bundle), "--out", str(tmp_path / "bed7_run"), "--serve", server.url,
                               "--bed", "bed 7", "--token-file", str(token_file), "--threshold", "-1",
                               "--warmup", "1", "--min-duration", "1", "--smooth", "0.5"],
                              env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-2000:]
    finally:
        server.stop()
    rows = stored(service, "bed 7")
    assert {s for _, s, _ in rows} == {"bed7_run"}
    events = [i for _, _, i in rows if i["kind"] == "event"]
    assert events[0]["event"] == "start" and events[-1]["event"] == "stop"
    assert [e["state"] for e in events if e["event"] == "state"] == ["calibrating", "ok", "pain"]
    assert [i["t_s"] for _, _, i in rows if i["kind"] == "point"] == [0, 1, 2, 3]


def test_past_session_page_shows_summary_curve_bands_and_events(service):
    """A stored session is reviewable afterwards: summary, whole curve (broken where no face), state bands."""
    start = {"kind": "event", "event": "start", "time": "2026-12-02T15:13:55.000+00:00", "t_s": 0.0}
    stop = {"kind": "event", "event": "stop", "time": "2026-12-02T15:15:05.000+00:00", "t_s": 70.0, "reason": "end"}
    points = [{**POINT, "t_s": t, "state": "pain" if t >= 63 else "ok", "intensity_smooth": 1.0 + t / 20,
               "dropped": 1 if t == 62 else 0} for t in range(60, 66)]
    points[1] = {**points[1], "intensity_smooth": None, "state": "no-face", "face_frames": 0}  # t = 61: no face
    client = service.client
    client.post("/api/monitor/nicu-4/events", json=batch(start, *points, ALARM, stop), headers=service.headers("nurse"))
    path = "/beds/nicu-4/sessions/bed1_today"
    assert client.get(path, follow_redirects=False).headers.get("location") == "/login"
    login(client, "researcher")
    assert 'href="/beds/nicu-4/sessions/bed1_today">bed1_today</a>' in client.get("/beds/nicu-4").text
    page = client.get(path)
    assert page.status_code == 200 and "<script>" not in page.text
    summary = page.text.split('id="session-summary">')[1].split("</p>")[0]
    assert "1 pain alarm<" in summary and "3 s in pain" in summary and "180 frames scored, 1 dropped" in summary
    assert "1 s indeterminate or without a face" in summary
    assert "From 2026-12-02T15:13:55" in summary and "to 2026-12-02T15:15:05" in summary  # start and stop events
    assert page.text.count('<polyline class="curve"') == 1                    # broken at t = 61: 62-65 a line,
    assert page.text.count('<circle class="curve"') == 1                      # 60 alone a dot
    assert "70 s of stream" in summary                                        # start to stop event
    assert page.text.count('class="band band-pain"') == 1 and 'class="band band-no-face"' in page.text
    assert page.text.count("<tr") == 1 + 3 and "intensity &gt;= 2.5 for 3.0 s" in page.text
    assert client.get("/beds/nicu-4/sessions/nope").status_code == 404
    # names with a space are linked encoded; a name that is not one path segment is refused
    nurse = service.headers("nurse")
    client.post("/api/monitor/nicu-4/events", json=batch(POINT, session="bed 1 run"), headers=nurse)
    assert 'href="/beds/nicu-4/sessions/bed%201%20run"' in client.get("/beds/nicu-4").text
    assert client.get("/beds/nicu-4/sessions/bed%201%20run").status_code == 200
    for bad in ("a/b", ".."):
        answer = client.post("/api/monitor/nicu-4/events", json=batch(POINT, session=bad), headers=nurse)
        assert answer.status_code == 422 and "'/'" in answer.text, bad


def test_session_view_layout():
    from auengine.app.monitor_session import HEIGHT, LEFT, WIDTH, session_view

    points = [{"kind": "point", "t_s": t, "intensity_smooth": v, "state": s}
              for t, v, s in [(0, 0.0, "calibrating"), (1, 2.0, "ok"), (2, 4.0, "pain"), (3, 4.0, "pain")]]
    view = session_view(points)
    assert view["summary"]["pain_s"] == 2 and view["summary"]["alarms"] == 0 and view["summary"]["duration_s"] == 4
    xs = [float(p.split(",")[0]) for p in view["curve"][0].split()]
    ys = [float(p.split(",")[1]) for p in view["curve"][0].split()]
    assert LEFT < xs[0] < xs[-1] < WIDTH and ys[0] > ys[1] > ys[2] == ys[3] >= 0    # higher intensity drawn higher
    assert [(b["state"], b["width"] > 0) for b in view["bands"]] == [("calibrating", True), ("pain", True)]
    assert abs(view["bands"][1]["width"] - 2 * view["bands"][0]["width"]) < 0.2   # two seconds vs one
    assert session_view([])["curve"] == [] and 0 < max(y for y, _ in session_view([])["y_ticks"]) <= HEIGHT
    lost = session_view(points[:2] + [{**p, "t_s": p["t_s"] + 10} for p in points[2:]])   # 10 s of no data
    assert [len(line.split()) for line in lost["curve"]] == [2, 2] and lost["dots"] == []  # broken at the gap
    assert [b["state"] for b in lost["bands"]] == ["calibrating", "pain"]
