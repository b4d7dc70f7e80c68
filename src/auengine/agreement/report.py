"""Write an agreement result: agreement.csv, agreement.json, agreement.md, pairs.csv, bland_altman.png."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.tables import atomic_write_bytes, atomic_write_json, write_table
from ..report.markdown import markdown_table
from .compute import AgreementResult

MAX_PANELS = 6


def write_agreement(result: AgreementResult, out: str | Path) -> dict[str, Path]:
    """Write every output into ``out`` (atomically); returns {name: path}."""
    out = Path(out)
    paths = {"csv": write_table(result.table, out / "agreement.csv"),
             "pairs": write_table(result.pairs, out / "pairs.csv"),
             "json": atomic_write_json(out / "agreement.json", {
                 "settings": result.settings, "notes": result.notes,
                 "results": [_clean(r) for r in result.table.to_dict("records")]}),
             "plot": bland_altman_figure(result, out / "bland_altman.png")}
    paths["md"] = atomic_write_bytes(out / "agreement.md", agreement_markdown(result).encode())
    return paths


def _clean(record: dict) -> dict:
    """JSON-safe values: NaN -> None, numpy scalars -> Python."""
    out = {}
    for key, value in record.items():
        if isinstance(value, (np.integer, np.floating)):
            value = value.item()
        out[key] = None if isinstance(value, float) and math.isnan(value) else value
    return out


def _interval(value: float, low: float, high: float) -> str:
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.2f} [{low:.2f}, {high:.2f}]" if np.isfinite(low) and np.isfinite(high) else f"{value:.2f}"


def _number(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if np.isfinite(value) else "n/a"


def summary_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The human-readable columns of result rows (ICCs with intervals, kappa, r, Bland-Altman, sens/spec/AUC)."""
    return pd.DataFrame({
        "rater": table["rater"], "reference": table["reference"], "scale": table["scale"],
        "video": table["video"].replace("", "all"), "n": table["n"].astype(int),
        "ICC(2,1) [95% CI]": [_interval(r.icc2_1, r.icc2_1_low, r.icc2_1_high) for r in table.itertuples()],
        "ICC(3,1) [95% CI]": [_interval(r.icc3_1, r.icc3_1_low, r.icc3_1_high) for r in table.itertuples()],
        "kappa (quadratic)": table["kappa_quadratic"].map(_number),
        "Pearson r": table["pearson_r"].map(_number), "Spearman r": table["spearman_r"].map(_number),
        "bias [LoA]": [f"{_number(r.bias)} [{_number(r.loa_low)}, {_number(r.loa_high)}]" for r in table.itertuples()],
        "sens / spec": [f"{_number(r.sensitivity)} / {_number(r.specificity)}" for r in table.itertuples()],
        "AUC": table["auc"].map(_number)})


def agreement_markdown(result: AgreementResult) -> str:
    """agreement.md: pooled engine rows, the human ceiling, per recording, notes."""
    table = result.table
    pooled = table[table["scope"] == "pooled"]
    lines = ["# Agreement", "",
             f"Pairing: each observer span is an item; a rater's value is its overlap-weighted mean over the span "
             f"(kept when it covers >= {result.settings.get('min_coverage', 0.5):.0%}). Engine unit: "
             f"{result.settings.get('unit', 'given table')}. Pain threshold (reference >= threshold is pain): "
             f"{', '.join(sorted({f'{s} {t:g}' for s, t in zip(table['scale'], table['threshold'])}))}. "
             "Bias = rater - reference; LoA = bias +/- 1.96 SD.", ""]
    for kind, title in (("engine", "Engine vs observers (pooled)"),
                        ("observers", "Observer vs observer (pooled): the human ceiling")):
        part = pooled[pooled["comparison"] == kind]
        if len(part):
            lines += [f"## {title}", "", markdown_table(summary_rows(part).drop(columns=["video"])), ""]
    per_video = table[table["scope"] == "recording"]
    if len(per_video):
        lines += ["## Per recording", "", markdown_table(summary_rows(per_video)), ""]
    undefined = table.loc[table["notes"] != "", ["rater", "reference", "video", "notes"]]
    if len(result.notes) or len(undefined):
        lines += ["## Notes", ""] + [f"- {note}" for note in result.notes]
        lines += [f"- {r.rater} vs {r.reference} ({r.video or 'pooled'}): {r.notes}" for r in undefined.itertuples()]
        lines.append("")
    lines += ["Bland-Altman plots: bland_altman.png; paired items: pairs.csv.", ""]
    return "\n".join(lines)


def bland_altman_figure(result: AgreementResult, path: str | Path) -> Path:
    """One Bland-Altman panel per pooled comparison (up to MAX_PANELS): difference against mean, bias and LoA."""
    from ..report.figures import _pyplot, save_figure

    plt = _pyplot()
    pooled = result.pooled().head(MAX_PANELS)
    columns = min(3, max(1, len(pooled)))
    rows = math.ceil(max(1, len(pooled)) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), dpi=110, squeeze=False)
    for ax in axes.ravel()[len(pooled):]:
        ax.axis("off")
    for ax, row in zip(axes.ravel(), pooled.itertuples()):
        items = result.pairs[(result.pairs["rater"] == row.rater) & (result.pairs["reference"] == row.reference)
                             & (result.pairs["scale"] == row.scale)]
        mean = (items["rater_score"] + items["reference_score"]) / 2
        difference = items["rater_score"] - items["reference_score"]
        ax.scatter(mean, difference, s=10, alpha=0.5, color="tab:blue" if row.comparison == "engine" else "tab:green")
        for value, style, name in ((row.bias, "-", "bias"), (row.loa_low, "--", "-1.96 SD"),
                                   (row.loa_high, "--", "+1.96 SD")):
            if np.isfinite(value):
                ax.axhline(value, color="black", linestyle=style, linewidth=0.9)
                ax.annotate(f"{name} {value:.2f}", (1.0, value), xycoords=("axes fraction", "data"), ha="right",
                            va="bottom", fontsize=7)
        ax.set_xlabel(f"mean of the two ({row.scale.upper()})", fontsize=8)
        ax.set_ylabel(f"{row.rater} - {row.reference}", fontsize=8)
        ax.set_title(f"{row.rater} vs {row.reference} (n = {int(row.n)})", fontsize=9)
    if not len(pooled):
        axes[0, 0].text(0.5, 0.5, "no paired items", ha="center", va="center")
    return save_figure(fig, path)
