"""Grad-CAM (fast vs reference), hooks, AU engagement (Eq. 2), metrics, CV splits, training mechanics."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision

from auengine.au.rules import load_rules
from auengine.engagement import EngagementAccumulator, au_engagement
from auengine.errors import BundleError, InputError
from auengine.evaluation.e2e import splits
from auengine.metrics import classification_metrics, summarize_folds
from auengine.explain.gradcam import gradcam, reference_gradcam


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=4).eval()


def test_fast_equals_reference_on_a_random_model(resnet):
    images = torch.randn(3, 3, 96, 96)
    fast = gradcam(resnet, images, method="fast")
    assert fast.shape == (3, 96, 96) and fast.dtype == np.float32
    assert fast.min() >= 0 and np.allclose(fast.max(axis=(1, 2)), 1, atol=1e-5)
    np.testing.assert_allclose(fast, reference_gradcam(resnet, images), atol=1e-4)
    np.testing.assert_allclose(fast, gradcam(resnet, images, method="reference"), atol=1e-4)
    targets = [3, 0, 2]
    np.testing.assert_allclose(gradcam(resnet, images, targets=targets),
                               reference_gradcam(resnet, images, targets=targets), atol=1e-4)


def test_fast_equals_reference_on_a_trained_model():
    torch.manual_seed(1)
    model = torchvision.models.resnet18(num_classes=2)
    images = torch.randn(16, 3, 64, 64)
    images[8:, :, 16:32, 16:48] += 2.0                 # class 1 has a bright patch
    labels = torch.tensor([0] * 8 + [1] * 8)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    for _ in range(15):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    model.eval()
    np.testing.assert_allclose(gradcam(model, images, method="fast"), reference_gradcam(model, images), atol=1e-4)


@pytest.mark.parametrize("engine", ["onnx", "torch"])
def test_both_fast_engines_equal_the_reference(resnet, monkeypatch, engine):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("AUENGINE_CAM_ENGINE", engine)
    images = torch.randn(2, 3, 80, 80)
    np.testing.assert_allclose(gradcam(resnet, images, method="fast"), reference_gradcam(resnet, images), atol=1e-4)


def test_onnx_session_follows_weight_changes():
    """The exported session is rebuilt after an in-place weight update (a stale one would give old maps)."""
    pytest.importorskip("onnxruntime")
    from auengine.explain.onnx_engine import onnx_forward

    torch.manual_seed(3)
    model = torchvision.models.resnet18(num_classes=3).eval()
    images = torch.randn(2, 3, 64, 64)
    first = onnx_forward(model, images)[1]
    with torch.no_grad():
        model.fc.weight.mul_(-1.0)
        model.layer4[0].conv1.weight.add_(0.05)
    second = onnx_forward(model, images)[1]
    with torch.no_grad():
        expected = model(images)
    assert not torch.allclose(first, second)
    torch.testing.assert_close(second, expected, atol=1e-4, rtol=1e-4)
    model.load_state_dict(torchvision.models.resnet18(num_classes=3).state_dict())     # copy_ bumps versions
    with torch.no_grad():
        torch.testing.assert_close(onnx_forward(model, images)[1], model(images), atol=1e-4, rtol=1e-4)


def test_hooks_are_released(resnet):
    layer = resnet.layer4[-1]
    before = (len(layer._forward_hooks), len(layer._backward_hooks), len(layer._forward_pre_hooks))
    for method in ("fast", "reference"):
        gradcam(resnet, torch.randn(1, 3, 64, 64), method=method)
    with pytest.raises(InputError):
        gradcam(resnet, torch.randn(2, 3, 64, 64), targets=[1], method="fast")   # fails inside the hook block
    assert (len(layer._forward_hooks), len(layer._backward_hooks), len(layer._forward_pre_hooks)) == before


def test_fast_path_needs_a_pooled_linear_head():
    vgg = torchvision.models.vgg11(num_classes=3).eval()
    with pytest.raises(InputError, match="fast"):
        gradcam(vgg, torch.randn(1, 3, 64, 64), method="fast")
    assert gradcam(vgg, torch.randn(1, 3, 64, 64)).shape == (1, 64, 64)   # auto falls back to reference


@pytest.fixture
def crop_face(random_face):
    return random_face    # landmarks in a 224 x 224 grid


def test_engagement_finds_the_hot_region(crop_face):
    rules = load_rules("infant")
    masks = rules.masks(crop_face, (224, 224))
    cam = masks["AU9"].astype(float)
    ranking = au_engagement(cam[None], crop_face[None])
    assert ranking.index[0] == "AU9" and ranking.sum() == pytest.approx(1.0)
    assert ranking["AU9"] == pytest.approx(1.0 / (1.0 + sum(
        (masks[a] & masks["AU9"]).sum() / masks[a].sum() for a in rules.aus if a != "AU9")))


def test_only_correct_images_count(crop_face):
    rules = load_rules("infant")
    masks = rules.masks(crop_face, (224, 224))
    cams = np.stack([masks["AU27"], masks["AU4"]]).astype(float)
    landmarks = np.stack([crop_face, crop_face])
    assert au_engagement(cams, landmarks, correct=[True, False]).index[0] == "AU27"
    assert au_engagement(cams, landmarks, correct=[False, True]).index[0] == "AU4"
    with pytest.raises(InputError, match="no image counted"):
        au_engagement(cams, landmarks, correct=[False, False])


def test_streaming_equals_in_memory(crop_face):
    rng = np.random.default_rng(0)
    cams = rng.uniform(0, 1, (10, 224, 224))
    landmarks = np.stack([crop_face + rng.normal(0, 2, (68, 2)) for _ in range(10)])
    correct = rng.uniform(size=10) < 0.7
    whole = au_engagement(cams, landmarks, correct=correct)
    stream = EngagementAccumulator()
    for start in range(0, 10, 3):
        stream.update(cams[start:start + 3], landmarks[start:start + 3], correct=correct[start:start + 3],
                      subjects=[f"s{i % 4}" for i in range(start, min(start + 3, 10))])
    pd.testing.assert_series_equal(stream.engagement(), whole)
    boot = stream.bootstrap(n_boot=200)
    assert (boot["low"] <= boot["engagement"] + 1e-12).all() and (boot["engagement"] <= boot["high"] + 1e-12).all()


def test_metrics_on_a_hand_computed_confusion_matrix():
    # true:      0 0 0 0 1 1 2 2 2 2
    # predicted: 0 0 1 0 1 2 2 2 0 2      -> per-class recall 3/4, 1/2, 3/4
    y_true = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2]
    y_pred = [0, 0, 1, 0, 1, 2, 2, 2, 0, 2]
    m = classification_metrics(y_true, y_pred)
    assert m["WA"] == pytest.approx(0.7)
    assert m["UA"] == pytest.approx((3 / 4 + 1 / 2 + 3 / 4) / 3)
    precision = {0: 3 / 4, 1: 1 / 2, 2: 3 / 4}
    assert m["P"] == pytest.approx(sum(precision[c] * n for c, n in {0: 4, 1: 2, 2: 4}.items()) / 10)
    assert m["R"] == pytest.approx(0.7)
    summary = summarize_folds(pd.DataFrame([m, {**m, "WA": 0.5}]))
    assert summary.loc["mean", "WA"] == pytest.approx(0.6) and summary.loc["std", "WA"] == pytest.approx(0.1)


def test_cv_splits_never_share_a_subject():
    table = pd.DataFrame({"subject": [f"s{i % 9}" for i in range(90)]})
    for folds in (5, 1, "loso"):
        parts = splits(table, folds)
        assert len(parts) == {5: 5, 1: 1, "loso": 9}[folds]
        for train, test in parts:
            assert not set(table.subject.iloc[train]) & set(table.subject.iloc[test])


@pytest.fixture(scope="module")
def tiny_phantom(tmp_path_factory):
    from auengine.io.manifest import read_manifest
    from auengine.phantom import generate

    folder = tmp_path_factory.mktemp("tiny")
    path = generate(folder, n_subjects=5, frames_per_subject=6, workers=1, videos=False, progress=False)
    table = read_manifest(path)
    table.attrs["manifest"] = str(path)
    return table


@pytest.mark.slow
def test_tiny_training_run_cli_and_engagement(tiny_phantom, tmp_path):
    from auengine.cli import main

    path = tiny_phantom.attrs["manifest"]
    assert main(["train-e2e", path, "--out", str(tmp_path / "run"), "--folds", "2", "--epochs", "2",
                 "--size", "64", "--weights", "none"]) == 0
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert list(metrics.columns[:6]) == ["fold", "WA", "UA", "P", "R", "F1"] and len(metrics) == 2
    assert (tmp_path / "run" / "fold0" / "model.safetensors").is_file()
    code = main(["engagement", str(tmp_path / "run"), path, "--out", str(tmp_path / "eng"), "--bootstrap", "50"])
    if code == 0:    # a 2-epoch model may classify nothing correctly; then the error path is taken
        table = pd.read_csv(tmp_path / "eng" / "engagement.csv")
        assert table["engagement"].sum() == pytest.approx(1.0) and (tmp_path / "eng" / "engagement.png").is_file()
        assert set(table["method"]) == {"surrogate"}                  # the default chosen by docs/engagement.md
    else:
        assert code == 2
    from auengine.cli import build_parser

    assert build_parser().parse_args(["engagement", "RUN", "MANIFEST", "--out", "OUT"]).method == "surrogate"


@pytest.mark.slow
def test_training_is_deterministic_and_resumes(tiny_phantom, tmp_path, monkeypatch):
    import auengine.models.train as training
    from auengine.models.train import TrainConfig, train_model

    train, val = tiny_phantom.iloc[:20], tiny_phantom.iloc[20:]
    config = TrainConfig(epochs=2, size=48, weights=None, batch_size=8)
    _, first = train_model(train, val, config, tmp_path / "a", progress=False)
    _, second = train_model(train, val, config, tmp_path / "b", progress=False)
    pd.testing.assert_frame_equal(first, second)

    real_checkpoint = training._checkpoint

    def interrupt_after_first_epoch(*args):
        real_checkpoint(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "_checkpoint", interrupt_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_model(train, val, config, tmp_path / "c", progress=False)
    monkeypatch.setattr(training, "_checkpoint", real_checkpoint)
    _, resumed = train_model(train, val, config, tmp_path / "c", progress=False)   # picks up at epoch 2
    pd.testing.assert_frame_equal(resumed, first)
    with pytest.raises(BundleError, match="different configuration"):
        train_model(train, val, TrainConfig(epochs=2, size=48, weights=None, lr=0.1), tmp_path / "c", progress=False)


def test_no_ranking_when_engagement_sums_to_zero_or_less():
    """Occlusion drops may be negative; when they sum to <= 0 there is no ranking (not a silent uniform one)."""
    stream = EngagementAccumulator()
    n_aus = len(stream.aus)
    drops = np.full((6, n_aus), -0.01)                          # hiding any region makes the class more likely
    drops[:3, 0] = 0.5                                          # ... except AU1, on level 1's images
    stream.add(drops, subjects=["a", "a", "b", "b", "c", "c"], levels=[1, 1, 1, 2, 2, 2])
    assert stream.engagement(2).isna().all()                    # level 2: total < 0
    assert stream.engagement(1).idxmax() == stream.aus[0]
    assert stream.engagement().notna().all()                    # all images: total > 0
    assert stream.bootstrap(n_boot=50)["engagement"].sum() == pytest.approx(1.0)
    negative = EngagementAccumulator()
    negative.add(np.full((4, n_aus), -0.01), subjects=["a", "a", "b", "b"])
    with pytest.raises(InputError, match="no ranking"):
        negative.bootstrap(n_boot=50)
