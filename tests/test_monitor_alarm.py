"""Monitor (issue 18), pure parts: the alarm state machine, causal smoothing, online neutral, log rotation."""
from __future__ import annotations

import math

import numpy as np
import pytest

from auengine.monitor.alarm import CALIBRATING, INDETERMINATE, NO_FACE, OK, PAIN, AlarmConfig, AlarmMachine, Observation
from auengine.monitor.logs import CsvLog, JsonLines
from auengine.monitor.scorer import OnlineNeutral, TrailingMean

FPS = 10
CONFIG = AlarmConfig(threshold=4.0, min_duration_s=2.0, hysteresis=1.0, clear_s=1.0, cooldown_s=5.0, missing_s=1.0,
                     recover_s=0.5)


def run(values, config=CONFIG, start=0.0, machine=None, **fields):
    """Feed one observation per frame (10 fps) of ``values`` (NaN: no face); returns (machine, [(t, state, reason)])."""
    machine = machine or AlarmMachine(config)
    changes = []
    for i, value in enumerate(values):
        face = not math.isnan(value)
        obs = Observation(start + i / FPS, value, face=face, quality_ok=face, **fields)
        change = machine.update(obs)
        if change is not None:
            changes.append((round(change.t_s, 2), change.state, change.reason))
    return machine, changes


def test_no_face_then_calibrating_then_ok():
    machine, changes = run([math.nan] * 5, calibrating=True)
    assert machine.state == NO_FACE and not changes                       # no face yet: stays no-face
    machine, changes = run([1.0] * 5, machine=machine, start=0.5, calibrating=True)
    assert changes == [(0.5, CALIBRATING, "face found")]
    machine, changes = run([1.0], machine=machine, start=1.0)
    assert changes == [(1.0, OK, "neutral calibrated")]


def test_pain_needs_min_duration_and_brief_dips_restart_the_timer():
    # 1.9 s above, one dip, then 2.5 s above: raised 2.0 s after the second rise only
    values = [1.0] * 10 + [5.0] * 19 + [3.0] + [5.0] * 25
    machine, changes = run(values)
    assert [c[1] for c in changes] == [OK, PAIN]
    assert changes[1][0] == pytest.approx(3.0 + 2.0) and "for 2.0 s" in changes[1][2]


def test_hysteresis_and_clear_time():
    # in pain, values between threshold - hysteresis (3) and the threshold (4) do not clear
    values = [1.0] * 5 + [5.0] * 25 + [3.5] * 30 + [2.5] * 15
    machine, changes = run(values)
    states = [c[1] for c in changes]
    assert states == [OK, PAIN, OK]
    assert changes[2][0] == pytest.approx(6.0 + 1.0) and "< 3" in changes[2][2]      # 1 s below 3 after t = 6 s


def test_cooldown_holds_a_new_alarm_back_then_lets_it_through():
    values = [1.0] * 5 + [5.0] * 25 + [1.0] * 15 + [5.0] * 60
    machine, changes = run(values)
    assert [c[1] for c in changes] == [OK, PAIN, OK, PAIN]
    cleared, raised = changes[2][0], changes[3][0]
    assert cleared == pytest.approx(4.0)
    # above again from t = 4.5 s: min-duration alone would raise at 6.5 s; the 5 s cool-down makes it 9.0 s
    assert raised == pytest.approx(cleared + CONFIG.cooldown_s)


def test_missing_face_goes_indeterminate_even_in_pain_and_recovers():
    values = [1.0] * 5 + [5.0] * 25 + [math.nan] * 8 + [5.0] * 2 + [math.nan] * 15 + [1.0] * 10
    machine, changes = run(values)
    states = [c[1] for c in changes]
    assert states == [OK, PAIN, INDETERMINATE, OK]
    assert changes[2][0] == pytest.approx(4.0 + 1.0) and "face missing for 1.0 s" in changes[2][2]
    assert changes[3][0] == pytest.approx(5.5 + 0.5) and "good face again" in changes[3][2]  # 8-frame gap held; 15 not


def test_low_quality_and_stream_down_are_indeterminate_never_ok():
    machine = AlarmMachine(CONFIG)
    machine, _ = run([1.0] * 5, machine=machine)
    for i in range(15):                                    # a face, but too small: quality low
        change = machine.update(Observation(0.5 + i / FPS, 2.0, face=True, quality_ok=False))
        if change:
            assert change.state == INDETERMINATE and "quality low" in change.reason
    assert machine.state == INDETERMINATE
    fresh = AlarmMachine(CONFIG)                           # stream down: at once, from any state, even no-face
    change = fresh.update(Observation(0.0, stream_ok=False, note="stream disconnected; reopening"))
    assert (change.state, change.reason) == (INDETERMINATE, "stream disconnected; reopening")
    assert fresh.update(Observation(0.2, stream_ok=False)) is None          # reported once
    machine, changes = run([math.nan] * 30, machine=fresh, start=1.0)       # back, but no face: still indeterminate
    assert not changes and fresh.state == INDETERMINATE


def test_config_refuses_negative_durations():
    with pytest.raises(ValueError, match="min_duration_s"):
        AlarmConfig(threshold=1.0, min_duration_s=-1)


def test_trailing_mean_is_causal_and_skips_nan():
    mean = TrailingMean(1.0)
    assert math.isnan(mean.add(0.0, math.nan))
    assert mean.add(0.1, 2.0) == 2.0 and mean.add(0.5, 4.0) == 3.0 and mean.add(0.9, math.nan) == 3.0
    assert mean.add(1.3, 8.0) == pytest.approx(6.0)        # 0.1 has left the 1 s window


def test_online_neutral_warms_up_and_tracks_the_low_quantile_in_a_bounded_window():
    neutral = OnlineNeutral(quantile=0.1, window_s=10.0, warmup_s=2.0, sample_hz=5.0)
    rng = np.random.default_rng(0)
    rest = []
    for i in range(100):                                   # 10 s at 10 fps; sampled every 0.2 s
        t = i / 10
        neutral.start_frame(t)
        assert neutral.calibrating == (t < 1.8)            # 10 samples = 2 s of face at 5 Hz
        rest.append(neutral.rest_of("AU4", np.array([0.3 + 0.05 * rng.standard_normal()])))
    assert rest[-1] == pytest.approx(0.3 - 1.28 * 0.05, abs=0.03)
    for i in range(100, 400):                              # 30 s of a new level: the 10 s window forgets the old one
        neutral.start_frame(i / 10)
        offset = neutral.rest_of("AU4", np.array([0.8]))
    assert offset == pytest.approx(0.8) and len(neutral._samples["AU4"]) == 50
    assert "10% quantile" in neutral.describe()["method"]


def test_rotation_keeps_a_bounded_number_of_bounded_files(tmp_path):
    log = CsvLog(tmp_path / "timeline.csv", ["t_s", "intensity"], max_bytes=200, keep=3)
    for i in range(500):
        log.log({"t_s": i, "intensity": float("nan") if i % 7 == 0 else i / 10})
    log.close()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["timeline.csv", "timeline.csv.1", "timeline.csv.2", "timeline.csv.3"]
    assert log.rotations > 10 and all(f.stat().st_size <= 200 + 20 for f in files)
    for f in files:                                        # each file starts with the header, NaN written empty
        lines = f.read_text().splitlines()
        assert lines[0] == "t_s,intensity"
    assert (tmp_path / "timeline.csv").read_text().splitlines()[-1] == "499,49.9"
    assert "\n497,\n" in log.path.read_text()                # 497 = 7 x 71: NaN, written empty
    events = JsonLines(tmp_path / "events.jsonl", max_bytes=10_000, keep=1, max_age_s=0.0)
    events.log({"a": 1})
    events.log({"a": float("nan")})                         # age 0: every line after the first rotates
    events.close()
    assert (tmp_path / "events.jsonl").read_text() == '{"a": null}\n' and (tmp_path / "events.jsonl.1").is_file()


def test_rest_hook_reproduces_the_per_video_neutral(random_face):
    """intensities_from_measurements(rest_of=...) is the per-video 10 % rest when given the same quantile."""
    from auengine.au.landmark_aus import REST_QUANTILE, default_neutral, intensities_from_measurements, measurements

    rng = np.random.default_rng(3)
    faces = random_face[None] + rng.normal(0, 1.5, size=(40, 68, 2))
    measured = measurements(faces)
    batch = intensities_from_measurements(measured, default_neutral(), REST_QUANTILE)
    seen = []

    def rest_of(au, raw):
        seen.append(au)
        return np.quantile(raw, REST_QUANTILE)

    hooked = intensities_from_measurements(measured, default_neutral(), rest_of=rest_of)
    assert np.allclose(batch.to_numpy(), hooked.to_numpy()) and len(set(seen)) == batch.shape[1] == 13
    assert (batch.to_numpy() > 0).any()                    # not trivially all zero
