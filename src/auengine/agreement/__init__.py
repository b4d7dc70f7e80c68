"""Agreement of the engine with trained observers, and between observers (the human ceiling).

- :mod:`.pairing`: engine outputs and observer files as scores; the overlap rule that pairs them;
- :mod:`.stats`: ICC(2,1), ICC(3,1), weighted kappa, r, Bland-Altman, sensitivity/specificity/AUC;
- :mod:`.compute`: every comparison, pooled and per recording (:func:`compute_agreement`);
- :mod:`.report`: agreement.csv / .json / .md, pairs.csv, bland_altman.png.
"""
from __future__ import annotations

from .compute import AgreementResult, compute_agreement
from .run import run_agreement
from .pairing import engine_scores, observer_scores, pair_scores

__all__ = ["AgreementResult", "compute_agreement", "engine_scores", "observer_scores", "pair_scores",
           "run_agreement"]
