"""Video scoring (issue 8): phantom curves, real videos, epochs, review, resume, Ray = local."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from auengine.errors import InputError
from auengine.scales import get_scale
from auengine.scoring.timeline import ReviewRules, confidence, epoch_table, fixed_epochs, read_epochs_csv
from auengine.scoring.video import video_dir

AUS = ["AU1", "AU2", "AU4", "AU6", "AU7", "AU9", "AU10", "AU12", "AU20", "AU25", "AU27", "AU43"]


# -- pure timeline logic -------------------------------------------------------------------------------
def test_confidence_is_distance_to_the_nearest_level_edge():
    flacc = get_scale("flacc")             # edges 2.5, 5, 7.5; half bin 1.25
    values = confidence(np.array([2.5, 3.75, 0.0, 6.0, np.nan]), flacc)
    assert values[:4] == pytest.approx([0.0, 1.0, 1.0, 0.8]) and np.isnan(values[4])


def test_epochs_fixed_and_from_csv(tmp_path):
    epochs = fixed_epochs(3.0, 1.0)
    assert list(epochs["start_s"]) == [0, 1, 2] and list(epochs["end_s"]) == [1, 2, 3]
    assert len(fixed_epochs(2.5, 1.0)) == 3
    path = tmp_path / "epochs.csv"
    pd.DataFrame({"video": ["a.mp4", "b.mp4", "a"], "start_s": [0, 1, 2.0], "end_s": [1.5, 2, 4.0],
                  "label": ["baseline", "x", "heel lance"]}).to_csv(path, index=False)
    mine = read_epochs_csv(path, "/data/a.mp4")
    assert list(mine["label"]) == ["baseline", "heel lance"] and list(mine["end_s"]) == [1.5, 4.0]
    pd.DataFrame({"start_s": [0, 3], "end_s": [1, 2]}).to_csv(path, index=False)
    with pytest.raises(InputError, match="row 3"):
        read_epochs_csv(path, "a.mp4")


def test_epoch_statistics_and_review_reasons():
    fps = 10.0
    n = 30
    intensity = np.r_[np.full(10, 1.0), np.full(10, 2.6), np.full(10, 8.0)]
    frames = pd.DataFrame({"time_s": np.arange(n) / fps, "face_found": True, "intensity": intensity,
                           "intensity_smooth": intensity, "level": get_scale("flacc").level(intensity).astype(float)})
    frames["confidence"] = confidence(intensity, get_scale("flacc"))
    frames.loc[20:27, "face_found"] = False
    frames["cnn_level"] = frames["level"]
    frames.loc[:9, "cnn_level"] = 3.0
    table = epoch_table(frames, fixed_epochs(3.0, 1.0), get_scale("flacc"), threshold=2.5, fps=fps,
                        rules=ReviewRules())
    assert list(table["frames"]) == [10, 10, 10] and list(table["level"]) == [0, 1, 3]
    assert list(table["seconds_above"]) == [0.0, 1.0, 1.0] and table.loc[2, "intensity_max"] == 8.0
    assert "disagree" in table.loc[0, "review"]
    assert "low confidence" in table.loc[1, "review"] and "face missing" not in table.loc[1, "review"]
    assert "face missing in 80%" in table.loc[2, "review"]


# -- the tracker on real video, bad inputs -----------------------------------------------------------
@pytest.fixture(scope="module")
def backends():
    from auengine.pipeline import build_backends

    return build_backends("auto", "dlib")


def test_real_videos_face_found_and_marked(media_dir, backends):
    from auengine.scoring.stream import FaceTracker
    from auengine.scoring.video import track_video

    frames, landmarks, fps, error = track_video(media_dir / "single_face.mp4", FaceTracker(*backends))
    assert frames["face_found"].mean() >= 0.95 and error is None and landmarks.shape == (len(frames), 68, 2)
    for name in ("face_noface.mov", "noface_face.mov"):
        frames, landmarks, _, _ = track_video(media_dir / name, FaceTracker(*backends, detect_every=5))
        assert 0 < frames["face_found"].sum() < len(frames)                 # both kinds of frames, none dropped
        assert np.isnan(landmarks[~frames["face_found"].to_numpy()]).all()


def test_video_reader_errors(tmp_path):
    from auengine.io.video import VideoReader

    with pytest.raises(InputError, match="not found"):
        VideoReader(tmp_path / "missing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        VideoReader(tmp_path / "empty.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all" * 100)
    with pytest.raises(InputError, match="cannot open|no frame"):
        with VideoReader(tmp_path / "junk.mp4") as reader:
            list(reader)
            raise InputError(reader.error or "cannot open")


# -- phantom videos with a known curve ---------------------------------------------------------------
@pytest.fixture(scope="module")
def phantom_bundle(tmp_path_factory, backends, rules):
    """A phantom with procedure videos, and a bundle trained on dlib-landmark AUs of 8 of its subjects (every 2nd image)."""
    from auengine.au.backends import GeometryBackend
    from auengine.bundle import save_bundle
    from auengine.columns import au_column
    from auengine.estimators.aueipa import AuEIPARegressor
    from auengine.io.manifest import read_manifest
    from auengine.phantom import generate
    from auengine.pipeline import Extractor, extract

    folder = tmp_path_factory.mktemp("score")
    table = read_manifest(generate(folder / "data", n_subjects=14, frames_per_subject=80, seed=3, videos=True,
                                   progress=False))
    training = table[table["subject"].isin(sorted(table["subject"].unique())[:8]) & (np.arange(len(table)) % 2 == 0)]
    found = extract(list(training["abspath"]), Extractor(*backends), progress=False)
    found = found.assign(subject=training["subject"].to_numpy())
    aus = GeometryBackend().estimate(found)
    ok = aus.notna().all(axis=1).to_numpy()
    engagement = pd.Series(1.0 / len(AUS), index=AUS)
    model = AuEIPARegressor(aus=AUS, engagement=engagement, weighted=False).fit(aus[ok],
                                                                                training["score"].to_numpy()[ok])
    bundle = save_bundle(folder / "bundle", model, rules=rules, engagement=engagement,
                         preprocessing={"au_backend": "geometry", "landmarks": "dlib"},
                         training_data={"synthetic": True, "rows": int(ok.sum())})
    assert [au_column(a) for a in AUS]
    return folder, table, bundle


def test_phantom_videos_scored_curve_follows_the_truth(phantom_bundle, backends):
    from auengine.scoring.video import ScoreOptions, score_video

    folder, table, bundle = phantom_bundle
    correlations = []
    for subject in sorted(table["subject"].unique())[8:]:
        video = folder / "data" / "videos" / f"{subject}_seq0.mp4"
        summary = score_video(video, bundle, folder / "scored", ScoreOptions(report=False), backends=backends)
        frames = pd.read_csv(video_dir(folder / "scored", video) / "frames.csv")
        truth = table[table["sequence"] == video.stem].sort_values("frame")["score"].to_numpy()
        assert summary["frames"] == len(truth) == len(frames)
        ok = np.isfinite(frames["intensity_smooth"].to_numpy())
        correlations.append(np.corrcoef(frames["intensity_smooth"].to_numpy()[ok], truth[ok])[0, 1])
    # one of six phantom babies may be poorly tracked by dlib (a cartoon face); the typical curve is tight
    assert np.median(correlations) >= 0.8, correlations


def test_batch_resume_bad_inputs_and_ray_equals_local(phantom_bundle, tmp_path, media_dir):
    from auengine.scoring.batch import score_many
    from auengine.scoring.video import ScoreOptions

    folder, table, bundle = phantom_bundle
    videos = [folder / "data" / "videos" / f"{s}_seq0.mp4" for s in sorted(table["subject"].unique())[:2]]
    (tmp_path / "empty.mp4").write_bytes(b"")
    inputs = [*videos, media_dir / "no_face.mp4", tmp_path / "empty.mp4"]
    options = ScoreOptions(report=False)
    local = score_many(inputs, bundle, tmp_path / "local", options, workers=2, progress=False)
    assert sorted(local["scored"]) == sorted(map(str, videos))
    reasons = {f["video"]: f["error"] for f in local["failed"]}
    assert "no face found" in reasons[str(media_dir / "no_face.mp4")] and "empty" in reasons[str(tmp_path / "empty.mp4")]
    assert json.loads((tmp_path / "local" / "summary.json").read_text())["failed"]
    # an interrupted run: one video finished, the other left without its summary.json
    (video_dir(tmp_path / "local", videos[1]) / "summary.json").unlink()
    again = score_many(videos, bundle, tmp_path / "local", options, workers=1, progress=False)
    assert again["skipped"] == [str(videos[0])] and again["scored"] == [str(videos[1])]
    forced = score_many(videos[:1], bundle, tmp_path / "local", options, force=True, workers=1, progress=False)
    assert forced["scored"] == [str(videos[0])]
    pytest.importorskip("ray")
    remote = score_many(videos, bundle, tmp_path / "ray", options, backend="ray", workers=2, progress=False)
    assert sorted(remote["scored"]) == sorted(map(str, videos))
    for video in videos:
        a = pd.read_csv(video_dir(tmp_path / "local", video) / "frames.csv")
        b = pd.read_csv(video_dir(tmp_path / "ray", video) / "frames.csv")
        # same frames, faces and levels; numbers equal up to float rounding (MTCNN's convolutions in
        # another process order their sums differently: box corners differ by ~2e-5 px)
        assert a["face_found"].equals(b["face_found"]) and a["level"].equals(b["level"])
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-4, atol=1e-3)


def test_cli_score_with_epochs_csv_report_and_cnn(phantom_bundle, tmp_path):
    from auengine.cli import main
    from auengine.models.backbones import build_model
    from auengine.models.train import TrainConfig, save_model

    folder, table, bundle = phantom_bundle
    subject = sorted(table["subject"].unique())[-1]
    video = folder / "data" / "videos" / f"{subject}_seq0.mp4"
    epochs = tmp_path / "epochs.csv"
    pd.DataFrame({"start_s": [0.0, 1.5], "end_s": [1.5, 4.0], "label": ["before", "procedure"]}).to_csv(epochs,
                                                                                                      index=False)
    cnn = tmp_path / "cnn"
    cnn.mkdir()
    config = TrainConfig(weights=None, size=64)
    save_model(build_model("resnet18", 4, weights=None)[0], cnn, config, {"init": "random (test)"})
    code = main(["score", str(video), "--bundle", str(bundle), "--out", str(tmp_path / "out"), "--epochs-csv",
                 str(epochs), "--cnn", str(cnn), "--workers", "1"])
    target = video_dir(tmp_path / "out", video)
    assert code == 0
    result = pd.read_csv(target / "epochs.csv")
    assert list(result["label"]) == ["before", "procedure"] and "disagreement" in result.columns
    frames = pd.read_csv(target / "frames.csv")
    assert {"cnn_level", "intensity", "level", "confidence", "face_found", "AU27_r", "x_0"} <= set(frames.columns)
    page = (target / "report.html").read_text()
    assert "<img" in page and (target / "timeline.png").is_file() and (target / "peak_cam.png").is_file()
