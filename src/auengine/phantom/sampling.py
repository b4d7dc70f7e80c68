"""Phantom sampling: latent pain drives, AU intensities, and one subject's images (worker side).

AU intensities come from a latent pain drive p in [0, 1]: AUs with a non-zero rule
weight follow p (with per-subject reactivity and noise); the others vary on their
own (distractors). The score is then computed from the intensities by the rule.
This module avoids heavy imports: it runs in worker processes.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..columns import LANDMARK_COLUMNS, au_column
from .face import MAX_INTENSITY, PHANTOM_AUS, neutral_landmarks
from .identity import Identity, sample_identity
from .render import Nuisance, Pose, frontal_pose, render, sample_nuisance, sample_pose
from .rule import CRY_AUS, PainRule

GT_AU_COLUMNS = ["gt_" + au_column(au) for au in PHANTOM_AUS]
BOX_COLUMNS = ["gt_bbox_x0", "gt_bbox_y0", "gt_bbox_x1", "gt_bbox_y1"]
#: phases of a procedure sequence as fractions of its length: baseline, procedure, recovery
PHASES = (0.3, 0.4, 0.3)
JPEG_QUALITY = 90


@dataclass(frozen=True)
class PhantomConfig:
    """What :func:`generate` draws; every field has a sensible default."""

    size: int = 224
    fps: float = 10.0
    sequence_fraction: float = 0.5    # share of a subject's frames in its procedure sequence
    occluder_p: float = 0.08          # pacifier over the mouth
    hand_p: float = 0.03
    blanket_p: float = 0.05
    max_rotation: float = 20.0
    dataset: str = "phantom"


def pain_drive_stills(rng: np.random.Generator, n: int) -> np.ndarray:
    """Latent pain drive (n,) in [0, 1] for independent stills: uniform, so levels are balanced."""
    return rng.uniform(0, 1, n)


def pain_drive_sequence(rng: np.random.Generator, n: int) -> np.ndarray:
    """Latent pain drive (n,) along a procedure: low baseline, a rise, then recovery."""
    t = np.linspace(0, 1, n)
    start, stop = PHASES[0], PHASES[0] + PHASES[1]
    peak = rng.uniform(0.55, 1.0)
    rise = 1 / (1 + np.exp(-(t - start - 0.04) / 0.025))
    decay = np.where(t > stop, np.exp(-(t - stop) / rng.uniform(0.06, 0.15)), 1.0)
    return np.clip(0.05 + (peak - 0.05) * rise * decay + _smooth_noise(rng, n, 0.04), 0, 1)


def _smooth_noise(rng: np.random.Generator, n: int, sd: float, width: float = 4.0) -> np.ndarray:
    noise = rng.normal(0, 1, n + 20)
    kernel = np.exp(-0.5 * (np.arange(-10, 11) / width) ** 2)
    smooth = np.convolve(noise, kernel / np.linalg.norm(kernel), mode="same")[10:-10]
    return sd * smooth


def sample_intensities(rng: np.random.Generator, drive: np.ndarray, rule: PainRule,
                       reactivity: np.ndarray, smooth: bool) -> np.ndarray:
    """AU intensities (n, 12) in PHANTOM_AUS order, 0-5, for a latent drive (n,)."""
    n = len(drive)
    weights = rule.weight_vector()
    out = np.empty((n, len(PHANTOM_AUS)))
    for k, au in enumerate(PHANTOM_AUS):
        noise = _smooth_noise(rng, n, 0.1) if smooth else rng.normal(0, 0.1, n)
        if weights[k] != 0:
            value = drive * reactivity[k] + noise
            if not smooth:
                value = np.where(rng.uniform(size=n) < 0.08, 0.0, value)   # an AU sometimes stays off
        else:
            own = (np.clip(0.5 + _smooth_noise(rng, n, 0.45, width=6.0), -0.3, 1) if smooth
                   else rng.uniform(-0.35, 1.0, n))
            if au in CRY_AUS and rule.cry_correlation:
                own = (1 - rule.cry_correlation) * own + rule.cry_correlation * drive * reactivity[k]
            value = own + noise
        out[:, k] = MAX_INTENSITY * np.clip(value, 0, 1)
    return out


def face_box(landmarks: np.ndarray) -> np.ndarray:
    """Ground-truth face box (x0, y0, x1, y1): the landmarks' box, its top raised by 20% of its height."""
    low, high = landmarks.min(axis=0), landmarks.max(axis=0)
    return np.array([low[0], low[1] - 0.2 * (high[1] - low[1]), high[0], high[1]])


def subject_rows(task: tuple) -> list[dict]:
    """Render and write one subject's sequence and stills; returns its manifest rows.

    Image files are written by a small thread pool (OpenCV releases the GIL), so disk
    writes overlap with drawing the next image.
    """
    with ThreadPoolExecutor(max_workers=2) as writer_pool:
        rows, pending = _render_subject(task, writer_pool)
        for future in pending:
            future.result()                                # re-raise any write error
    return rows


def _render_subject(task: tuple, writer_pool: ThreadPoolExecutor) -> tuple[list[dict], list]:
    out_dir, subject, seed_seq, frames, population, rule, config, videos = task
    pending = []
    rng = np.random.default_rng(seed_seq)
    identity = sample_identity(rng, population)
    reactivity = rng.uniform(0.75, 1.2, len(PHANTOM_AUS))
    n_seq = int(round(frames * config.sequence_fraction)) if frames > 1 else 0
    rows: list[dict] = []
    folder = Path(out_dir) / "images" / subject
    folder.mkdir(parents=True, exist_ok=True)
    if n_seq:
        drive = pain_drive_sequence(rng, n_seq)
        intensities = sample_intensities(rng, drive, rule, reactivity, smooth=True)
        pose0 = sample_pose(rng, config.size, config.max_rotation)
        nuisance = _nuisance(rng, config)
        wobble = rng.uniform(0, 2 * np.pi, 3)
        writer = None
        if videos:
            (Path(out_dir) / "videos").mkdir(exist_ok=True)
            video_path = Path(out_dir) / "videos" / f"{subject}_seq0.mp4"
            writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"mp4v"), config.fps,
                                     (config.size, config.size))
        for i in range(n_seq):
            t = i / config.fps
            pose = Pose(pose0.angle_deg + 3 * np.sin(0.7 * t + wobble[0]), pose0.scale,
                        (pose0.center[0] + 3 * np.sin(0.5 * t + wobble[1]),
                         pose0.center[1] + 2 * np.sin(0.6 * t + wobble[2])))
            image, landmarks = render(identity, dict(zip(PHANTOM_AUS, intensities[i])), pose, nuisance,
                                      config.size, rng)
            name = f"images/{subject}/seq0_f{i:04d}.jpg"
            pending.append(writer_pool.submit(_write_jpeg, Path(out_dir) / name, image))
            if writer is not None:
                writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            rows.append(_row(name, subject, f"{subject}_seq0", i, t, intensities[i], landmarks, nuisance,
                             population, config))
        if writer is not None:
            writer.release()
    n_still = frames - n_seq
    drive = pain_drive_stills(rng, n_still)
    intensities = sample_intensities(rng, drive, rule, reactivity, smooth=False)
    for i in range(n_still):
        nuisance = _nuisance(rng, config)
        image, landmarks = render(identity, dict(zip(PHANTOM_AUS, intensities[i])),
                                  sample_pose(rng, config.size, config.max_rotation), nuisance, config.size, rng)
        name = f"images/{subject}/still_{i:04d}.jpg"
        pending.append(writer_pool.submit(_write_jpeg, Path(out_dir) / name, image))
        rows.append(_row(name, subject, "", 0, 0.0, intensities[i], landmarks, nuisance, population, config))
    scores = rule.score(np.array([[r[c] for c in GT_AU_COLUMNS] for r in rows]), rng)
    for row, score in zip(rows, scores):
        row["score"] = round(float(score), 3)
    return rows, pending


def _nuisance(rng: np.random.Generator, config: PhantomConfig) -> Nuisance:
    return sample_nuisance(rng, config.occluder_p, config.hand_p, config.blanket_p)


def _write_jpeg(path: Path, image: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f"{path}: could not write the image")


def worker_init() -> None:
    """In each worker process only: one OpenCV thread (the processes already use the cores)."""
    cv2.setNumThreads(1)


def _row(name, subject, sequence, frame, time_s, intensities, landmarks, nuisance, population, config) -> dict:
    row = {"path": name, "subject": subject, "sequence": sequence, "frame": frame, "time_s": round(time_s, 4),
           "dataset": config.dataset, "scale": None, "population": population, "occluder": nuisance.occluder}
    row.update(zip(BOX_COLUMNS, np.round(face_box(landmarks), 2)))
    row.update(zip(LANDMARK_COLUMNS, np.round(np.concatenate([landmarks[:, 0], landmarks[:, 1]]), 3)))
    row.update(zip(GT_AU_COLUMNS, np.round(intensities, 3)))
    return row


def render_example(identity: Identity, intensities: dict[str, float], size: int = 224,
                   angle_deg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A clean, frontal render (no nuisance) for figures and tests: (image, landmarks)."""
    return render(identity, intensities, frontal_pose(size, angle_deg), Nuisance(clutter=False), size)


def neutral_faces(n: int, *, population: int = 0, seed: int = 0, size: int = 224) -> np.ndarray:
    """Resting landmarks (n, 68, 2) of n phantom identities of ``population``, pixels (x, y) of a
    size x size image, iBUG order, placed as :func:`render_example` draws them (upright, centred).
    Identity k is the k-th draw of ``sample_identity`` from ``default_rng(seed)``: deterministic per seed."""
    rng = np.random.default_rng(seed)
    faces = np.array([neutral_landmarks(sample_identity(rng, population)) for _ in range(n)]).reshape(n, 68, 2)
    affine = frontal_pose(size).matrix()
    return faces @ affine[:, :2].T + affine[:, 2]
