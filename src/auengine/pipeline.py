"""Joins the stages: media -> faces -> landmarks -> crops/overlays -> one table.

This is the only module that wires stages together; the CLI is a thin layer on it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from .au.rules import AURules, load_rules
from .errors import InputError
from .faces.crop import DEFAULT_CROP_SIZE, align_crop
from .faces.detect import DETECTORS, FaceDetector, largest_first
from .faces.landmarks import LANDMARKERS, LandmarkBackend
from .io.media import Frame, expand_inputs, iter_frames, output_name
from .io.tables import LANDMARK_COLUMNS
from .report.overlay import face_overlay, write_png
from .progress import bar as progress_bar

ID_COLUMNS = ["source", "frame", "time_s", "face_id"]
BOX_COLUMNS = ["bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1", "det_score"]
STATUS_COLUMNS = ["detector", "landmarker", "success", "reason"]
EXTRACT_COLUMNS = ID_COLUMNS + BOX_COLUMNS + LANDMARK_COLUMNS + STATUS_COLUMNS
OVERLAY_SIZE = 448
NO_FACE = "no face detected"


def build_backends(detector: str = "auto", landmarks: str = "auto", *, detector_weights: str | None = None,
                   landmark_weights: str | None = None) -> tuple[FaceDetector, LandmarkBackend]:
    """Create the detector and landmark backends by registry name."""
    if detector_weights and detector != "face-alignment":
        raise InputError(f"detector weights apply to the face-alignment detector only, not {detector!r}")
    det_kwargs = {"weights": detector_weights} if detector_weights else {}
    face_detector = DETECTORS.create(detector, **det_kwargs)
    lm_kwargs: dict = {"weights": landmark_weights} if landmark_weights else {}
    if landmarks in ("dlib", "auto"):
        lm_kwargs["box_source"] = face_detector.name
    landmarker = LANDMARKERS.create(landmarks, **lm_kwargs)
    return face_detector, landmarker


@dataclass
class Extractor:
    """Faces and landmarks of frames, as table rows (one per face, or one per failed frame).

    Parameters
    ----------
    detector, landmarker : backends from :func:`build_backends`
    all_faces : bool
        Keep every face (face_id 0 = largest); default keeps only the largest.
    overlay_dir : Path, optional
        Write one PNG per face with landmarks and AU regions.
    rules : AURules
        Rule set drawn on overlays.
    deidentify : "blur", "mask", "phantom" or None
        De-identify every detected face in the overlays (auengine.deidentify).
    """

    detector: FaceDetector
    landmarker: LandmarkBackend
    all_faces: bool = False
    overlay_dir: Path | None = None
    rules: AURules = field(default_factory=load_rules)
    deidentify: str | None = None

    def rows(self, frame: Frame) -> list[dict]:
        """Table rows for one frame (see ``EXTRACT_COLUMNS``)."""
        base = {"source": frame.source, "frame": frame.frame, "time_s": frame.time_s,
                "detector": self.detector.name, "landmarker": self.landmarker.name}
        if frame.error is not None:
            return [{**base, "face_id": -1, "success": 0, "reason": frame.error}]
        found = largest_first(self.detector.detect(frame.image))
        boxes = found if self.all_faces else found[:1]
        if not boxes:
            return [{**base, "face_id": -1, "success": 0, "reason": NO_FACE}]
        points = self.landmarker.predict(frame.image, boxes)
        shown = frame.image
        if self.overlay_dir is not None and self.deidentify:     # every face found, kept or not
            from .deidentify import deidentify

            everyone = points if len(found) == len(boxes) else self.landmarker.predict(frame.image, found)
            shown = deidentify(frame.image, everyone, self.deidentify)
        rows = []
        for face_id, (box, landmarks) in enumerate(zip(boxes, points)):
            row = {**base, "face_id": face_id, "bbox_x0": box.x0, "bbox_y0": box.y0, "bbox_x1": box.x1,
                   "bbox_y1": box.y1, "det_score": box.score, "success": 1, "reason": ""}
            row.update(zip(LANDMARK_COLUMNS, np.concatenate([landmarks[:, 0], landmarks[:, 1]])))
            rows.append(row)
            if self.overlay_dir is not None:
                crop = align_crop(shown, landmarks, OVERLAY_SIZE)
                name = f"{output_name(frame.source)}_f{max(frame.frame, 0):06d}_face{face_id}.png"
                write_png(self.overlay_dir / name, face_overlay(shown, box, landmarks, crop, self.rules))
        return rows


def extract(inputs: list[str | Path], extractor: Extractor, *, every: int = 1, fps: float | None = None,
            on_problem: Callable[[str], None] | None = None, progress: bool | None = None) -> pd.DataFrame:
    """Run ``extractor`` over image files, folders and videos; one row per face per frame.

    Bad inputs and frames without a face give rows with ``success`` = 0 and a
    ``reason``; the batch goes on. ``on_problem`` is called once per input with its
    problems (frames without a face are counted, not listed frame by frame).
    """
    rows: list[dict] = []
    files = expand_inputs(inputs)
    with progress_bar(unit="frame", desc="extract", progress=progress) as bar:
        for number, path in enumerate(files, 1):
            bar.set_postfix_str(f"file {number}/{len(files)}: {path.name}")
            n_frames = no_face = 0
            for frame in iter_frames(path, every=every, fps=fps):
                frame_rows = extractor.rows(frame)
                rows.extend(frame_rows)
                bar.update()
                n_frames += frame.error is None
                for row in frame_rows:
                    if row["success"]:
                        continue
                    if row["reason"] == NO_FACE:
                        no_face += 1
                    elif on_problem is not None:
                        on_problem(row["reason"])
            if no_face and on_problem is not None:
                on_problem(f"{path}: {NO_FACE} in {no_face} of {n_frames} frame(s)")
    table = pd.DataFrame(rows, columns=EXTRACT_COLUMNS)
    return table.astype({"frame": int, "face_id": int, "success": int}).copy()     # one block per dtype


def extraction_summary(table: pd.DataFrame, extractor: Extractor, table_path: Path) -> dict:
    """What summary.json of `extract` says: backends, counts, and every failed row (source, frame, reason)."""
    from . import __version__

    frames = table.drop_duplicates(["source", "frame"])
    failed = table[table["success"] == 0]
    return {
        "auengine_version": __version__, "detector": extractor.detector.name, "landmarker": extractor.landmarker.name,
        "landmarker_reason": extractor.landmarker.reason, "inputs": len({*table["source"]}),
        "frames": int((frames["frame"] >= 0).sum()), "faces": int(table["success"].sum()),
        "problems": int(len(failed)), "table": str(table_path),
        "failures": failed[["source", "frame", "reason"]].to_dict("records"),
    }


def frame_table(inputs: list[str | Path], *, detector: str = "auto", landmarks: str = "auto", every: int = 1,
                fps: float | None = None, on_problem: Callable[[str], None] | None = None,
                on_backends: Callable[[str], None] | None = None) -> pd.DataFrame:
    """The frames to estimate AUs on: one given landmark table / manifest as it is, or `extract` run on media.

    ``on_backends`` receives one line naming the detector and landmark backends when media are read.
    """
    from .io.frame_tables import is_table_file, read_frame_table

    if len(inputs) == 1 and is_table_file(inputs[0]):
        return read_frame_table(inputs[0])
    found_detector, landmarker = build_backends(detector, landmarks)
    if on_backends is not None:
        on_backends(f"detector={found_detector.name} landmarks={landmarker.name}")
    return extract(inputs, Extractor(found_detector, landmarker), every=every, fps=fps, on_problem=on_problem)


__all__ = ["DEFAULT_CROP_SIZE", "EXTRACT_COLUMNS", "Extractor", "build_backends", "extract", "extraction_summary",
           "frame_table"]
