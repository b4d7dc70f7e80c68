"""Agreement (issue 17): ICC against Shrout & Fleiss and an independent ANOVA, constructed cases, pairing, CLI."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from auengine.agreement.pairing import pair_scores, span_means
from auengine.agreement.stats import agreement_stats, icc
from auengine.errors import InputError
from auengine.scales import get_scale

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float)


def anova_icc(ratings: np.ndarray) -> dict[str, float]:
    """ICC(2,1), ICC(3,1) and the ICC(3,1) interval from statsmodels' two-way ANOVA (independent of pingouin)."""
    import statsmodels.api as sm
    from scipy.stats import f
    from statsmodels.formula.api import ols

    n, k = ratings.shape
    long = pd.DataFrame({"item": np.repeat(np.arange(n), k).astype(str), "rater": np.tile(np.arange(k), n).astype(str),
                         "y": ratings.ravel()})
    aov = sm.stats.anova_lm(ols("y ~ C(item) + C(rater)", data=long).fit(), typ=2)
    ms = aov["sum_sq"] / aov["df"]
    bms, jms, ems = ms["C(item)"], ms["C(rater)"], ms["Residual"]
    icc3 = (bms - ems) / (bms + (k - 1) * ems)
    icc2 = (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n)
    f_obs, df1, df2 = bms / ems, n - 1, (n - 1) * (k - 1)
    low, high = f_obs / f.ppf(0.975, df1, df2), f_obs * f.ppf(0.975, df2, df1)
    # ICC(2,1)'s interval: McGraw & Wong (1996), Table 7 (Satterthwaite degrees of freedom v)
    a, b = k * icc2 / (n * (1 - icc2)), 1 + k * icc2 * (n - 1) / (n * (1 - icc2))
    v = (a * jms + b * ems) ** 2 / ((a * jms) ** 2 / (k - 1) + (b * ems) ** 2 / ((n - 1) * (k - 1)))
    f_up, f_down = f.ppf(0.975, n - 1, v), f.ppf(0.975, v, n - 1)
    icc2_low = n * (bms - f_up * ems) / (f_up * (k * jms + (k * n - k - n) * ems) + n * bms)
    icc2_high = n * (f_down * bms - ems) / (k * jms + (k * n - k - n) * ems + n * f_down * bms)
    return {"icc2_1": icc2, "icc3_1": icc3, "icc3_1_low": (low - 1) / (low + k - 1),
            "icc3_1_high": (high - 1) / (high + k - 1), "icc2_1_low": icc2_low, "icc2_1_high": icc2_high}


def test_icc_reproduces_shrout_fleiss_and_an_independent_anova():
    found = icc(SHROUT_FLEISS)
    assert round(found["icc2_1"], 2) == 0.29 and round(found["icc3_1"], 2) == 0.71   # the published values
    reference = anova_icc(SHROUT_FLEISS)
    for key, value in reference.items():
        assert found[key] == pytest.approx(value, abs=1e-6), key
    assert found["icc2_1_low"] < found["icc2_1"] < found["icc2_1_high"]


def independent_stats(x: np.ndarray, y: np.ndarray, scale, threshold: float) -> dict[str, float]:
    """r, Spearman, quadratic kappa, Bland-Altman, sensitivity/specificity and AUC written out with numpy only."""
    ranks = lambda v: pd.Series(v).rank().to_numpy()                 # average ranks for ties
    lx, ly = scale.level(np.clip(x, scale.low, scale.high)), scale.level(np.clip(y, scale.low, scale.high))
    m = scale.n_levels
    observed = np.zeros((m, m))
    np.add.at(observed, (lx, ly), 1)
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    weights = (np.subtract.outer(np.arange(m), np.arange(m)) / (m - 1)) ** 2
    d = x - y
    pain, called = y >= threshold, x >= threshold
    pos, neg = x[pain], x[~pain]                                      # AUC = P(score of pain > no pain), ties half
    auc = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (len(pos) * len(neg))
    return {"pearson_r": np.corrcoef(x, y)[0, 1], "spearman_r": np.corrcoef(ranks(x), ranks(y))[0, 1],
            "kappa_quadratic": 1 - (weights * observed).sum() / (weights * expected).sum(),
            "bias": d.mean(), "loa_low": d.mean() - 1.96 * d.std(ddof=1), "loa_high": d.mean() + 1.96 * d.std(ddof=1),
            "sensitivity": (called & pain).sum() / pain.sum(), "specificity": (~called & ~pain).sum() / (~pain).sum(),
            "auc": auc}


def test_every_statistic_matches_an_independent_implementation():
    rng = np.random.default_rng(11)
    reference = rng.uniform(0, 10, 60).round()                       # an observer's FLACC scores
    rater = np.clip(reference + rng.normal(0.5, 1.5, 60), 0, 10)     # the engine: biased, noisy
    scale = get_scale("flacc")
    found, notes = agreement_stats(rater, reference, scale)
    assert notes == []
    expected = independent_stats(rater, reference, scale, scale.edges[0])
    expected.update(anova_icc(np.column_stack([rater, reference])))
    for key, value in expected.items():
        assert found[key] == pytest.approx(value, abs=1e-6), key


def test_icc_independent_on_random_ratings():
    ratings = np.random.default_rng(4).normal(size=(40, 1)) + np.random.default_rng(5).normal(0, 0.6, (40, 2))
    found, reference = icc(ratings), anova_icc(ratings)
    assert all(found[key] == pytest.approx(value, abs=1e-6) for key, value in reference.items())


def test_constructed_case_constant_offset():
    """rater = reference + c: ICC(3,1) = 1, ICC(2,1) = s^2 / (s^2 + c^2 / 2), bias = c, LoA = c, r = 1."""
    reference = np.arange(10.0)                    # FLACC 0..9, sample variance 55/6
    c = 1.0
    stats, notes = agreement_stats(reference + c, reference, get_scale("flacc"))
    s2 = reference.var(ddof=1)
    assert stats["icc3_1"] == pytest.approx(1.0, abs=1e-9)
    assert stats["icc2_1"] == pytest.approx(s2 / (s2 + c ** 2 / 2), abs=1e-9)
    assert stats["bias"] == pytest.approx(c) and stats["loa_low"] == pytest.approx(c) == stats["loa_high"]
    assert stats["pearson_r"] == pytest.approx(1.0) and stats["spearman_r"] == pytest.approx(1.0)
    # reference >= 2.5 is pain (items 3..9); the rater calls items 2..9 -> one false positive among 3 negatives
    assert stats["sensitivity"] == 1.0 and stats["specificity"] == pytest.approx(2 / 3) and stats["auc"] == 1.0
    assert notes == []


def test_constructed_case_bland_altman_and_kappa():
    """Differences alternate 0.5 +/- 0.2: bias 0.5, SD 0.2 sqrt(n / (n - 1)); kappa against its definition."""
    n = 20
    reference = np.linspace(0, 9.5, n)
    rater = reference + 0.5 + np.where(np.arange(n) % 2, 0.2, -0.2)
    scale = get_scale("flacc")
    stats, _ = agreement_stats(rater, reference, scale)
    sd = 0.2 * np.sqrt(n / (n - 1))
    assert stats["bias"] == pytest.approx(0.5) and stats["sd_diff"] == pytest.approx(sd)
    assert stats["loa_low"] == pytest.approx(0.5 - 1.96 * sd) and stats["loa_high"] == pytest.approx(0.5 + 1.96 * sd)
    # quadratic-weighted kappa from its definition: 1 - sum(w O) / sum(w E), w_ij = (i - j)^2 / (K - 1)^2
    a, b = scale.level(np.clip(rater, 0, 10)), scale.level(reference)
    k = scale.n_levels
    observed = np.zeros((k, k))
    np.add.at(observed, (a, b), 1)
    expected = np.outer(observed.sum(1), observed.sum(0)) / n
    weights = (np.arange(k)[:, None] - np.arange(k)[None, :]) ** 2 / (k - 1) ** 2
    assert stats["kappa_quadratic"] == pytest.approx(1 - (weights * observed).sum() / (weights * expected).sum(),
                                                     abs=1e-12)
    assert 0.5 < stats["kappa_quadratic"] < 1


def test_undefined_statistics_are_nan_with_a_reason():
    stats, notes = agreement_stats(np.array([1.0, 1.0, 1.0]), np.array([1.0, 1.0, 1.0]), get_scale("flacc"))
    assert np.isnan(stats["icc2_1"]) and np.isnan(stats["kappa_quadratic"]) and np.isnan(stats["auc"])
    assert stats["bias"] == 0 and any("ICC undefined" in n for n in notes) and any("AUC" in n for n in notes)
    stats, notes = agreement_stats(np.array([1.0, 2.0]), np.array([1.0, 2.0]), get_scale("flacc"))
    assert np.isnan(stats["bias"]) and "at least 3" in notes[0]


def test_overlap_rule():
    value, coverage = span_means(np.array([0.5, 2.5, 1.2, 5.0]), np.array([2.0, 4.0, 1.2, 6.0]),
                                 np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    assert value[0] == pytest.approx((0.5 * 1 + 1.0 * 2) / 1.5) and coverage[0] == pytest.approx(1.0)
    assert value[1] == pytest.approx(3.0) and coverage[1] == pytest.approx(0.5 / 1.5)
    assert value[2] == 2.0 and coverage[2] == 1.0                          # a point takes the span containing it
    assert np.isnan(value[3]) and coverage[3] == 0
    rater = pd.DataFrame({"video": "a", "start_s": [0.0, 1.0, 2.0], "end_s": [1.0, 2.0, 3.0], "scale": "flacc",
                          "score": [1.0, 2.0, 3.0]})
    reference = pd.DataFrame({"video": ["a", "a", "a", "b"], "start_s": [0.5, 2.5, 0.0, 0.0],
                              "end_s": [2.0, 4.0, 1.0, 1.0], "scale": ["flacc", "flacc", "nips", "flacc"],
                              "score": [2.0, 3.0, 1.0, 1.0]})
    pairs = pair_scores(rater, reference)
    assert len(pairs.items) == 1 and pairs.items.loc[0, "rater"] == pytest.approx(5 / 3)
    assert sum(pairs.left_out.values()) == 3 and any("scale nips" in k for k in pairs.left_out)


# -- end to end: a fake score output, observers in CSV and ELAN ------------------------------------------
def fake_score_output(folder, video: str, intensity: np.ndarray, fps: float = 10.0):
    """OUT/<stem>/ as auengine score writes it: summary.json, frames.csv, epochs.csv (1 s epochs)."""
    target = folder / video.rsplit(".", 1)[0]
    target.mkdir(parents=True)
    t = np.arange(len(intensity)) / fps
    pd.DataFrame({"time_s": t, "intensity_smooth": intensity}).to_csv(target / "frames.csv", index=False)
    starts = np.arange(int(np.ceil(len(intensity) / fps)))
    means = [intensity[(t >= s) & (t < s + 1)].mean() for s in starts]
    scale = get_scale("flacc")
    pd.DataFrame({"epoch": starts, "label": "", "start_s": starts.astype(float), "end_s": starts + 1.0,
                  "intensity_mean": means, "level": scale.level(np.clip(means, 0, 10)),
                  "review": ["low confidence (0.20)" if i == 1 else "" for i in starts]}).to_csv(target / "epochs.csv",
                                                                                                index=False)
    (target / "summary.json").write_text(json.dumps({"video": f"/data/{video}", "scale": "flacc", "fps": fps}))
    return target


def test_cli_agreement_end_to_end(tmp_path):
    from auengine.cli import main
    from auengine.interop import annotation_table, write_eaf

    rng = np.random.default_rng(0)
    truth = {v: np.clip(5 + 4 * np.sin(np.arange(200) / 15 + k), 0, 10) for k, v in enumerate(["a.mp4", "b.mp4"])}
    for video, curve in truth.items():
        fake_score_output(tmp_path / "scored", video, np.clip(curve + rng.normal(0, 0.8, 200), 0, 10))
    rows = []
    for video, curve in truth.items():
        for start in range(0, 20, 2):
            score = float(np.round(curve[start * 10:(start + 2) * 10].mean()))
            rows += [{"video": video, "start_s": start, "end_s": start + 2, "scale": "flacc", "score": score,
                      "observer": "nurse A"},
                     {"video": video, "start_s": start, "end_s": start + 2, "scale": "flacc",
                      "score": float(np.clip(score + rng.integers(-1, 2), 0, 10)), "observer": "nurse B"}]
    table = pd.DataFrame(rows)
    table[table["observer"] == "nurse A"].to_csv(tmp_path / "nurse_a.csv", index=False)
    b = annotation_table(table[(table["observer"] == "nurse B") & (table["video"] == "a.mp4")])
    write_eaf(b, tmp_path / "a.eaf")
    out = tmp_path / "agreement"
    assert main(["agreement", str(tmp_path / "scored"), str(tmp_path / "nurse_a.csv"), str(tmp_path / "a.eaf"),
                 "--out", str(out)]) == 0
    result = pd.read_csv(out / "agreement.csv", keep_default_na=False, na_values=[""])
    pooled = result[result["scope"] == "pooled"].set_index(["rater", "reference"])
    assert set(pooled.index) == {("engine", "nurse A"), ("engine", "nurse B"), ("nurse A", "nurse B")}
    assert pooled.loc[("engine", "nurse A"), "n"] == 20 and pooled.loc[("nurse A", "nurse B"), "n"] == 10
    assert pooled.loc[("engine", "nurse A"), "icc2_1"] > 0.8                 # engine curve = truth + noise
    # the pooled engine row equals the statistics of the paired items computed directly
    pairs = pd.read_csv(out / "pairs.csv")
    mine = pairs[(pairs["rater"] == "engine") & (pairs["reference"] == "nurse A")]
    direct, _ = agreement_stats(mine["rater_score"].to_numpy(), mine["reference_score"].to_numpy(), get_scale("flacc"))
    assert pooled.loc[("engine", "nurse A"), "icc3_1"] == pytest.approx(direct["icc3_1"], abs=1e-9)
    assert set(result.loc[result["scope"] == "recording", "video"]) == {"a", "b"}
    report = json.loads((out / "agreement.json").read_text())           # strict JSON: NaN written as null
    assert len(report["results"]) == len(result)
    assert "human ceiling" in (out / "agreement.md").read_text() and (out / "bland_altman.png").stat().st_size > 5000
    assert main(["agreement", str(tmp_path / "scored"), str(tmp_path / "nurse_a.csv"), "--unit", "frames",
                 "--out", str(tmp_path / "frames")]) == 0


def test_nothing_paired_is_an_error(tmp_path):
    from auengine.agreement import run_agreement

    fake_score_output(tmp_path / "scored", "a.mp4", np.full(30, 3.0))
    pd.DataFrame({"video": ["zzz.mp4"] * 3, "start_s": [0, 1, 2], "end_s": [1, 2, 3], "scale": "flacc",
                  "score": [1, 2, 3], "observer": "n"}).to_csv(tmp_path / "n.csv", index=False)
    with pytest.raises(InputError, match="video not scored"):
        run_agreement(tmp_path / "scored", [tmp_path / "n.csv"])
    with pytest.raises(InputError, match="no auengine score output"):
        run_agreement(tmp_path, [tmp_path / "n.csv"])
