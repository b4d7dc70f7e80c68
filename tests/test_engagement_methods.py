"""Engagement methods (gradcam, fused, occlusion, integrated, surrogate), the tie diagnostic, and the one CNN input path."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
from torch import nn

from auengine.au.rules import load_rules
from auengine.columns import LANDMARK_COLUMNS, landmarks_of
from auengine.engagement import au_engagement
from auengine.engagement_methods import CenterDistances, engagement_values, model_engagement, resolution_px, tied_with
from auengine.errors import BundleError, InputError
from auengine.explain.gradcam import gradcam
from auengine.faces.detect import FaceBox
from auengine.io.media import read_image
from auengine.models.data import ManifestImages
from auengine.models.preprocess import Preprocessing, face_crop, manifest_landmarks, to_tensor
from auengine.models.train import TrainConfig, load_model, save_model, train_model


class OneRegionModel(nn.Module):
    """Two classes; the logit depends only on the mean of channel 0 inside one fixed mask."""

    def __init__(self, mask: np.ndarray) -> None:
        super().__init__()
        self.mask = torch.from_numpy(mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inside = x[:, 0][:, self.mask].mean(dim=1)
        return torch.stack([-inside, inside], dim=1) * 3


def test_occlusion_ranks_the_only_region_the_model_sees_first(random_face):
    rules = load_rules("infant")
    masks = rules.masks(random_face, (224, 224))
    images = torch.full((4, 3, 224, 224), -1.0) + 0.05 * torch.randn(4, 3, 224, 224)
    for mask in masks.values():
        images[:, :, torch.from_numpy(mask)] = 2.0             # every region bright: blurring any changes it
    model = OneRegionModel(masks["AU12"])
    landmarks = np.stack([random_face] * 4)
    result = model_engagement(model, images, landmarks, [1, 1, 1, 1], method="occlusion", n_boot=50)
    assert result.index[0] == "AU12" and result["engagement"].sum() == pytest.approx(1.0)
    apart = [au for au in rules.aus if not (masks[au] & masks["AU12"]).any()]
    assert apart and (result.loc[apart, "engagement"] < 1e-6).all()
    assert {"low", "high", "rank", "tied_with"} <= set(result.columns)


def test_gradcam_method_equals_eq2_on_the_same_maps(random_face):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=4).eval()
    images = torch.randn(6, 3, 224, 224)
    landmarks = np.stack([random_face + i for i in range(6)])
    cams, logits = gradcam(model, images, return_logits=True)
    levels = logits.argmax(axis=1)
    levels[:2] = (levels[:2] + 1) % 4                           # two misclassified images do not count
    result = model_engagement(model, images, landmarks, levels, method="gradcam", n_boot=20, batch_size=4)
    expected = au_engagement(cams, landmarks, correct=logits.argmax(axis=1) == levels)
    pd.testing.assert_series_equal(result["engagement"], expected)
    fused = model_engagement(model, images, landmarks, logits.argmax(axis=1), method="fused", n_boot=20)
    assert fused["engagement"].sum() == pytest.approx(1.0)
    assert resolution_px("gradcam", model, 224, load_rules("infant")) == 32
    assert resolution_px("fused", model, 224, load_rules("infant")) == 16
    with pytest.raises(InputError, match="unknown engagement method"):
        model_engagement(model, images, landmarks, levels, method="pixels")


def test_ties_flag_coinciding_and_close_regions(random_face):
    rules = load_rules("infant")
    distances = CenterDistances(rules)
    distances.add(np.stack([random_face, random_face + 3]))
    mean = distances.mean()
    aus = rules.aus
    ties = tied_with(mean, rules.region_side(224), aus)
    assert "AU43" in ties["AU7"].split(";") and "AU7" in ties["AU43"].split(";")
    assert "AU27" in ties["AU25"].split(";")
    assert "AU4" not in ties["AU27"].split(";")
    coarse = tied_with(mean, 32.0, aus)                           # a 32 px CAM cell ties more pairs
    assert sum(len(t.split(";")) for t in coarse if t) > sum(len(t.split(";")) for t in ties if t)
    i, j = aus.index("AU4"), aus.index("AU27")
    assert tied_with(mean, mean[i, j] + 1, aus)["AU4"].count("AU27") == 1


@pytest.fixture(scope="module")
def phantom_rows(tmp_path_factory):
    from auengine.io.manifest import read_manifest
    from auengine.phantom import generate

    folder = tmp_path_factory.mktemp("ph")
    return read_manifest(generate(folder, n_subjects=2, frames_per_subject=2, workers=1, videos=False,
                                  progress=False))


def test_score_feeds_the_tensor_training_fed(phantom_rows, tmp_path):
    from auengine.scoring.video import CnnScorer

    config = TrainConfig(size=64, weights=None)
    model = torchvision.models.resnet18(num_classes=4)
    save_model(model, tmp_path, config, {})
    scorer = CnnScorer(tmp_path)
    dataset = ManifestImages(phantom_rows, train=False, prep=config.preprocessing)
    for i in range(len(phantom_rows)):
        served = scorer.input_tensor(read_image(phantom_rows["abspath"].iloc[i]), landmarks_of(phantom_rows)[i])
        trained, _ = dataset[i]
        assert served.shape == trained.shape == (3, 64, 64)
        torch.testing.assert_close(served, trained, atol=1e-6, rtol=0)


def test_load_refuses_another_preprocessing(tmp_path):
    save_model(torchvision.models.resnet18(num_classes=4), tmp_path, TrainConfig(size=64, weights=None), {})
    assert load_model(tmp_path)[1].size == 64
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["preprocessing"]["zoom"] = 2.0
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="differs in zoom"):
        load_model(tmp_path)
    del meta["preprocessing"]
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="records no preprocessing"):
        load_model(tmp_path)


def test_phantom_crop_keeps_the_whole_face(phantom_rows):
    prep = Preprocessing(size=224)
    for i, points in enumerate(landmarks_of(phantom_rows)):
        crop = face_crop(read_image(phantom_rows["abspath"].iloc[i]), points, prep)
        margin = 0.05 * prep.size
        assert (crop.landmarks > margin).all() and (crop.landmarks < prep.size - margin).all()


def test_whole_frame_manifest_trains_on_face_crops(phantom_rows, tmp_path):
    rows = []
    for i, path in enumerate(phantom_rows["abspath"]):
        frame = np.zeros((720, 960, 3), np.uint8)                # a small face in a large black frame
        frame[400:624, 600:824] = read_image(path)
        frame_path = tmp_path / f"frame{i}.png"
        cv2.imwrite(str(frame_path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        points = landmarks_of(phantom_rows.iloc[[i]])[0] + [600, 400]
        rows.append({"abspath": str(frame_path), "subject": phantom_rows["subject"].iloc[i],
                     "level": int(phantom_rows["level"].iloc[i]),
                     **dict(zip(LANDMARK_COLUMNS, np.concatenate([points[:, 0], points[:, 1]])))})
    frames = pd.DataFrame(rows)
    prep = Preprocessing(size=64)
    from_frames = ManifestImages(frames, prep=prep)
    from_faces = ManifestImages(phantom_rows, prep=prep)
    whole = to_tensor(cv2.resize(read_image(frames["abspath"].iloc[0]), (64, 64), interpolation=cv2.INTER_AREA), prep)
    torch.testing.assert_close(from_frames[0][0], from_faces[0][0], atol=1e-5, rtol=0)   # the face, not the frame
    assert (from_frames[0][0] - whole).abs().mean() > 0.5
    config = TrainConfig(size=64, weights=None, epochs=1, batch_size=2)
    train_model(frames.iloc[:2], frames.iloc[2:], config, tmp_path / "run", progress=False)
    meta = json.loads((tmp_path / "run" / "model.json").read_text())
    assert meta["preprocessing"] == prep.to_dict() and meta["preprocessing"]["input_path"] == "aligned-crop-v1"


class CountingDetector:
    name = "fake"

    def __init__(self, points):
        self.points, self.calls = points, 0

    def detect(self, image):
        self.calls += 1
        return [FaceBox(0, 0, image.shape[1], image.shape[0], 1.0)]

    def predict(self, image, boxes):
        return [self.points]


def test_missing_landmarks_are_detected_once_and_cached(phantom_rows, tmp_path):
    points = landmarks_of(phantom_rows.iloc[[0]])[0]
    fake = CountingDetector(points)
    table = phantom_rows[["abspath", "subject", "level"]].iloc[:2]
    first = manifest_landmarks(table, backends=(fake, fake), cache=tmp_path)
    assert fake.calls == 2 and np.allclose(first, points)
    second = manifest_landmarks(table, backends=(fake, fake), cache=tmp_path)
    assert fake.calls == 2 and np.array_equal(first, second)
    fake.points = np.full((68, 2), np.nan)                      # no face: the error names the file
    (tmp_path / "other").mkdir()
    with pytest.raises(InputError, match="no face found in 2"):
        manifest_landmarks(table, backends=(fake, fake), cache=tmp_path / "other")


def one_fold_run(phantom_rows, run):
    """A train-e2e-like run folder (an untrained 64 px ResNet18, every subject held out) and the rows relabelled
    with its predictions, so that every image counts as correctly classified. An untrained model's occlusion
    drops sum to a sign that depends on the seed; with seed 2 it is positive, so occlusion has a ranking
    (the <= 0 case is test_cam_engagement.py's test_no_ranking_when_engagement_sums_to_zero_or_less)."""
    torch.manual_seed(2)
    config = TrainConfig(size=64, weights=None)
    model = torchvision.models.resnet18(num_classes=4).eval()
    fold = run / "fold0"
    fold.mkdir(parents=True)
    save_model(model, fold, config, {})
    (fold / "split.json").write_text(json.dumps({"test_subjects": sorted(phantom_rows["subject"].unique())}))
    images = torch.stack([ManifestImages(phantom_rows, prep=config.preprocessing)[i][0] for i in range(len(phantom_rows))])
    with torch.no_grad():
        return phantom_rows.assign(level=model(images).argmax(1).numpy())


@pytest.mark.parametrize("method", ["occlusion", "fused", "integrated", "surrogate"])
def test_run_engagement_writes_method_resolution_and_ties(phantom_rows, tmp_path, method):
    from auengine.evaluation.engagement_run import run_engagement

    table = one_fold_run(phantom_rows, tmp_path / "run")
    result = run_engagement(tmp_path / "run", table, tmp_path / "out", method=method, n_boot=20)
    written = pd.read_csv(tmp_path / "out" / "engagement.csv", keep_default_na=False)
    assert set(written["method"]) == {method} and written["engagement"].sum() == pytest.approx(1.0)
    if method != "surrogate":                  # its ties come from correlated intensities, not regions
        assert written.set_index("AU").loc["AU7", "tied_with"].split(";").count("AU43") == 1
    assert list(written["AU"]) == list(result.index)
    if method == "surrogate":                  # no pixel resolution: it reads AUs
        assert written["resolution_px"].iloc[0] == ""
    else:                                      # a layer3 cell, or the region side
        assert float(written["resolution_px"].iloc[0]) == pytest.approx(64 / 4 if method == "fused" else 64 * 10 / 224)
    assert (tmp_path / "out" / "overlays").is_dir() == (method == "fused")
    assert ("rest_face" in written) == (method != "fused")
    assert written["notes"].iloc[0] == " | ".join(result.attrs["notes"])      # no metrics.csv: only the subject count
    assert ("subject(s)" in written["notes"].iloc[0]) == (table["subject"].nunique() < 5)


def test_engagement_overlays_are_deidentified(phantom_rows, tmp_path):
    """`engagement --deidentify mask`: the faces under the CAM overlays are masked; the engagement is unchanged."""
    from auengine.evaluation.engagement_run import run_engagement
    import cv2

    def read_png(path):
        return cv2.imread(str(path))[..., ::-1]

    table = one_fold_run(phantom_rows, tmp_path / "run")
    plain = run_engagement(tmp_path / "run", table, tmp_path / "plain", n_boot=20)
    masked = run_engagement(tmp_path / "run", table, tmp_path / "masked", n_boot=20, deidentify="mask")
    pd.testing.assert_frame_equal(plain, masked)
    shots = sorted((tmp_path / "masked" / "overlays").glob("*.png"))
    assert shots
    for shot in shots:               # the face under the CAM changed (deidentify's own tests check the pixels)
        original, shown = read_png(tmp_path / "plain" / "overlays" / shot.name), read_png(shot)
        centre = np.abs(original.astype(int) - shown.astype(int))[16:48, 16:48]
        assert centre.mean() > 5 and (centre.sum(axis=-1) > 0).mean() > 0.5, shot.name


def test_occlusion_fills_with_the_subjects_resting_face(random_face):
    """A brow region inside a wide bright patch in pain: a blur of it stays bright, the resting face does not."""
    rules = load_rules("infant")
    masks = rules.masks(random_face, (224, 224))
    pain = torch.full((3, 3, 224, 224), -1.0)
    lit = rules.masks(random_face, (224, 224), region_px=120)["AU4"]   # a wide patch around the brow regions
    pain[:, :, torch.from_numpy(lit)] = 2.0                           # lit in pain: a blur of the region stays lit
    rest = torch.full((3, 3, 224, 224), -1.0)                        # the same subject at rest
    model = OneRegionModel(masks["AU4"])
    landmarks = np.stack([random_face] * 3)
    rested = model_engagement(model, pain, landmarks, [1, 1, 1], method="occlusion", n_boot=20, rest_images=rest)
    assert rested.index[0] == "AU4" and rested.loc["AU4", "engagement"] == pytest.approx(1.0, abs=1e-4)
    assert rested.drop(index="AU4")["engagement"].abs().max() < 1e-4
    au4 = rules.aus.index("AU4")
    blur_drop = engagement_values("occlusion", model, pain, landmarks, rules)[0][:, au4]
    rest_drop = engagement_values("occlusion", model, pain, landmarks, rules, rest_images=rest)[0][:, au4]
    assert (rest_drop > 0.9).all() and (blur_drop < 0.5 * rest_drop).all()      # p(pain) ~1 -> ~0 at rest


def test_integrated_gradients_credit_only_what_moved_and_the_model_sees(random_face):
    """Against the resting face: a changed region the model sees gets all the evidence, a changed region it
    ignores and the unchanged ones get none; the attributions add up to the log-probability change."""
    from auengine.explain.integrated import region_attributions

    rules = load_rules("infant")
    masks = rules.masks(random_face, (224, 224))
    rest = torch.full((3, 3, 224, 224), -1.0) + 0.05 * torch.randn(3, 3, 224, 224)
    pain = rest.clone()
    for au in ("AU12", "AU4"):                                       # both moved; the model sees AU12 only
        pain[:, :, torch.from_numpy(masks[au])] = 2.0
    model = OneRegionModel(masks["AU12"])
    landmarks = np.stack([random_face] * 3)
    result = model_engagement(model, pain, landmarks, [1, 1, 1], method="integrated", n_boot=20, rest_images=rest)
    assert result.index[0] == "AU12" and result.loc["AU12", "engagement"] == pytest.approx(1.0, abs=1e-3)
    assert result.drop(index="AU12")["engagement"].abs().max() < 1e-3
    whole = np.ones((3, 1, 224, 224), bool)
    total, logits = region_attributions(model, pain, whole, baseline=rest, steps=64)
    with torch.no_grad():
        at_rest = torch.log_softmax(model(rest), dim=1)[:, 1].numpy()
    change = torch.log_softmax(torch.from_numpy(logits), dim=1)[:, 1].numpy() - at_rest
    assert change.min() > 1.0 and total[:, 0] == pytest.approx(change, rel=0.02)      # completeness


def test_resting_rows_pick_each_subjects_least_painful_image():
    from auengine.evaluation.engagement_run import resting_rows

    rows = pd.DataFrame({"subject": ["a", "a", "b", "b", "a"], "level": [2, 0, 1, 1, 0], "score": [6, 1, 3, 2, 0.5]})
    assert resting_rows(rows) == {"a": 4, "b": 3}


def test_reliability_notes_say_when_a_ranking_is_not_to_be_trusted(tmp_path):
    from auengine.evaluation.engagement_run import reliability_notes

    pd.DataFrame({"fold": [0, 1], "WA": [0.4, 0.3], "UA": [0.30, 0.32]}).to_csv(tmp_path / "metrics.csv", index=False)
    notes = reliability_notes(tmp_path, n_levels=4, n_subjects=2)
    headlines = [headline.split(" (")[0] for headline, _ in notes]
    assert headlines == ["model near chance", "only 2 subject(s) with correctly classified images"]
    assert "UA 0.31" in notes[0][0]
    pd.DataFrame({"fold": [0], "WA": [0.7], "UA": [0.65]}).to_csv(tmp_path / "metrics.csv", index=False)
    assert reliability_notes(tmp_path, n_levels=4, n_subjects=12) == []
    assert reliability_notes(tmp_path / "no-run", n_levels=4, n_subjects=5) == []     # no metrics: nothing claimed


def test_surrogate_ranks_the_au_the_models_output_follows():
    """Images whose one lit patch tracks the lip-corner raise (AU12) of their landmarks; the brows rise
    independently. The labels follow both, the model reads the patch only: the surrogate describes the
    model, not the labels, so it puts AU12 first and gives the brows (AU1, AU2) nearly nothing."""
    from auengine.phantom import neutral_faces

    rng = np.random.default_rng(4)
    rest = neutral_faces(8, seed=1)
    subjects = np.repeat(np.arange(8), 12)
    lift, brow = rng.uniform(0, 0.08, len(subjects)), rng.uniform(0, 0.3, len(subjects))   # AU12 below saturation
    faces = rest[subjects].copy()
    scale = np.linalg.norm(faces[:, 42] - faces[:, 39], axis=1)
    faces[:, [48, 54], 1] -= (lift * scale)[:, None]
    faces[:, 17:27, 1] -= (brow * scale)[:, None]
    mask = np.zeros((64, 64), bool)
    mask[4:12, 4:12] = True
    images = torch.zeros(len(subjects), 3, 64, 64)
    images[:, 0, 4:12, 4:12] = torch.from_numpy((lift / 0.08 - 0.5).astype(np.float32))[:, None, None]
    levels = (lift / 0.08 + brow / 0.3 > 1).astype(int)
    result = model_engagement(OneRegionModel(mask), images, faces, levels, method="surrogate",
                              subjects=subjects, rest_landmarks=rest[subjects], n_boot=50)
    assert result.index[0] == "AU12" and result.loc["AU12", "engagement"] > 0.8
    assert result.loc[["AU1", "AU2"], "engagement"].max() < 0.1
    assert result.loc["AU1", "tied_with"] == "AU2"                  # one brow raise moves both: they tie
    assert (result["low"] <= result["engagement"] + 1e-12).all() and (result["engagement"] <= result["high"] + 1e-12).all()


def test_surrogate_shares_collinear_aus_and_says_when_the_aus_explain_little():
    from auengine.explain.au_surrogate import SurrogateAccumulator, expected_level

    rules = load_rules("infant")
    rng = np.random.default_rng(0)
    n = 400
    x = rng.uniform(0, 5, (n, len(rules.aus)))
    drive = rng.uniform(0, 5, n)
    au4, au12 = rules.aus.index("AU4"), rules.aus.index("AU12")
    x[:, au4], x[:, au12] = drive + rng.normal(0, 0.2, n), drive + rng.normal(0, 0.2, n)
    subjects = np.repeat(np.arange(20), 20)
    follows = SurrogateAccumulator(rules)
    follows.add(x, outputs=0.3 * x[:, au4] + rng.normal(0, 0.1, n), subjects=subjects)
    ranking = follows.engagement()
    assert set(ranking.index[:2]) == {"AU4", "AU12"} and ranking.iloc[:2].sum() > 0.9
    assert follows.tied_with()["AU4"] == "AU12" and follows.notes() == []
    assert follows.fit()[1] > 0.8
    noise = SurrogateAccumulator(rules)
    noise.add(x, outputs=rng.normal(0, 1, n), subjects=subjects)
    assert noise.notes() and "explain" in noise.notes()[0][0]
    assert expected_level(np.array([[0.0, 0.0], [0.0, 50.0]])) == pytest.approx([0.5, 1.0])


@pytest.mark.parametrize("rho", [0.5, 0.85])
def test_surrogate_gives_little_to_an_unused_au_that_correlates_with_a_used_one(rho):
    """The output follows AU1 only; AU2 correlates rho with AU1. With enough data the chosen ridge
    penalty is small, so AU2 gets a few per cent; a fixed penalty of 1 gives it far more."""
    from auengine.explain.au_surrogate import SurrogateAccumulator

    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (2000, 12))
    x[:, 1] = rho * x[:, 0] + np.sqrt(1 - rho ** 2) * x[:, 1]
    output, subjects = x[:, 0] + rng.normal(0, 0.3, 2000), np.repeat(np.arange(40), 50)
    accumulator, fixed = SurrogateAccumulator(load_rules("infant")), SurrogateAccumulator(load_rules("infant"), alpha=1)
    for each in (accumulator, fixed):
        each.add(x, outputs=output, subjects=subjects)
    ranking = accumulator.engagement()
    assert ranking.index[0] == "AU1" and ranking["AU2"] < 0.06 and accumulator.alpha() < 1
    assert fixed.engagement()["AU2"] > {0.5: 0.15, 0.85: 0.3}[rho]


def test_surrogate_refuses_what_it_cannot_read(random_face):
    from auengine.explain.au_surrogate import au_intensities

    model = OneRegionModel(np.ones((64, 64), bool))
    images, faces = torch.zeros(3, 3, 64, 64), np.stack([random_face] * 3)
    with pytest.raises(InputError, match="resting face"):              # every image its own subject
        model_engagement(model, images, faces, [0, 1, 1], method="surrogate")
    with pytest.raises(InputError, match="no AU intensity varies"):     # each subject's one image is its rest
        model_engagement(model, images, faces, [0, 1, 1], method="surrogate", subjects=["a", "b", "c"],
                         rest_landmarks=faces)
    with pytest.raises(InputError, match="AU15"):
        au_intensities(faces, faces, ["AU12", "AU15"])
