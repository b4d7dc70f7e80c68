"""AU engagement of trained e2e models: Grad-CAM on each fold's held-out subjects -> Eq. 2 ranking.

For every fold in RUN, the fold's model scores its test (or validation) subjects'
images; the CAM of the predicted class is kept for correctly classified images
(predicted = true level, so it is the true class's CAM) and accumulated per AU
region (landmarks from the manifest, mapped onto the S x S input grid). Streaming:
batches are processed and dropped.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from ..au.rules import load_rules
from ..columns import LANDMARK_COLUMNS, landmarks_of
from ..engagement import EngagementAccumulator
from ..errors import InputError
from ..explain.gradcam import gradcam
from ..io.media import read_image
from ..io.tables import write_table
from ..models.data import ManifestImages
from ..models.train import load_model
from ..report.figures import cam_overlay, engagement_chart
from ..report.overlay import write_png
from ..progress import bars_disabled, stage


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


def grid_landmarks(rows: pd.DataFrame, size: int) -> np.ndarray:
    """Manifest landmarks (N, 68, 2) mapped onto the S x S network input (images resized to S x S)."""
    points = landmarks_of(rows)
    from PIL import Image

    sizes = np.array([Image.open(p).size for p in rows["abspath"]], dtype=float)   # (N, 2): W, H (header only)
    scale = (size / sizes)[:, None, :]
    return (points + 0.5) * scale - 0.5


def run_engagement(run: str | Path, table: pd.DataFrame, out_dir: str | Path, *, rules: str = "infant",
                   batch_size: int = 16, n_boot: int = 1000, overlays_per_level: int = 3,
                   target_layer: str | None = None, progress: bool | None = None) -> pd.DataFrame:
    """Engagement over all folds' held-out subjects; writes engagement.csv, per-level CSV, chart and overlays.

    ``target_layer``: a module name ("layer3") for Grad-CAM instead of the last conv block
    (the paper's); earlier layers have finer maps (ResNet at 224 px: layer4 7 x 7, layer3 14 x 14).
    """
    if not set(LANDMARK_COLUMNS) <= set(table.columns):
        raise InputError("the manifest has no landmark columns x_0..y_67; add landmarks (auengine extract) first")
    out_dir = Path(out_dir)
    rule_set = load_rules(rules)
    accumulator = EngagementAccumulator(rule_set)
    examples: dict[int, list] = {}
    folds = fold_dirs(run)
    held_out_subjects(run, folds, table)
    for fold in folds:
        model, config = load_model(fold)
        layer = None
        if target_layer is not None:
            modules = dict(model.named_modules())
            if target_layer not in modules:
                raise InputError(f"{fold}: the model has no layer {target_layer!r} (e.g. layer3, layer4)")
            layer = modules[target_layer]
        held_out = set(json.loads((fold / "split.json").read_text())["test_subjects"])
        rows = table[table["subject"].astype(str).isin(held_out)]
        stage(f"Grad-CAM engagement, {fold.name}: {len(rows)} images of {len(held_out)} held-out subjects")
        dataset = ManifestImages(rows, config.size, train=False)
        for start in tqdm(range(0, len(rows), batch_size), desc=f"engagement {fold.name}",
                          disable=bars_disabled(progress)):
            batch = rows.iloc[start:start + batch_size]
            images = torch.stack([dataset[i][0] for i in range(start, start + len(batch))])
            cams, logits = gradcam(model, images, target_layer=layer, return_logits=True)
            predicted = logits.argmax(axis=1)
            levels = batch["level"].to_numpy()
            landmarks = grid_landmarks(batch, config.size)
            accumulator.update(cams, landmarks, correct=predicted == levels, subjects=batch["subject"].astype(str),
                               levels=levels)
            for i in np.flatnonzero(predicted == levels):
                if len(examples.setdefault(int(levels[i]), [])) < overlays_per_level:
                    examples[int(levels[i])].append((batch["abspath"].iloc[i], cams[i], landmarks[i], config.size))
    if not accumulator.n_images:
        raise InputError(f"{run}: the models classified none of the held-out subjects' images correctly, and "
                         "engagement counts only correctly classified images; train longer or check the levels")
    result = accumulator.bootstrap(n_boot=n_boot)
    write_table(result.reset_index(names="AU"), out_dir / "engagement.csv")
    per_level = pd.DataFrame({f"level_{lv}": accumulator.engagement(lv) for lv in sorted(examples)})
    write_table(per_level.reset_index(names="AU"), out_dir / "engagement_by_level.csv")
    engagement_chart(result, out_dir / "engagement.png",
                     f"AU engagement ({accumulator.n_images} correctly classified images, 95% CI by subject)")
    for level, items in examples.items():
        for k, (path, cam, landmarks, size) in enumerate(items):
            image = cv2.resize(read_image(path), (size, size), interpolation=cv2.INTER_AREA)
            write_png(out_dir / "overlays" / f"level{level}_{k}.png", cam_overlay(image, cam, landmarks, rule_set))
    return result
