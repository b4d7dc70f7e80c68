"""The bedside alarm: a small pure state machine over per-frame observations.

States: ``no-face`` (nothing seen yet), ``calibrating`` (the AU neutral is warming up),
``ok``, ``pain`` and ``indeterminate`` (face missing or poor for too long, or the
stream down: the monitor cannot tell, and says so rather than staying "ok").

- ok -> pain: the smoothed intensity stays >= ``threshold`` for ``min_duration_s``,
  and the last pain episode cleared more than ``cooldown_s`` ago.
- pain -> ok: the intensity stays < ``threshold - hysteresis`` for ``clear_s``.
- any -> indeterminate: the stream is down (at once), or the face is missing or of low
  quality for ``missing_s``; back (to calibrating or ok) after ``recover_s`` of good face.
  Shorter gaps are ignored: the timers hold.

No clock, threads or I/O here: :meth:`AlarmMachine.update` takes an observation with its
own time stamp and returns the state change it caused, if any.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

NO_FACE, CALIBRATING, OK, PAIN, INDETERMINATE = "no-face", "calibrating", "ok", "pain", "indeterminate"
STATES = (NO_FACE, CALIBRATING, OK, PAIN, INDETERMINATE)


@dataclass(frozen=True)
class AlarmConfig:
    """Thresholds (intensity on the bundle's scale) and durations (seconds of stream time).

    ``threshold`` None stands for "the bundle scale's first pain edge" (resolved by the monitor).
    """

    threshold: float | None = None
    min_duration_s: float = 3.0
    hysteresis: float = 0.5
    clear_s: float = 2.0
    cooldown_s: float = 30.0
    missing_s: float = 2.0
    recover_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("min_duration_s", "hysteresis", "clear_s", "cooldown_s", "missing_s", "recover_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"alarm setting {name} must be >= 0, not {getattr(self, name)}")


@dataclass(frozen=True)
class Observation:
    """What the pipeline saw at ``t_s`` (stream seconds).

    ``intensity`` is the smoothed intensity (NaN without a score); ``quality_ok`` False
    when a face was found but is too small or implausible; ``calibrating`` while the
    neutral warms up; ``stream_ok`` False while the source is stalled or reconnecting,
    with ``note`` saying why.
    """

    t_s: float
    intensity: float = math.nan
    face: bool = False
    quality_ok: bool = False
    calibrating: bool = False
    stream_ok: bool = True
    note: str = ""


@dataclass(frozen=True)
class Transition:
    """A state change: when, from and to which state, the intensity then, and why."""

    t_s: float
    previous: str
    state: str
    intensity: float
    reason: str


class AlarmMachine:
    """Feed :meth:`update` observations in time order; it returns a Transition or None."""

    def __init__(self, config: AlarmConfig) -> None:
        if config.threshold is None:
            raise ValueError("the alarm needs a threshold")
        self.config = config
        self.state = NO_FACE
        self._good_since: float | None = None
        self._bad_since: float | None = None
        self._above_since: float | None = None
        self._below_since: float | None = None
        self._cleared_at = -math.inf

    def update(self, obs: Observation) -> Transition | None:
        """Advance to ``obs.t_s``; the transition made, if any."""
        c, t = self.config, obs.t_s
        if not obs.stream_ok:
            self._good_since = None
            return self._go(obs, INDETERMINATE, obs.note or "stream down") if self.state != INDETERMINATE else None
        good = obs.face and obs.quality_ok and math.isfinite(obs.intensity)
        if good:
            self._bad_since = None
            self._good_since = t if self._good_since is None else self._good_since
        else:
            self._good_since = None
            self._bad_since = t if self._bad_since is None else self._bad_since
        if self.state == NO_FACE:
            return self._resume(obs, "face found") if good else None
        if self.state == INDETERMINATE:
            if good and t - self._good_since >= c.recover_s:
                return self._resume(obs, f"good face again for {t - self._good_since:.1f} s")
            return None
        if not good:
            if t - self._bad_since >= c.missing_s:
                what = "face quality low" if obs.face else "face missing"
                return self._go(obs, INDETERMINATE, f"{what} for {t - self._bad_since:.1f} s")
            return None
        if self.state == CALIBRATING:
            return None if obs.calibrating else self._go(obs, OK, "neutral calibrated")
        if self.state == OK:
            self._above_since = (t if self._above_since is None else self._above_since) \
                if obs.intensity >= c.threshold else None
            if self._above_since is not None and t - self._above_since >= c.min_duration_s \
                    and t - self._cleared_at >= c.cooldown_s:
                return self._go(obs, PAIN, f"intensity >= {c.threshold:g} for {t - self._above_since:.1f} s")
            return None
        low = c.threshold - c.hysteresis                        # state PAIN
        self._below_since = (t if self._below_since is None else self._below_since) if obs.intensity < low else None
        if self._below_since is not None and t - self._below_since >= c.clear_s:
            self._cleared_at = t
            return self._go(obs, OK, f"intensity < {low:g} for {t - self._below_since:.1f} s")
        return None

    def _resume(self, obs: Observation, reason: str) -> Transition:
        return self._go(obs, CALIBRATING if obs.calibrating else OK, reason)

    def _go(self, obs: Observation, state: str, reason: str) -> Transition:
        self._above_since = self._below_since = None
        previous, self.state = self.state, state
        return Transition(obs.t_s, previous, state, obs.intensity, reason)
