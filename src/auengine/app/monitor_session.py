"""What a bed's past-session page draws: a summary, the whole smoothed-intensity curve with state bands, the events.

Input is ``store.live.session_items`` (events and per-second points, docs/monitor.md "Live page");
the curve is laid out here as SVG coordinates so that the page needs no script.
"""
from __future__ import annotations

import math

WIDTH, HEIGHT = 900, 200                      # SVG user units
LEFT, RIGHT, TOP, BOTTOM = 36, 6, 8, 22       # plot margins
MAX_GAP_S = 2.0                               # points further apart than this: data lost, the curve and bands break
STATE_COLOURS = {"pain": "#f4c7c3", "indeterminate": "#fbe3b5", "no-face": "#fbe3b5", "calibrating": "#e4e8ee"}


def _number(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _ticks(top: float, count: int = 5) -> list[float]:
    step = max(1, math.ceil(top / count))
    return [float(v) for v in range(0, int(top) + 1, step)]


def _time_ticks(t0: float, t1: float) -> list[float]:
    span = max(t1 - t0, 1.0)
    step = next(s for s in (10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 4 * 3600, 1e9) if span / s <= 8)
    first = math.ceil(t0 / step) * step
    return [first + i * step for i in range(int((t1 - first) // step) + 1)]


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def session_view(items: list[dict]) -> dict:
    """Summary, curve and bands of one session.

    Points are one a second; points more than ``MAX_GAP_S`` apart (lost data) break the curve and the
    bands. ``duration_s`` runs from the start to the stop event when both are there, else over the points.
    Returns ``summary`` (start, stop, duration_s, alarms, pain_s, indeterminate_s (incl. no face),
    dropped, frames),
    ``events`` (the event items, in order), ``curve`` (SVG polylines of the smoothed intensity,
    broken where it is missing), ``dots`` ((x, y) of lone points), ``bands`` (x, width, state,
    colour per run of a non-ok state),
    ``y_ticks`` / ``x_ticks`` ((position, label) pairs) and the SVG ``width`` / ``height``.
    """
    points = sorted((i for i in items if i.get("kind") == "point" and _number(i.get("t_s")) is not None),
                    key=lambda i: float(i["t_s"]))
    events = [i for i in items if i.get("kind") == "event"]
    times = [float(p["t_s"]) for p in points]
    values = [_number(p.get("intensity_smooth")) for p in points]
    t0, t1 = (times[0], times[-1] + 1.0) if times else (0.0, 1.0)
    top = max([v for v in values if v is not None] + [1.0])
    top = float(math.ceil(top))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return round(LEFT + (t - t0) / (t1 - t0) * plot_w, 1)

    def y(v: float) -> float:
        return round(TOP + plot_h - max(v, 0.0) / top * plot_h, 1)

    lost = [False] + [later - t > MAX_GAP_S for t, later in zip(times, times[1:])]   # data lost before point i
    stretches, line = [], []                            # runs of points with a face and no lost data
    for t, v, gap in zip(times, values, lost):
        if line and (v is None or gap):
            stretches, line = stretches + [line], []
        if v is not None:
            line.append((x(t + 0.5), y(v)))
    stretches += [line] if line else []
    curve = [" ".join(f"{px},{py}" for px, py in s) for s in stretches if len(s) > 1]
    dots = [s[0] for s in stretches if len(s) == 1]     # a lone point would be an invisible polyline

    bands, run = [], None                               # runs of the same non-ok state, one point = one second
    for t, point, gap in zip(times, points, lost):
        state = point.get("state")
        if run and run["state"] == state and not gap:
            run["end"] = t + 1.0
            continue
        if run:
            bands.append(run)
        run = {"state": state, "start": t, "end": t + 1.0} if state in STATE_COLOURS else None
    if run:
        bands.append(run)

    def seconds(*states: str) -> int:
        return round(sum(b["end"] - b["start"] for b in bands if b["state"] in states))

    starts = [e for e in events if e.get("event") == "start"]
    stops = [e for e in events if e.get("event") == "stop"]
    first = starts[0] if starts else points[0] if points else events[0] if events else {}
    start_t = _number(starts[0].get("t_s")) if starts else None
    stop_t = _number(stops[-1].get("t_s")) if stops else None
    duration = stop_t - start_t if None not in (start_t, stop_t) else (t1 - t0 if times else 0.0)
    return {
        "summary": {
            "start": first.get("time"),
            "stop": stops[-1].get("time") if stops else None,
            "duration_s": round(duration),
            "alarms": sum(1 for e in events if e.get("event") == "state" and e.get("state") == "pain"),
            "pain_s": seconds("pain"), "indeterminate_s": seconds("indeterminate", "no-face"),
            "dropped": sum(int(_number(p.get("dropped")) or 0) for p in points),
            "frames": sum(int(_number(p.get("frames")) or 0) for p in points),
        },
        "events": events,
        "curve": curve, "dots": dots,
        "bands": [{"x": x(b["start"]), "width": round(x(b["end"]) - x(b["start"]), 1), "state": b["state"],
                   "colour": STATE_COLOURS[b["state"]]} for b in bands],
        "y_ticks": [(y(v), f"{v:g}") for v in _ticks(top)],
        "x_ticks": [(x(t), _clock(t)) for t in _time_ticks(t0, t1)],
        "plot": {"left": LEFT, "top": TOP, "right": WIDTH - RIGHT, "bottom": TOP + plot_h},
        "width": WIDTH, "height": HEIGHT,
    }
