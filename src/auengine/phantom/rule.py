"""Pain rules: how phantom AU intensities make a pain score (and level) on a scale."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ..errors import InputError
from ..scales import PainScale, get_scale
from .face import MAX_INTENSITY, PHANTOM_AUS

#: the infant pattern AuE-IPA found (paper Fig. 5/6): mouth-dominated; weights in score points
#: per full-intensity AU on the 0-10 FLACC scale, summing to 10
DEFAULT_WEIGHTS = {"AU27": 2.5, "AU25": 2.0, "AU10": 1.5, "AU20": 1.5, "AU9": 1.0, "AU6": 1.0, "AU12": 0.5}
#: an alternative that puts pain in the brows and eyes (PSPI-like), to check that rankings follow the rule
UPPER_FACE_WEIGHTS = {"AU4": 3.0, "AU43": 2.5, "AU7": 2.0, "AU6": 1.5, "AU1": 1.0}
PRESETS = {"default": DEFAULT_WEIGHTS, "upper-face": UPPER_FACE_WEIGHTS}
#: AUs that co-occur in a crying bout (NFCS: brow bulge, eye squeeze, nasolabial furrow, open mouth)
CRY_AUS = ("AU4", "AU6", "AU7", "AU9", "AU10", "AU20", "AU25", "AU27", "AU43")
RULE_FIELDS = {"name", "weights", "noise", "scale", "bias", "interactions", "cry_correlation"}


@dataclass(frozen=True)
class PainRule:
    """score = clip(bias + sum_AU w_AU * I_AU/5 + sum_pairs w_ij * (I_i/5)(I_j/5) + noise * N(0, 1)).

    Parameters
    ----------
    weights : dict[str, float]
        Score points per AU at full intensity (5). AUs left out have weight 0 and
        vary independently of pain (distractors).
    noise : float
        Standard deviation of the score noise, in score points.
    scale : str
        Pain scale that bins the score into levels (default FLACC, 4 levels).
    bias : float
        Score with every AU at 0.
    interactions : dict[str, float]
        Extra points for AU pairs, keyed "AU25*AU27".
    cry_correlation : float
        0..1: how strongly the zero-weight AUs of a crying bout (CRY_AUS) follow the
        pain drive instead of varying independently.
    """

    weights: dict = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    noise: float = 0.4
    scale: str = "flacc"
    bias: float = 0.0
    interactions: dict = field(default_factory=dict)
    cry_correlation: float = 0.0
    name: str = "custom"

    def __post_init__(self) -> None:
        for au in list(self.weights) + [a for pair in self.interactions for a in pair.split("*")]:
            if au not in PHANTOM_AUS:
                raise InputError(f"pain rule {self.name!r}: unknown AU {au!r}; use {', '.join(PHANTOM_AUS)}")
        if any(len(pair.split("*")) != 2 for pair in self.interactions):
            raise InputError(f"pain rule {self.name!r}: interactions are keyed like 'AU25*AU27'")
        if self.noise < 0 or not 0 <= self.cry_correlation <= 1:
            raise InputError(f"pain rule {self.name!r}: noise must be >= 0 and cry_correlation in [0, 1]")
        get_scale(self.scale)

    @property
    def pain_scale(self) -> PainScale:
        """The scale scores are binned by."""
        return get_scale(self.scale)

    def weight_vector(self) -> np.ndarray:
        """Weights in PHANTOM_AUS order, shape (12,)."""
        return np.array([float(self.weights.get(au, 0.0)) for au in PHANTOM_AUS])

    def score(self, intensities: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Pain scores (N,) for intensities (N, 12) in PHANTOM_AUS order (0-5); noise needs ``rng``."""
        fractions = np.clip(np.atleast_2d(intensities), 0, MAX_INTENSITY) / MAX_INTENSITY
        raw = self.bias + fractions @ self.weight_vector()
        for pair, weight in self.interactions.items():
            a, b = (PHANTOM_AUS.index(au) for au in pair.split("*"))
            raw = raw + weight * fractions[:, a] * fractions[:, b]
        if rng is not None and self.noise:
            raw = raw + rng.normal(0, self.noise, len(raw))
        scale = self.pain_scale
        return np.clip(raw, scale.low, scale.high)

    def to_dict(self) -> dict:
        """Plain dict (JSON/YAML-ready)."""
        return asdict(self)


def load_rule(source: str | Path | dict | PainRule | None) -> PainRule:
    """A PainRule from a preset name ("default", "upper-face"), a YAML/JSON file, a dict, or None."""
    if source is None:
        return PainRule(name="default")
    if isinstance(source, PainRule):
        return source
    if isinstance(source, dict):
        data, where = dict(source), "rule"
    elif str(source) in PRESETS:
        return PainRule(weights=dict(PRESETS[str(source)]), name=str(source))
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"pain rule {source!r} is neither a preset ({', '.join(PRESETS)}) nor a file")
        try:
            data = (json.loads if path.suffix.lower() == ".json" else yaml.safe_load)(path.read_text())
        except (ValueError, yaml.YAMLError) as exc:
            raise InputError(f"{path}: cannot parse the pain rule ({exc})".replace("\n", " ")) from None
        where = str(path)
        if not isinstance(data, dict):
            raise InputError(f"{path}: a pain rule is a mapping with 'weights' (and noise, scale, ...)")
        data.setdefault("name", path.stem)
    unknown = set(data) - RULE_FIELDS
    if unknown:
        raise InputError(f"{where}: unknown field {sorted(unknown)[0]!r}; allowed: {', '.join(sorted(RULE_FIELDS))}")
    if not isinstance(data.get("weights"), dict):
        raise InputError(f"{where}: 'weights' must map AU ids to score points, e.g. {{AU27: 2.5}}")
    return PainRule(**data)
