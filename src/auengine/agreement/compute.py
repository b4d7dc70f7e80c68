"""Engine vs observers, and observers vs each other: every comparison, pooled and per recording."""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import pandas as pd

from ..errors import InputError
from ..scales import get_scale
from .pairing import observer_scores, pair_scores
from .stats import STAT_NAMES, agreement_stats

ENGINE = "engine"
RESULT_COLUMNS = ["comparison", "rater", "reference", "scale", "scope", "video", *STAT_NAMES, "notes"]


@dataclass
class AgreementResult:
    """What :func:`compute_agreement` found.

    Attributes
    ----------
    table : one row per comparison x scale x scope (``pooled``, or ``recording`` with its ``video``),
        columns ``RESULT_COLUMNS``; ``comparison`` is ``engine`` (engine vs an observer) or
        ``observers`` (observer vs observer: the human ceiling)
    pairs : the paired items of every comparison (``rater``, ``reference`` names; ``rater_score``,
        ``reference_score``; video, start_s, end_s, scale, coverage)
    notes : items left out and why, per comparison
    settings : the options used
    """

    table: pd.DataFrame
    pairs: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def pooled(self) -> pd.DataFrame:
        """The pooled rows only."""
        return self.table[self.table["scope"] == "pooled"].reset_index(drop=True)


def compute_agreement(engine: pd.DataFrame | None, observers: dict[str, pd.DataFrame] | pd.DataFrame, *,
                      min_coverage: float = 0.5, threshold: float | None = None) -> AgreementResult:
    """Agreement of the engine with each observer, and of each pair of observers.

    Parameters
    ----------
    engine : scores ``video, start_s, end_s, scale, score`` (:func:`~.pairing.engine_scores`), or None
        for observers only
    observers : {name: scores table}, or an annotation table with an ``observer`` column (its
        ``kind == "observer"`` rows are used)
    min_coverage : share of a reference span the rater must cover (see :mod:`.pairing`)
    threshold : pain threshold for sensitivity/specificity/AUC (default: each scale's first edge)

    The observer is the reference in engine comparisons; between observers, the later name
    (sorted) is the reference and the earlier one the rater (ICC and r are symmetric; the sign of
    the Bland-Altman bias and sensitivity/specificity are not).
    """
    if isinstance(observers, pd.DataFrame):
        observers = observer_scores(observers)
    if not observers:
        raise InputError("no observer scores given: agreement needs at least one observer")
    names = sorted(observers)
    comparisons = [(ENGINE, ENGINE, engine, name) for name in names] if engine is not None else []
    comparisons += [("observers", a, observers[a], b) for a, b in combinations(names, 2)]
    rows, pair_tables, notes = [], [], []
    for kind, rater_name, rater, reference_name in comparisons:
        pairs = pair_scores(rater, observers[reference_name], min_coverage)
        notes += [f"{rater_name} vs {reference_name}: {n} reference score(s) left out: {reason}"
                  for reason, n in pairs.left_out.items()]
        if not len(pairs.items):
            continue
        items = pairs.items.rename(columns={"rater": "rater_score", "reference": "reference_score"})
        pair_tables.append(items.assign(comparison=kind, rater=rater_name, reference=reference_name))
        for scale_name, by_scale in items.groupby("scale", sort=True):
            scale = get_scale(scale_name)
            scopes = [("pooled", "", by_scale)] + [("recording", video, part) for video, part in
                                                  by_scale.groupby("video", sort=True)]
            for scope, video, part in scopes:
                stats, why = agreement_stats(part["rater_score"].to_numpy(), part["reference_score"].to_numpy(),
                                             scale, threshold)
                rows.append({"comparison": kind, "rater": rater_name, "reference": reference_name,
                             "scale": scale.name, "scope": scope, "video": video, **stats, "notes": "; ".join(why)})
    if not rows:
        raise InputError("no engine or observer scores could be paired: " + ("; ".join(notes) or
                         "check that video names (file stems) and scales match"))
    settings = {"min_coverage": min_coverage, "threshold": threshold, "observers": names,
                "engine": engine is not None}
    return AgreementResult(pd.DataFrame(rows, columns=RESULT_COLUMNS), pd.concat(pair_tables, ignore_index=True),
                           notes, settings)
