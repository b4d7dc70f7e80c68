"""Model bundles: a folder with manifest.json and regressor.safetensors (DESIGN.md "Model bundle").

Loading never unpickles: the weights are safetensors (plain arrays), the rest JSON.
A bundle is refused with a BundleError when a file's sha256 differs from the one
recorded (tampered or corrupted), when its format version is not this one, or (at
prediction time) when an AU table lacks the bundle's AUs.
"""
from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .columns import au_column
from .errors import BundleError, InputError
from .estimators.aueipa import AuEIPARegressor
from .io.tables import atomic_write_bytes, atomic_write_json

FORMAT = "auengine-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
WEIGHTS = "regressor.safetensors"
#: regressor hyper-parameters stored in the bundle (everything but the AUs and engagement)
PARAMS = ("weighted", "hidden", "dropout", "lr", "batch_size", "epochs", "scale", "random_state")


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class Bundle:
    """A loaded bundle: the fitted regressor and the manifest's fields."""

    regressor: AuEIPARegressor
    manifest: dict
    path: Path

    @property
    def aus(self) -> list[str]:
        """AU ids the regressor reads, in input order."""
        return list(self.manifest["aus"])

    @property
    def scale(self):
        """The bundle's pain scale (a :class:`auengine.scales.PainScale`)."""
        from .scales import get_scale

        return get_scale(self.manifest["scale"])

    @property
    def synthetic(self) -> bool:
        """Whether the bundle was trained on synthetic (phantom) faces; unknown counts as not synthetic."""
        return bool(self.manifest.get("training_data", {}).get("synthetic", False))

    def check_table(self, table: pd.DataFrame, source: str = "the AU table") -> None:
        """Refuse a table that lacks the bundle's AUs."""
        missing = [au_column(au) for au in self.aus if au_column(au) not in table.columns]
        if missing:
            raise BundleError(f"{source} lacks {', '.join(missing)}, needed by bundle {self.path} "
                              f"(AUs {', '.join(self.aus)}); compute them with `auengine aus`")

    def predict(self, table: pd.DataFrame, source: str = "the AU table") -> pd.DataFrame:
        """Per-row intensity (on the bundle's scale, clipped to its range) and level; NaN AUs give NaN."""
        self.check_table(table, source)
        scale = self.scale
        values = table[[au_column(au) for au in self.aus]].to_numpy(float)
        ok = np.isfinite(values).all(axis=1)
        intensity = np.full(len(table), np.nan)
        level = np.full(len(table), np.nan)
        if ok.any():
            raw = self.regressor.predict(values[ok])
            intensity[ok] = np.clip(raw, scale.low, scale.high)
            level[ok] = scale.level(intensity[ok])
        return pd.DataFrame({"intensity": intensity, "level": level}, index=table.index)


def save_bundle(folder: str | Path, regressor: AuEIPARegressor, *, rules, engagement: pd.Series,
                preprocessing: dict, training_data: dict, extra: dict | None = None) -> Path:
    """Write ``folder``/manifest.json + regressor.safetensors for a fitted regressor; returns the folder.

    ``rules`` is the AURules used for the engagement; ``engagement`` the full ranking
    (AU -> engagement level); ``training_data`` must say whether the data were synthetic.
    """
    from safetensors.numpy import save

    from . import __version__

    if "synthetic" not in training_data:
        raise BundleError("training_data must say whether the data were synthetic ('synthetic': true/false)")
    folder = Path(folder)
    arrays = {name: np.ascontiguousarray(value, dtype=np.float64) for name, value in regressor.state_arrays().items()}
    atomic_write_bytes(folder / WEIGHTS, save(arrays))
    aus = list(regressor.aus)
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "auengine_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "rules": {"name": rules.name, "sha256": rules.sha256},
        "aus": aus, "k": len(aus),
        "engagement": {au: float(v) for au, v in engagement.items()},
        "scale": regressor.scale,
        "regressor": {name: getattr(regressor, name) for name in PARAMS},
        "preprocessing": preprocessing, "training_data": training_data, **(extra or {}),
        "files": {WEIGHTS: sha256(folder / WEIGHTS)},
    }
    atomic_write_json(folder / MANIFEST, manifest)
    return folder


def load_bundle(folder: str | Path) -> Bundle:
    """Load and verify a bundle folder (never unpickles)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise BundleError(f"{folder}: not a bundle (no {MANIFEST}); make one with `auengine fit` or `auengine train-regressor`")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: not valid JSON ({exc}); the bundle is damaged, re-create it") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{path}: format {manifest.get('format')!r} version {manifest.get('format_version')!r} "
                          f"is not {FORMAT!r} version {FORMAT_VERSION} (auengine {_version()}); "
                          f"re-create the bundle with this auengine")
    files = manifest.get("files") or {}
    if WEIGHTS not in files:
        raise BundleError(f"{path}: no sha256 recorded for {WEIGHTS}; the bundle is incomplete, re-create it")
    for name, recorded in files.items():
        file = folder / name
        if not file.is_file():
            raise BundleError(f"{folder}: {name} is missing; copy the whole bundle folder")
        if sha256(file) != recorded:
            raise BundleError(f"{file}: sha256 differs from the one in {MANIFEST} (tampered or corrupted); "
                              "refusing to load it")
    try:
        arrays = load_file(str(folder / WEIGHTS))
    except (SafetensorError, OSError) as exc:
        raise BundleError(f"{folder / WEIGHTS}: unreadable safetensors ({exc})") from None
    settings = {name: manifest["regressor"][name] for name in PARAMS}
    regressor = AuEIPARegressor(aus=list(manifest["aus"]), engagement=manifest["engagement"], **settings)
    try:
        regressor.load_state_arrays(arrays)
    except (KeyError, ValueError, InputError) as exc:
        raise BundleError(f"{folder / WEIGHTS}: weights do not match the manifest ({exc})") from None
    if regressor.n_features_in_ != len(manifest["aus"]):
        raise BundleError(f"{folder / WEIGHTS}: {regressor.n_features_in_} inputs but {len(manifest['aus'])} AUs listed")
    return Bundle(regressor, manifest, folder)


def _version() -> str:
    from . import __version__

    return __version__
