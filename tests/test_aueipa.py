"""AuE-IPA regressor, level maps, bundles, the evaluation tables and the demo (issue 6)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from auengine import AuEIPARegressor
from auengine.bundle import load_bundle, save_bundle
from auengine.errors import BundleError, InputError
from auengine.estimators.aueipa import init_mlp, train_mlp
from auengine.evaluation.generalization import default_level_map, map_levels, parse_level_map
from auengine.evaluation.regression import best_k, smooth_l1

AUS = ["AU27", "AU25", "AU10"]


def toy(n=200, seed=0):
    """AU intensities (n, 3) and FLACC-like scores driven mostly by the first AU."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 5, (n, 3))
    y = np.clip(X @ np.array([1.2, 0.6, 0.2]) + rng.normal(0, 0.2, n), 0, 10)
    return X, y


@parametrize_with_checks([AuEIPARegressor(epochs=5)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_shapes_and_levels():
    X, y = toy()
    model = AuEIPARegressor(aus=AUS, epochs=30).fit(X, y)
    assert model.predict(X).shape == (200,)
    levels = model.predict_level(X)
    assert set(np.unique(levels)) <= {0, 1, 2, 3}
    assert np.corrcoef(model.predict(X), y)[0, 1] > 0.9
    assert len(model.loss_curve_) == 30 and model.loss_curve_[-1] < model.loss_curve_[0]
    # levels are the FLACC bins [0, 2.5), [2.5, 5), [5, 7.5), [7.5, 10] of the clipped intensity
    expected = np.searchsorted([2.5, 5, 7.5], np.clip(model.predict(X), 0, 10), side="right")
    assert np.array_equal(levels, expected)
    nips = AuEIPARegressor(aus=AUS, epochs=30, scale="nips").fit(X, np.clip(y, 0, 7))
    assert set(np.unique(nips.predict_level(X))) <= {0, 1, 2}


def test_weighting_multiplies_the_inputs():
    X, y = toy()
    w = np.array([0.3, 0.2, 0.1])
    weighted = AuEIPARegressor(engagement=w, epochs=10, random_state=3).fit(X, y)
    plain_on_scaled = AuEIPARegressor(weighted=False, epochs=10, random_state=3).fit(X * w, y)
    assert np.allclose(weighted.predict(X), plain_on_scaled.predict(X * w))
    off = AuEIPARegressor(engagement=w, weighted=False, epochs=10, random_state=3).fit(X, y)
    assert np.allclose(off.input_weights_, 1) and not np.allclose(off.predict(X), weighted.predict(X))


def test_engagement_by_au_name_and_dataframe_input():
    X, y = toy()
    table = pd.DataFrame(X, columns=["AU27_r", "AU25_r", "AU10_r"]).assign(AU01_r=0.0)
    engagement = pd.Series({"AU10": 0.1, "AU25": 0.2, "AU27": 0.3, "AU1": 0.4})
    model = AuEIPARegressor(aus=AUS, engagement=engagement, epochs=5).fit(table, y)
    assert np.allclose(model.input_weights_, [0.3, 0.2, 0.1])
    with pytest.raises(InputError, match="AU10_r"):
        model.predict(table.drop(columns="AU10_r"))
    with pytest.raises(InputError, match="no engagement level for AU10"):
        AuEIPARegressor(aus=AUS, engagement={"AU27": 1, "AU25": 1}).fit(table, y)


def test_deterministic_with_a_seed():
    X, y = toy()
    a = AuEIPARegressor(epochs=10, random_state=5).fit(X, y).predict(X)
    b = AuEIPARegressor(epochs=10, random_state=5).fit(X, y).predict(X)
    c = AuEIPARegressor(epochs=10, random_state=6).fit(X, y).predict(X)
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_numpy_training_equals_torch_adam_and_smoothl1():
    """Full-batch steps without dropout: the numpy trainer matches torch.optim.Adam on nn.SmoothL1Loss."""
    X, y = toy(40)
    params = init_mlp(np.random.default_rng(0), 3, 3)
    layers = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)).double()
    with torch.no_grad():
        layers[0].weight.copy_(torch.from_numpy(params["w1"].T))
        layers[0].bias.copy_(torch.from_numpy(params["b1"]))
        layers[2].weight.copy_(torch.from_numpy(params["w2"].T))
        layers[2].bias.copy_(torch.from_numpy(params["b2"]))
    optimizer = torch.optim.Adam(layers.parameters(), lr=0.01)
    for _ in range(5):
        optimizer.zero_grad()
        torch.nn.SmoothL1Loss()(layers(torch.from_numpy(X)), torch.from_numpy(y)[:, None]).backward()
        optimizer.step()
    train_mlp(params, X, y, np.random.default_rng(1), lr=0.01, batch_size=40, epochs=5, dropout=0.0)
    assert np.allclose(params["w1"], layers[0].weight.detach().numpy().T, atol=1e-10)
    assert np.allclose(params["w2"], layers[2].weight.detach().numpy().T, atol=1e-10)
    assert np.allclose(params["b2"], layers[2].bias.detach().numpy(), atol=1e-10)


def test_plugs_into_subject_wise_cross_validation():
    X, y = toy()
    groups = np.repeat(np.arange(10), 20)
    scores = cross_val_score(AuEIPARegressor(epochs=20), X, y, groups=groups, cv=GroupKFold(5))
    assert scores.shape == (5,) and np.all(scores > 0.5)
    assert clone(AuEIPARegressor(aus=AUS, hidden=4)).get_params()["hidden"] == 4


def test_smooth_l1_and_best_k():
    assert smooth_l1(np.array([0.0, 3.0]) - np.array([0.5, 0.0])).mean() == pytest.approx((0.125 + 2.5) / 2)
    sweep = pd.DataFrame({"k": [1, 2, 3, 4], "loss": [0.9, 0.45, 0.5, 0.4], "loss_std": [0.1, 0.1, 0.1, 0.1],
                          "n_folds": 4})
    assert best_k(sweep, "min") == 4
    assert best_k(sweep, "1se") == 2          # 0.45 <= 0.4 + 0.1 / sqrt(4); 0.9 is not
    assert best_k(sweep.assign(loss_std=0.0), "1se") == 4
    with pytest.raises(InputError, match=r"k\* rule"):
        best_k(sweep, "median")


def test_level_maps():
    assert default_level_map(4, 4) == {0: 0, 1: 1, 2: 2, 3: 3}
    assert default_level_map(4, 2) == {0: 0, 1: 1, 2: 1, 3: 1}
    assert default_level_map(4, 3) == {0: 0, 1: 1, 2: 1, 3: 2}
    mapping = parse_level_map("0:0,1:0,2:1,3:1", 4, 2)
    assert list(map_levels([0, 1, 2, 3], mapping)) == [0, 0, 1, 1]
    with pytest.raises(InputError, match="missing \\[3\\]"):
        parse_level_map("0:0,1:0,2:1", 4, 2)
    with pytest.raises(InputError, match="train:test"):
        parse_level_map("zero:0", 4, 2)


# -- bundles ---------------------------------------------------------------------------------------
@pytest.fixture
def bundle_dir(tmp_path, rules):
    X, y = toy()
    engagement = pd.Series({"AU27": 0.5, "AU25": 0.3, "AU10": 0.2})
    model = AuEIPARegressor(aus=AUS, engagement=engagement, epochs=10).fit(X, y)
    folder = save_bundle(tmp_path / "bundle", model, rules=rules, engagement=engagement,
                         preprocessing={"au_backend": "geometry"}, training_data={"synthetic": True, "rows": 200})
    return folder, model, X


def test_bundle_round_trip(bundle_dir):
    folder, model, X = bundle_dir
    bundle = load_bundle(folder)
    table = pd.DataFrame(X, columns=["AU27_r", "AU25_r", "AU10_r"])
    scored = bundle.predict(table)
    assert np.allclose(scored["intensity"], np.clip(model.predict(X), 0, 10))
    assert list(scored["level"]) == list(model.predict_level(X))
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["training_data"]["synthetic"] is True and manifest["aus"] == AUS
    assert manifest["rules"]["name"] == "infant" and len(manifest["rules"]["sha256"]) == 64


def test_bundle_refuses_tampered_weights(bundle_dir):
    folder = bundle_dir[0]
    data = bytearray((folder / "regressor.safetensors").read_bytes())
    data[-1] ^= 1
    (folder / "regressor.safetensors").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256 differs"):
        load_bundle(folder)


def test_bundle_refuses_other_versions_and_missing_parts(bundle_dir, tmp_path):
    folder = bundle_dir[0]
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(BundleError, match="version 99"):
        load_bundle(folder)
    with pytest.raises(BundleError, match="not a bundle"):
        load_bundle(tmp_path / "nowhere")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "regressor.safetensors").unlink()
    with pytest.raises(BundleError, match="missing"):
        load_bundle(folder)


def test_bundle_refuses_tables_without_its_aus(bundle_dir):
    bundle = load_bundle(bundle_dir[0])
    with pytest.raises(BundleError, match="AU10_r"):
        bundle.predict(pd.DataFrame({"AU27_r": [1.0], "AU25_r": [2.0]}), "frames.csv")


def test_bundle_rows_without_aus_get_nan(bundle_dir):
    bundle = load_bundle(bundle_dir[0])
    scored = bundle.predict(pd.DataFrame({"AU27_r": [1.0, np.nan], "AU25_r": [2.0, 1.0], "AU10_r": [0.0, 0.0]}))
    assert np.isfinite(scored["intensity"].iloc[0]) and np.isnan(scored["intensity"].iloc[1])


# -- evaluation tables and the demo --------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_phantom(tmp_path_factory):
    from auengine.io.manifest import read_manifest
    from auengine.phantom import generate

    folder = tmp_path_factory.mktemp("phantom")
    train = read_manifest(generate(folder / "a", n_subjects=6, frames_per_subject=10, videos=False, progress=False))
    test = read_manifest(generate(folder / "b", n_subjects=3, frames_per_subject=10, population=1, seed=4,
                                  videos=False, progress=False))
    return train, test


def test_evaluation_tables_on_a_tiny_phantom(tiny_phantom, tmp_path):
    from auengine.evaluation.experiment import EvaluationConfig, evaluate, results_markdown

    train, test = tiny_phantom
    binary = test.assign(scale="nfcs", level=(test["score"] >= 3).astype(int))
    engagement = pd.Series(np.linspace(2, 1, 12), index=["AU27", "AU25", "AU10", "AU20", "AU9", "AU6", "AU12",
                                                         "AU1", "AU2", "AU4", "AU7", "AU43"]) / 18
    result = evaluate(train, {"unseen": test, "binary": binary}, tmp_path,
                      EvaluationConfig(backbones=(), folds=3, mlp={"epochs": 20}), engagement=engagement)
    results = result.results
    k = result.k
    methods = ["PSPI", "12 AU", f"{k} AU", f"{k} AU with weight (AuE-IPA)"]
    cv = results[results["experiment"] == "cross-validation"]
    assert sorted(cv["method"].unique()) == sorted(methods) and (cv.groupby("method").size() == 3).all()
    assert results[["WA", "UA", "P", "R", "F1"]].apply(lambda c: c.between(0, 1)).all().all()
    assert set(results["dataset"]) == {"train", "unseen", "binary"}
    assert results.loc[results["dataset"] == "binary", "level_map"].iloc[0] == "0->0, 1->1, 2->1, 3->1"
    assert len(result.sweep) == 12 and 1 <= k <= 12
    text = results_markdown(results, k)
    assert "| PSPI | 3 |" in text and "Tables V-VI-style" in text and result.markdown() == text
    assert result.aueipa is result.models[f"{k} AU with weight (AuE-IPA)"] and len(result.core_aus) == k
    paths = result.write(tmp_path)
    assert {p.name for p in paths.values()} == {"results.csv", "results.md", "core_aus.csv", "core_aus.png"}
    assert all(p.is_file() for p in paths.values())


def test_evaluation_needs_an_engagement_source(tiny_phantom, tmp_path):
    from auengine.evaluation.experiment import EvaluationConfig, evaluate

    with pytest.raises(InputError, match="engagement"):
        evaluate(tiny_phantom[0], {}, tmp_path, EvaluationConfig(backbones=(), folds=3))


def test_demo_smoke(tmp_path):
    from auengine.demo import run_demo

    report = run_demo(tmp_path / "demo", size="smoke", progress=False)
    page = report.read_text()
    assert "synthetic" in page and "Table IV" in page and page.count("<img") >= 4
    bundle = load_bundle(tmp_path / "demo" / "bundle")
    assert bundle.manifest["training_data"]["synthetic"] is True
    results = pd.read_csv(tmp_path / "demo" / "results.csv")
    assert {"resnet18", "PSPI"} <= set(results["method"]) and results["dataset"].nunique() == 3


def test_cli_predict_on_a_manifest(bundle_dir, tiny_phantom, tmp_path):
    from auengine.cli import main

    bundle_folder = bundle_dir[0]
    train = tiny_phantom[0]
    manifest = tmp_path / "lm.csv"
    train.drop(columns=["abspath"]).assign(path=train["abspath"]).to_csv(manifest, index=False)
    code = main(["predict", str(bundle_folder), str(manifest), "--out", str(tmp_path / "scored.csv")])
    scored = pd.read_csv(tmp_path / "scored.csv")
    assert code == 0 and len(scored) == len(train) and scored["intensity"].between(0, 10).all()
    import json

    notes = json.loads((tmp_path / "scored.csv.json").read_text())
    assert notes["bundle_synthetic"] == load_bundle(bundle_folder).synthetic
    assert (notes["note"] == "bundle trained on synthetic faces; not a clinical score") == notes["bundle_synthetic"]


def test_cli_train_regressor_and_evaluate_without_cnn(tiny_phantom, tmp_path):
    from auengine.cli import main

    train, test = tiny_phantom
    manifests = []
    for name, table in (("a", train), ("b", test)):
        path = tmp_path / name / "manifest.csv"
        path.parent.mkdir()
        table.drop(columns=["abspath"]).assign(path=table["abspath"]).to_csv(path, index=False)
        manifests.append(str(path))
    engagement = tmp_path / "engagement.csv"
    pd.DataFrame({"AU": ["AU27", "AU25", "AU10", "AU20", "AU9", "AU6", "AU12", "AU1", "AU2", "AU4", "AU7", "AU43"],
                  "engagement": np.linspace(0.14, 0.03, 12)}).to_csv(engagement, index=False)
    assert main(["train-regressor", manifests[0], "--engagement", str(engagement), "--folds", "3",
                 "--out", str(tmp_path / "reg")]) == 0
    bundle = load_bundle(tmp_path / "reg" / "bundle")
    assert bundle.manifest["training_data"]["synthetic"] is True and 1 <= bundle.manifest["k"] <= 12
    assert main(["evaluate", "--train", manifests[0], "--test", manifests[1], "--backbones", "none",
                 "--engagement", str(engagement), "--folds", "3", "--out", str(tmp_path / "eval")]) == 0
    results = pd.read_csv(tmp_path / "eval" / "results.csv")
    assert set(results["dataset"]) == {"train", "b"} and (tmp_path / "eval" / "core_aus.png").is_file()
    assert main(["train-regressor", manifests[0], "--folds", "3", "--out", str(tmp_path / "x")]) == 2
