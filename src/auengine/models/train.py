"""Train an end-to-end pain CNN (paper Section V-A defaults), with resumable checkpoints.

Defaults: Adam, lr 1e-3, weight decay 5e-4, batch 8, 25 epochs, 224 x 224 crops. The
best epoch by the validation metric is kept. Checkpoints and models are safetensors
+ JSON; nothing is pickled.
"""
from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from sklearn.metrics import log_loss
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader

from ..errors import BundleError
from ..io.tables import atomic_write_json
from ..metrics import classification_metrics
from ..progress import bar, stage
from .backbones import build_model, freeze_blocks
from .data import ManifestImages
from .preprocess import Preprocessing, check_preprocessing

#: parameter-name prefixes of the classifier heads (for the L1 penalty)
HEAD_PREFIXES = ("fc.", "classifier.")
CHECKPOINT = "checkpoint.safetensors"
MODEL = "model.safetensors"


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (paper defaults)."""

    backbone: str = "resnet18"
    n_levels: int = 4
    epochs: int = 25
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 5e-4
    size: int = 224
    class_weights: bool = False
    weights: str | None = "imagenet"      # "imagenet", None (random) or a file
    metric: str = "WA"                    # validation metric that picks the best epoch, or "loss" (lowest)
    seed: int = 0
    precision: str = "auto"               # "auto": bfloat16 autocast where the CPU supports it, else "fp32"
    schedule: str = "cosine"              # learning rate from lr (the paper's initial rate) to 0; or "constant"
    head: str = "linear"                  # classifier head: "linear", "fc512" (Zhao et al.), "gap2048" (thesis)
    freeze: int = 0                       # leading backbone blocks kept frozen
    augment: str = "aueipa"               # augmentation preset (models/data.py AUGMENTATIONS)
    l1: float = 0.0                       # L1 penalty on the head's weights (thesis)
    patience: int = 0                     # stop after this many epochs without a better validation score (0: never)
    defer_below: float = 0.0              # manual assessment branch: defer frames with max softmax < this (0: never)

    @property
    def preprocessing(self) -> Preprocessing:
        """The input path: aligned face crops of side ``size`` (models/preprocess.py)."""
        return Preprocessing(size=self.size)


def use_bf16(config: TrainConfig) -> bool:
    """Whether to run forward passes under bfloat16 autocast (about 2x faster on CPUs with bf16 support)."""
    if config.precision == "fp32":
        return False
    supported = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return config.precision == "bf16" or supported


def _loader(table: pd.DataFrame, config: TrainConfig, train: bool, generator=None) -> DataLoader:
    return DataLoader(ManifestImages(table, train=train, augment=config.augment, prep=config.preprocessing), batch_size=config.batch_size, shuffle=train,
                      generator=generator, num_workers=0)


def predict_proba(model: nn.Module, table: pd.DataFrame, config: TrainConfig, progress: bool | None = None) -> np.ndarray:
    """Class probabilities (N, n_levels) for the manifest rows."""
    model.eval()
    out = []
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16(config)):
        for images, _ in bar(_loader(table, config, False), desc="predict", leave=False, progress=progress):
            out.append(torch.softmax(model(images).float(), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, config.n_levels))


def train_model(train_table: pd.DataFrame, val_table: pd.DataFrame, config: TrainConfig, out_dir: str | Path,
                progress: bool | None = None) -> tuple[nn.Module, pd.DataFrame]:
    """Train, keep the best validation epoch, write ``out_dir``/model.safetensors + model.json.

    An interrupted run resumes from ``out_dir``/checkpoint.safetensors (same config).
    Returns the best model and the per-epoch history (loss, validation metrics).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    model, init = build_model(config.backbone, config.n_levels, weights=config.weights, head=config.head)
    freeze_blocks(model, config.freeze)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr,
                                 weight_decay=config.weight_decay)
    head_weights = [p for name, p in model.named_parameters() if name.startswith(HEAD_PREFIXES) and p.ndim > 1]
    steps_per_epoch = max(1, -(-len(train_table) // config.batch_size))
    counts = np.bincount(train_table["level"], minlength=config.n_levels).astype(float)
    class_weight = (torch.tensor(counts.sum() / np.maximum(counts, 1) / config.n_levels, dtype=torch.float32)
                    if config.class_weights else None)
    loss_fn = nn.CrossEntropyLoss(weight=class_weight)
    generator = torch.Generator().manual_seed(config.seed)
    history: list[dict] = []
    best_state, best_score, start = None, -np.inf, 0
    if (out_dir / CHECKPOINT).is_file():
        start, history, best_score, best_state = _resume(out_dir, config, model, optimizer, generator)
    total_steps = config.epochs * steps_per_epoch
    for group in optimizer.param_groups:
        group["initial_lr"] = config.lr
    scheduler = LambdaLR(optimizer, lambda step: lr_factor(config, step / total_steps),
                         last_epoch=start * steps_per_epoch - 1)
    for epoch in range(start, config.epochs):
        model.train()
        losses = []
        batches = bar(_loader(train_table, config, True, generator), desc=f"epoch {epoch + 1}/{config.epochs}",
                      leave=False, progress=progress)
        for images, levels in batches:
            optimizer.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16(config)):
                loss = loss_fn(model(images).float(), levels)
            if config.l1:
                loss = loss + config.l1 * sum(w.abs().sum() for w in head_weights)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
            batches.set_postfix(loss=f"{np.mean(losses):.3f}")
        probabilities = predict_proba(model, val_table, config)
        scores = classification_metrics(val_table["level"], probabilities.argmax(axis=1), labels=range(config.n_levels))
        scores["loss"] = float(log_loss(val_table["level"].to_numpy(), probabilities, labels=range(config.n_levels)))
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), **{f"val_{k}": v for k, v in scores.items()}})
        stage(f"{config.backbone} epoch {epoch + 1}/{config.epochs}: training loss {np.mean(losses):.3f}, "
              f"validation WA {scores['WA']:.3f}, loss {scores['loss']:.3f}")
        score = -scores["loss"] if config.metric == "loss" else scores[config.metric]
        if score > best_score:
            best_score, best_state = score, copy.deepcopy(model.state_dict())
        _checkpoint(out_dir, config, model, optimizer, generator, history, best_score, best_state)
        if config.patience and len(history) - _best_index(history, config.metric) > config.patience:
            break
    model.load_state_dict(best_state)
    best_epoch = history[_best_index(history, config.metric)]["epoch"]
    save_model(model, out_dir, config, {"init": init, "best_epoch": best_epoch, f"val_{config.metric}": best_score})
    return model, pd.DataFrame(history)


def _best_index(history: list[dict], metric: str) -> int:
    """Index of the best epoch so far (lowest validation loss, or highest metric; the first on ties)."""
    values = [h[f"val_{metric}"] * (-1 if metric == "loss" else 1) for h in history]
    return int(np.argmax(values))


def lr_factor(config: TrainConfig, progress: float) -> float:
    """Learning rate / ``config.lr`` at a share ``progress`` (0-1) of training: cosine annealing to 0, or constant."""
    return float(0.5 * (1 + np.cos(np.pi * progress))) if config.schedule == "cosine" else 1.0


def save_model(model: nn.Module, out_dir: Path, config: TrainConfig, info: dict) -> None:
    """model.safetensors + model.json (config, preprocessing and training info)."""
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out_dir / MODEL))
    atomic_write_json(out_dir / "model.json", {"config": asdict(config),
                                               "preprocessing": config.preprocessing.to_dict(), **info})


def load_model(folder: str | Path) -> tuple[nn.Module, TrainConfig]:
    """A trained model from ``folder`` (model.safetensors + model.json); refuses another input path (BundleError)."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "model.json").read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"{folder}: no readable model.json ({exc}); train with `auengine train-e2e`") from None
    config = TrainConfig(**meta["config"])
    check_preprocessing(meta.get("preprocessing"), config.preprocessing, folder / "model.json")
    model, _ = build_model(config.backbone, config.n_levels, weights=None, head=config.head)
    model.load_state_dict(load_file(str(folder / MODEL)))
    return model.eval(), config


def _checkpoint(out_dir, config, model, optimizer, generator, history, best_score, best_state) -> None:
    tensors = {f"model.{k}": v.contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"best.{k}": v.contiguous() for k, v in best_state.items()})
    state = optimizer.state_dict()
    for index, values in state["state"].items():
        tensors.update({f"opt.{index}.{name}": torch.as_tensor(v).clone() for name, v in values.items()})
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.loader"] = generator.get_state()
    tmp = out_dir / f".{CHECKPOINT}.tmp"
    save_file(tensors, str(tmp))
    tmp.replace(out_dir / CHECKPOINT)
    atomic_write_json(out_dir / "checkpoint.json", {"config": asdict(config), "history": history,
                                                   "best_score": best_score, "param_groups": state["param_groups"]})


def _resume(out_dir, config, model, optimizer, generator):
    meta = json.loads((out_dir / "checkpoint.json").read_text())
    saved = asdict(TrainConfig(**meta["config"]))         # fields added since the checkpoint take their defaults
    if json.loads(json.dumps(saved)) != json.loads(json.dumps(asdict(config))):
        raise BundleError(f"{out_dir}: a checkpoint of a different configuration is here; use another --out "
                          "or delete checkpoint.* to start over")
    tensors = load_file(str(out_dir / CHECKPOINT))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    best_state = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
    opt_state: dict = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, index, name = key.split(".", 2)
            opt_state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": opt_state, "param_groups": meta["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    generator.set_state(tensors["rng.loader"])
    return len(meta["history"]), meta["history"], meta["best_score"], best_state
