"""AU engagement of trained e2e models: a method (engagement_methods.py) on each fold's held-out subjects.

For every fold in RUN, the fold's model scores its test (or validation) subjects'
aligned face crops; per-AU values of the predicted class are kept for correctly
classified images (predicted = true level, so it is the true class's) and accumulated
per AU region (landmarks from the manifest or detected, mapped through the crop's
affine). Streaming: batches are processed and dropped.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from ..au.rules import load_rules
from ..engagement_methods import (REST_METHODS, CenterDistances, accumulator_for, check_method, engagement_values,
                                  method_ties, resolution_px)
from ..explain.au_surrogate import expected_level
from ..errors import InputError
from ..io.tables import write_table
from ..models.data import ManifestImages
from ..models.train import load_model
from ..report.figures import cam_overlay, engagement_chart
from ..report.overlay import write_png
from ..progress import bar, stage


def fold_dirs(run: Path) -> list[Path]:
    """The fold folders of a train-e2e run."""
    folds = sorted(p for p in Path(run).glob("fold*") if (p / "model.json").is_file())
    if not folds:
        raise InputError(f"{run}: no trained folds (fold*/model.json); run `auengine train-e2e` first")
    return folds


def held_out_subjects(run: str | Path, folds: list[Path], table: pd.DataFrame) -> set[str]:
    """The run's held-out (test) subjects that the manifest has images of.

    Raises
    ------
    InputError
        When the manifest has none of them: it is not the data the run was trained on.
    """
    held_out: set[str] = set()
    for fold in folds:
        held_out |= set(map(str, json.loads((fold / "split.json").read_text())["test_subjects"]))
    present = held_out & set(table["subject"].astype(str))
    if not present:
        theirs = sorted(set(table["subject"].astype(str)))
        raise InputError(f"none of the run's {len(held_out)} held-out subjects ({', '.join(sorted(held_out)[:4])}"
                         f"{', ...' if len(held_out) > 4 else ''}) is in this manifest (its subjects: "
                         f"{', '.join(theirs[:4])}{', ...' if len(theirs) > 4 else ''}); give the manifest {run} "
                         "was trained on")
    return present


#: a held-out unweighted accuracy below this multiple of chance (1 / levels) is reported as not learned
LEARNED_UA_FACTOR = 1.5
#: bootstrap intervals by subject on fewer subjects than this are reported as not meaningful
MIN_SUBJECTS = 5


def reliability_notes(run: str | Path, n_levels: int, n_subjects: int, counted: str = "correctly classified"
                      ) -> list[tuple[str, str]]:
    """What makes a ranking from ``run`` untrustworthy, as (headline, advice) pairs: a model near
    chance on its held-out subjects (mean UA in RUN/metrics.csv < LEARNED_UA_FACTOR / n_levels),
    or intervals resampling fewer than MIN_SUBJECTS subjects (with ``counted`` images). Empty when
    neither applies."""
    notes = []
    metrics = Path(run) / "metrics.csv"
    if metrics.is_file():
        ua = float(pd.read_csv(metrics)["UA"].mean())
        if ua < LEARNED_UA_FACTOR / n_levels:
            notes.append((f"model near chance (held-out UA {ua:.2f}, chance {1 / n_levels:.2f})",
                          "it has probably not learned the levels, so the ranking describes the model, not where "
                          "pain is; train longer or on more subjects"))
    if n_subjects < MIN_SUBJECTS:
        notes.append((f"only {n_subjects} subject(s) with {counted} images",
                      f"intervals by subject need at least {MIN_SUBJECTS} to mean anything"))
    return notes


def crop_landmarks(dataset: ManifestImages, indices) -> np.ndarray:
    """Landmarks (N, 68, 2) of dataset rows mapped through each row's crop affine (network input pixels)."""
    from ..faces.crop import apply_affine, crop_affine

    prep = dataset.prep
    return np.stack([apply_affine(crop_affine(dataset.landmarks[i], prep.size, align=prep.align, zoom=prep.zoom),
                                  dataset.landmarks[i]) for i in indices])


def resting_rows(rows: pd.DataFrame) -> dict[str, int]:
    """Per subject, the position (in ``rows``) of its least painful image: lowest level, then lowest score.

    Occlusion fills a region with this image's same place (aligned crops): the subject's resting face.
    """
    order = rows.assign(_position=np.arange(len(rows)), _subject=rows["subject"].astype(str))
    keys = ["_subject", "level"] + (["score"] if "score" in rows.columns else []) + ["_position"]
    first = order.sort_values(keys).drop_duplicates("_subject")
    return dict(zip(first["_subject"], first["_position"].astype(int)))


def run_engagement(run: str | Path, table: pd.DataFrame, out_dir: str | Path, *, rules: str = "infant",
                   method: str = "gradcam", batch_size: int = 16, n_boot: int = 1000, overlays_per_level: int = 3,
                   target_layer: str | None = None, deidentify: str | None = None,
                   progress: bool | None = None) -> pd.DataFrame:
    """Engagement over all folds' held-out subjects; writes engagement.csv, per-level CSV, chart and overlays.

    ``method``: "gradcam" (the paper's Eq. 2; this function's default, which the AuE-IPA chain in
    evaluation/experiment.py relies on), "fused" (LayerCAM on layer3 + layer4), "occlusion"
    (docs/engagement.md), "integrated" (integrated gradients from the resting face) or
    "surrogate" (the model's expected level regressed on landmark AU intensities, every image
    counted); engagement_methods.py.
    ``target_layer``: a module name ("layer3") for Grad-CAM instead of the last conv block. Inputs are the aligned face crops training fed
    (models/preprocess.py), landmarks mapped through the same affine. The table's
    ``tied_with`` column lists AUs whose region centres are closer than the method's
    resolution (surrogate: whose intensities correlate >= 0.9): their relative order is not meaningful. ``attrs["notes"]`` (also the CSV's ``notes``
    column and the chart's title) says when the ranking is not to be trusted (reliability_notes).
    ``deidentify`` ("blur", "mask", "phantom"): the faces under the CAM overlays are de-identified
    (deidentify.py; the CAM is the real crop's, drawn on the shareable one).
    """
    check_method(method)
    if deidentify:
        from ..deidentify import check_mode, deidentify as deidentify_image

        check_mode(deidentify)
    if target_layer is not None and method != "gradcam":
        raise InputError(f"--target-layer applies to --method gradcam only, not {method!r}: add --method gradcam")
    out_dir = Path(out_dir)
    rule_set = load_rules(rules)
    accumulator, distances = accumulator_for(method, rule_set), CenterDistances(rule_set)
    examples: dict[int, list] = {}
    folds = fold_dirs(run)
    held_out_subjects(run, folds, table)
    resolution = None
    for fold in folds:
        model, config = load_model(fold)
        layer = None
        if target_layer is not None:
            modules = dict(model.named_modules())
            if target_layer not in modules:
                raise InputError(f"{fold}: the model has no layer {target_layer!r} (e.g. layer3, layer4)")
            layer = modules[target_layer]
        resolution = resolution_px(method, model, config.size, rule_set, layer)
        held_out = set(json.loads((fold / "split.json").read_text())["test_subjects"])
        rows = table[table["subject"].astype(str).isin(held_out)]
        stage(f"{method} engagement, {fold.name}: {len(rows)} images of {len(held_out)} held-out subjects")
        dataset = ManifestImages(rows, train=False, prep=config.preprocessing)
        rest_of = resting_rows(rows) if method in REST_METHODS + ("surrogate",) else None
        rest_cache: dict[int, torch.Tensor] = {}
        for start in bar(range(0, len(rows), batch_size), desc=f"engagement {fold.name}", progress=progress):
            batch = rows.iloc[start:start + batch_size]
            indices = range(start, start + len(batch))
            images = torch.stack([dataset[i][0] for i in indices])
            landmarks = crop_landmarks(dataset, indices)
            rest = rest_points = None
            if method in REST_METHODS:
                for position in (rest_of[s] for s in batch["subject"].astype(str)):
                    rest_cache.setdefault(position, dataset[position][0])
                rest = torch.stack([rest_cache[rest_of[s]] for s in batch["subject"].astype(str)])
            elif method == "surrogate":
                rest_points = crop_landmarks(dataset, [rest_of[s] for s in batch["subject"].astype(str)])
            values, logits, cams = engagement_values(method, model, images, landmarks, rule_set, target_layer=layer,
                                                     rest_images=rest, rest_landmarks=rest_points)
            levels = batch["level"].to_numpy()
            correct = logits.argmax(axis=1) == levels
            accumulator.add(values, correct=correct, subjects=batch["subject"].astype(str), levels=levels,
                            outputs=expected_level(logits))
            distances.add(landmarks, correct)
            for i in np.flatnonzero(correct):
                items = examples.setdefault(int(levels[i]), [])
                if cams is not None and len(items) < overlays_per_level:
                    items.append((dataset.crop(start + i).image, cams[i], landmarks[i]))
    if not accumulator.n_images:
        raise InputError(f"{run}: the models classified none of the held-out subjects' images correctly, and "
                         "engagement counts only correctly classified images; train longer or check the levels")
    result = accumulator.bootstrap(n_boot=n_boot)
    result["tied_with"] = method_ties(accumulator, distances, resolution)[result.index]
    notes = reliability_notes(run, config.n_levels, accumulator.n_subjects, accumulator.counted) + accumulator.notes()
    sentences = [f"{headline}: {advice}" for headline, advice in notes]
    fill = {"rest_face": "each subject's least painful image (lowest level, then score)"
            + (", same place" if method in REST_METHODS else ": its landmarks")} if rest_of is not None else {}
    write_table(result.reset_index(names="AU").assign(method=method, resolution_px=resolution, **fill,
                                                      notes=" | ".join(sentences)),
                out_dir / "engagement.csv")
    per_level = pd.DataFrame({f"level_{lv}": accumulator.engagement(lv) for lv in sorted(examples)})
    write_table(per_level.reset_index(names="AU"), out_dir / "engagement_by_level.csv")
    title = "\n".join([f"AU engagement, {method}: {accumulator.n_images} {accumulator.counted} images of "
                       f"{accumulator.n_subjects} subjects, 95% CI by subject"] + [f"Caution: {headline}" for headline, _ in notes])
    engagement_chart(result, out_dir / "engagement.png", title)
    for level, items in examples.items():
        for k, (image, cam, landmarks) in enumerate(items):
            shown = deidentify_image(image, landmarks, deidentify) if deidentify else image
            write_png(out_dir / "overlays" / f"level{level}_{k}.png", cam_overlay(shown, cam, landmarks, rule_set))
    result.attrs["notes"] = sentences
    return result
