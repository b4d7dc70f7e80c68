"""Transfer classifiers (issue 7): selection, strain, deferral, leakage, and each method end to end."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from auengine.errors import InputError
from auengine.transfer.classical import Configuration, evaluate_configurations, fit_predict
from auengine.transfer.deferral import deferral_table
from auengine.transfer.handcrafted import hog_features, lbp_histogram, peak_statistics, strain_features, \
    strain_magnitude
from auengine.transfer.selection import ReliefFSelector, SymmetricUncertaintySelector, entropy, \
    symmetric_uncertainty


# -- Symmetric Uncertainty and ReliefF -------------------------------------------------------------
def test_symmetric_uncertainty_hand_computed():
    y = np.array([0, 0, 1, 1])
    assert symmetric_uncertainty(y, y) == pytest.approx(1.0)                       # identical
    assert symmetric_uncertainty(np.array([0, 1, 0, 1]), y) == pytest.approx(0.0)  # independent
    assert symmetric_uncertainty(np.zeros(4), np.zeros(4)) == 0.0                  # both constant
    # x = [0, 0, 1, 2], y = [0, 0, 1, 1]: H(X) = 1.5, H(Y) = 1, H(X,Y) = 1.5 -> I = 1, SU = 2/2.5
    assert symmetric_uncertainty(np.array([0, 0, 1, 2]), y) == pytest.approx(0.8)
    assert entropy(np.array([3, 3, 7, 7])) == pytest.approx(1.0)


@pytest.mark.parametrize("selector", [SymmetricUncertaintySelector(k=2), ReliefFSelector(k=2)])
def test_selectors_find_the_informative_features(selector):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    X = rng.normal(size=(300, 8))
    X[:, 3] += 3 * y
    X[:, 6] -= 2 * y
    selector.fit(X, y)
    assert set(np.flatnonzero(selector.get_support())) == {3, 6}
    assert selector.transform(X).shape == (300, 2)


@parametrize_with_checks([SymmetricUncertaintySelector(k=2), ReliefFSelector(k=2, n_samples=20)])
def test_selectors_are_sklearn_compatible(estimator, check):
    check(estimator)


def test_selection_is_fitted_on_training_rows_only():
    """A feature that predicts the label only in the test rows must not be chosen (no leakage)."""
    rng = np.random.default_rng(1)
    n_train, n_test = 200, 100
    y = rng.integers(0, 2, n_train + n_test)
    X = rng.normal(size=(n_train + n_test, 6))
    X[:, 0] += 2.5 * y                                    # informative everywhere
    X[n_train:, 5] = 10 * y[n_train:]                     # informative only in test: a leak would pick it
    configs = [Configuration("SU", 1, "NB"), Configuration("ReliefF", 1, "NB")]
    out = fit_predict(X[:n_train], y[:n_train], X[n_train:], configs)
    for config in configs:
        predicted, _ = out[config]
        # with feature 0 the NB is right ~85 %; with the leaky feature 5 it would be right 100 %
        assert 0.7 < (predicted == y[n_train:]).mean() < 0.97
    groups = np.repeat(np.arange(30), 10)
    folds = [(np.flatnonzero(groups < 20), np.flatnonzero(groups >= 20))]
    from auengine.transfer.classical import pipeline

    for config in configs:                   # the shared-ranking shortcut equals the plain sklearn pipeline
        plain = pipeline(config).fit(X[:n_train], y[:n_train]).predict(X[n_train:])
        assert np.array_equal(plain, out[config][0])
    table, best = evaluate_configurations(X, y, groups, folds, configs, inner_folds=2)
    assert len(table) == 2 and len(best) == 1 and best["accuracy"].iloc[0] < 0.97


# -- strain, LBP, HOG --------------------------------------------------------------------------------
def test_strain_of_a_known_flow():
    """u = a x, v = b y: e_xx = a, e_yy = b, no shear -> sqrt(a^2 + b^2); pure shear u = c y -> |c| / sqrt(2)."""
    yy, xx = np.mgrid[0:40, 0:50].astype(float)
    flow = np.stack([0.03 * xx, -0.04 * yy], axis=-1)
    assert np.allclose(strain_magnitude(flow), 0.05)
    shear = np.stack([0.1 * yy, np.zeros_like(yy)], axis=-1)
    assert np.allclose(strain_magnitude(shear), 0.1 / np.sqrt(2))
    assert np.allclose(strain_magnitude(np.zeros((10, 10, 2))), 0)


def test_strain_features_see_a_stretching_face():
    import cv2

    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 255, (96, 96)).astype(np.uint8), (7, 7), 2)
    still = [base] * 6
    stretched = [cv2.resize(base, None, fx=1 + 0.03 * i, fy=1.0)[:, :96] for i in range(6)]
    moving, resting = strain_features(stretched)[2], strain_features(still)[2]    # whole-face peak max
    assert moving == pytest.approx(0.03, rel=0.15)        # 3 % stretch per frame: e_xx = 0.03
    assert resting < 0.1 * moving                         # Farneback's noise on identical frames
    assert list(peak_statistics(np.array([0.0, 1.0, 0.0, 3.0, 0.0]))) == [2, 2.0, 3.0, 1.0]
    assert list(peak_statistics(np.array([0.1, 0.2, 0.3]))) == [1, 0.3, 0.3, 0.0]     # monotone: its maximum
    assert list(peak_statistics(np.zeros(4))) == [0, 0, 0, 0]


def test_lbp_and_hog_shapes():
    grey = (np.arange(64 * 64) % 251).reshape(64, 64).astype(np.uint8)
    hist = lbp_histogram(grey)
    assert hist.shape == (160,) and np.allclose(hist.reshape(16, 10).sum(axis=1), 1)
    assert hog_features(grey).shape == (1764,)


# -- deferral ----------------------------------------------------------------------------------------
def test_deferral_arithmetic_on_a_toy_softmax():
    probabilities = np.array([[0.9, 0.1], [0.6, 0.4], [0.45, 0.55], [0.2, 0.8], [0.52, 0.48]])
    labels = np.array([0, 1, 1, 0, 0])            # right, wrong, right, wrong, right
    table = deferral_table(probabilities, labels, taus=(0.5, 0.56, 0.7, 0.95)).set_index("tau")
    assert table.loc[0.5, "n_deferred"] == 0 and table.loc[0.5, "accuracy_decided"] == pytest.approx(3 / 5)
    # tau 0.56 defers 0.55 and 0.52 (one right, one right): decided = {0.9 R, 0.6 W, 0.8 W}
    assert table.loc[0.56, "n_deferred"] == 2 and table.loc[0.56, "accuracy_decided"] == pytest.approx(1 / 3)
    assert table.loc[0.56, "overall_accuracy"] == pytest.approx(3 / 5)
    # tau 0.7 also defers 0.6 (wrong): decided = {0.9 R, 0.8 W}; overall counts deferred as right
    assert table.loc[0.7, "overall_accuracy"] == pytest.approx(4 / 5) and table.loc[0.7, "share_deferred"] == 0.6
    assert table.loc[0.95, "n_decided"] == 0 and np.isnan(table.loc[0.95, "accuracy_decided"])
    assert table.loc[0.95, "overall_accuracy"] == 1.0


# -- each method on a tiny phantom -------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_binary(tmp_path_factory):
    from auengine.io.manifest import read_manifest
    from auengine.phantom import generate
    from auengine.transfer.run import binary_table

    folder = tmp_path_factory.mktemp("phantom")
    table = read_manifest(generate(folder, n_subjects=6, frames_per_subject=8, videos=False, progress=False))
    return binary_table(table)


def test_binary_labels_follow_the_threshold(tiny_binary):
    from auengine.transfer.run import binary_table

    assert (tiny_binary["level"] == (tiny_binary["level_full"] >= 2)).all()
    with pytest.raises(InputError, match="one class"):
        binary_table(tiny_binary.assign(level=tiny_binary["level_full"]), pain_from=4)


def test_features_method_end_to_end(tiny_binary, tmp_path):
    from auengine.transfer.run import run_features

    configs = [Configuration("SU", 5, "NB"), Configuration("ReliefF", 5, "kNN")]
    results = run_features(tiny_binary, tmp_path, layers=["resnet18-pool"], handcrafted=["lbp"], weights=None,
                           folds=3, size=64, configs=configs, progress=False)
    assert set(results["method"]) == {"features: resnet18-pool", "features: lbp", "features: resnet18-pool + lbp"}
    assert results[["WA", "F1", "AUC"]].stack().between(0, 1).all() and (results["init"].iloc[0] == "random")
    per_config = pd.read_csv(tmp_path / "configurations.csv")
    assert len(per_config) == 3 * 3 * 2 and "Tables 5-7" in (tmp_path / "results.md").read_text()


def test_vgg16_fc7_hook_sees_values_before_relu(tiny_binary):
    import torch

    from auengine.transfer.features import PRESETS, deep_features

    torch.manual_seed(0)
    from auengine.models.backbones import build_model

    model, _ = build_model("vgg11", 1000, weights=None)
    model.eval()
    rows = tiny_binary.head(2)
    pre = deep_features(model, PRESETS["vgg16-fc7-prerelu"], rows, size=64)
    post = deep_features(model, PRESETS["vgg16-fc7-postrelu"], rows, size=64)
    assert pre.shape == (2, 4096) and (pre < 0).any() and np.allclose(post, np.maximum(pre, 0), atol=1e-5)


@pytest.mark.parametrize("method, backbone", [("fc-head", "resnet18"), ("vgg-finetune", "vgg11")])
def test_cnn_methods_end_to_end(tiny_binary, tmp_path, method, backbone):
    import json

    from auengine.models.train import TrainConfig
    from auengine.transfer.run import run_cnn

    config = TrainConfig(epochs=1, weights=None, size=48, lr=1e-4)
    results = run_cnn(method, tiny_binary, tmp_path, config, folds=2, backbone=backbone, progress=False)
    assert len(results) == 2 and results[["WA", "UA", "F1"]].stack().between(0, 1).all()
    saved = json.loads((tmp_path / "run" / "fold0" / "model.json").read_text())["config"]
    if method == "fc-head":
        assert saved["head"] == "fc512" and saved["defer_below"] == 0.55
        deferral = pd.read_csv(tmp_path / "deferral.csv")
        assert len(deferral) == 10 and deferral["share_deferred"].is_monotonic_increasing
    else:
        assert saved["head"] == "gap2048" and saved["freeze"] == 3 and saved["metric"] == "loss"
