"""What the recording page draws: the intensity curve, level bands, epochs, missing faces, AU contributions."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..jobs.runner import CONTRIBUTIONS
from ..scales import get_scale
from ..store.models import Epoch, Recording


def _list(values: np.ndarray, digits: int = 3) -> list:
    """Floats rounded, NaN -> None (JSON null)."""
    return [None if not np.isfinite(v) else round(float(v), digits) for v in values]


def timeline_data(result: Path, recording: Recording, epochs: list[Epoch]) -> dict:
    """JSON-ready dict: per-frame time_s, intensity (smoothed), face_found, AU contributions; the scale; epochs."""
    summary = json.loads((result / "summary.json").read_text())
    frames = pd.read_csv(result / "frames.csv", usecols=["frame", "time_s", "face_found", "intensity_smooth"])
    scale = get_scale(summary["scale"])
    contributions = pd.read_csv(result / CONTRIBUTIONS) if (result / CONTRIBUTIONS).is_file() else None
    aus = [c for c in contributions.columns if c != "frame"] if contributions is not None else []
    return {
        "recording": recording.id, "fps": summary["fps"], "duration_s": summary["duration_s"],
        "scale": {"name": scale.name, "low": scale.low, "high": scale.high, "edges": list(scale.edges),
                  "levels": list(scale.level_names)},
        "threshold": summary.get("threshold"), "model": recording.model.name,
        "synthetic_model": recording.model.synthetic, "peak_frame": summary.get("peak_frame"),
        "time_s": _list(frames["time_s"].to_numpy(float), 4),
        "intensity": _list(frames["intensity_smooth"].to_numpy(float)),
        "face_found": [bool(v) for v in frames["face_found"]],
        "aus": aus,
        "contributions": [_list(row) for row in contributions[aus].to_numpy(float)] if aus else [],
        "epochs": [{"id": e.id, "index": e.index, "start_s": e.start_s, "end_s": e.end_s, "label": e.label,
                    "review": e.review_reason} for e in epochs],
    }
