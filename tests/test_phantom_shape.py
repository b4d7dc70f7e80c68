"""The phantom's face shapes follow real infants: shape model, resting faces, bands, AU model, lids."""
from __future__ import annotations

import json

import numpy as np
import pytest

from auengine.au.infant_check import infant_probability
from auengine.au.landmark_aus import measurements
from auengine.au.reference import REFERENCE_FILE, au_model, measurement_of
from auengine.errors import InputError
from auengine.io.landmark_sets import load_landmark_set
from auengine.phantom import apply_aus, neutral_faces, neutral_landmarks, sample_identity
from auengine.phantom.face import FACE_UNITS_PER_S, LID_PAIRS
from auengine.phantom.shape_model import MODEL_FILE, TRUNCATION, components, draw_coefficients, shape

PHANTOM_FACES = 500


@pytest.fixture(scope="module")
def real_infants():
    """Measurements of all real InfAnFace faces; skipped when ../shared/data/landmarks is absent."""
    try:
        return measurements(load_landmark_set("infant").landmarks)
    except InputError as exc:
        pytest.skip(f"real landmark sets absent: {exc}")


@pytest.fixture(scope="module")
def phantom_faces():
    return neutral_faces(PHANTOM_FACES, population=0, seed=0)


@pytest.fixture(scope="module")
def mean_face():
    """The shape model's mean face in phantom face units (68, 2)."""
    return shape(np.zeros(components())) * FACE_UNITS_PER_S


def test_resting_faces_fall_in_real_infant_bands(real_infants, phantom_faces):
    """Issue #14 item 3: per measurement, the phantom's median within 0.5 IQR of real infants'
    median, and its IQR at least 0.3 of theirs (not degenerate)."""
    phantom = measurements(phantom_faces)
    real_iqr = real_infants.quantile(0.75) - real_infants.quantile(0.25)
    phantom_iqr = phantom.quantile(0.75) - phantom.quantile(0.25)
    offset = (phantom.median() - real_infants.median()).abs() / real_iqr
    assert list(phantom.columns) == list(real_infants.columns) and len(phantom.columns) == 13
    assert (offset <= 0.5).all(), offset[offset > 0.5].to_dict()
    ratio = phantom_iqr / real_iqr
    assert (ratio >= 0.3).all(), ratio[ratio < 0.3].to_dict()


def test_the_old_phantom_eye_would_fail_the_bands(real_infants):
    """The band check can fail: the former phantom's eye aperture (0.364 s) is far outside it."""
    iqr = real_infants["eye_aperture"].quantile(0.75) - real_infants["eye_aperture"].quantile(0.25)
    assert abs(0.364 - real_infants["eye_aperture"].median()) / iqr > 0.5


def test_neutral_faces_shape_pixels_and_determinism(phantom_faces):
    faces = neutral_faces(6, seed=3, size=160)
    assert faces.shape == (6, 68, 2) and faces.dtype == np.float64
    np.testing.assert_array_equal(faces, neutral_faces(6, seed=3, size=160))
    assert not np.allclose(faces, neutral_faces(6, seed=4, size=160))
    np.testing.assert_allclose(neutral_faces(6, seed=3, size=320), faces * 2)      # placed by image size
    assert neutral_faces(0).shape == (0, 68, 2)
    size = 224
    inside = ((phantom_faces >= 0) & (phantom_faces <= size)).all(axis=(1, 2))
    assert inside.mean() >= 0.9                                     # whole face in the image for most
    assert (phantom_faces > -0.1 * size).all() and (phantom_faces < 1.1 * size).all()
    centre = phantom_faces[:, [39, 42]].mean(axis=1)                # eyes upright and centred, as rendered
    np.testing.assert_allclose(np.median(centre, axis=0), [size / 2, 0.47 * size], atol=3)
    s = np.linalg.norm(phantom_faces[:, 39] - phantom_faces[:, 42], axis=1)
    assert np.median(s) == pytest.approx(size / 2.7 * FACE_UNITS_PER_S, rel=0.05)


def test_identities_draw_their_face_from_the_shape_model():
    rng = np.random.default_rng(5)
    identity = sample_identity(rng, 0)
    assert len(identity.shape) == components()
    np.testing.assert_allclose(neutral_landmarks(identity), shape(identity.shape) * FACE_UNITS_PER_S)
    draws = np.array([draw_coefficients(rng, 0) for _ in range(400)])
    assert np.abs(draws).max() <= TRUNCATION
    assert 0.8 < draws.std() < 1.1 and abs(draws.mean()) < 0.1
    shifted = np.array([draw_coefficients(rng, 1) for _ in range(400)])
    assert draws[:, 1].mean() - shifted[:, 1].mean() > 0.3         # population 1 differs


def test_populations_have_different_face_shapes():
    zero, one = (measurements(neutral_faces(300, population=p, seed=1)).median() for p in (0, 1))
    assert zero["jaw_drop"] - one["jaw_drop"] > 0.1                 # population 1: shorter lower face


def test_au_moves_reproduce_the_au_model_spans(mean_face):
    """The phantom follows the reference data: on the mean shape, each AU at 5 moves its measurement
    by the span of resources/reference_faces.json (units of s) within 10 %, cross-effects too."""
    model = au_model()
    base = measurements(mean_face).iloc[0]
    for au, name in measurement_of().items():
        if au == "AU26":                                             # not drawn by the phantom
            continue
        change = abs(measurements(apply_aus(mean_face, {au: 5.0})).iloc[0][name] - base[name])
        assert change == pytest.approx(model.spans[au], rel=0.1), au
    for (au, name), effect in model.cross.items():
        change = measurements(apply_aus(mean_face, {au: 5.0})).iloc[0][name] - base[name]
        assert change == pytest.approx(effect, rel=0.1, abs=0.005), (au, name)
    closed = measurements(apply_aus(mean_face, {"AU43": 5.0})).iloc[0]["eye_aperture"]
    assert 1 - closed / base["eye_aperture"] == pytest.approx(model.au43_closed, rel=0.05)


def test_lids_never_cross_at_full_eye_aus(phantom_faces):
    """AU6 + AU7 + AU43 at 5 on every resting face: each lower-lid point stays below its upper one."""
    squeeze = {"AU6": 5.0, "AU7": 5.0, "AU43": 5.0}
    rng = np.random.default_rng(0)
    narrowest = np.inf
    for _ in range(PHANTOM_FACES):
        face = neutral_landmarks(sample_identity(rng, 0))
        for aus in (squeeze, {"AU6": 5.0, "AU7": 5.0}):
            moved = apply_aus(face, aus)
            narrowest = min(narrowest, min(moved[low, 1] - moved[up, 1] for up, low in LID_PAIRS))
    assert narrowest > 0


def test_most_resting_faces_look_like_infants(phantom_faces):
    share = float((infant_probability(phantom_faces) >= 0.5).mean())
    assert share >= 0.8, share


def test_shape_model_file_carries_provenance_and_terms():
    data = json.loads(MODEL_FILE.read_text())
    assert "non-commercial research, teaching and benchmarking only" in data["terms"]
    assert "InfAnFace" in data["source"] and data["made_by"] == "scripts/make_infant_shape_model.py"
    reference_rule = json.loads(REFERENCE_FILE.read_text())["rest_rule"]
    assert data["subset"]["rest_rule"] == reference_rule                      # the documented rest rule
    assert 0 < data["subset"]["faces_at_rest"] <= data["subset"]["faces"] == 210
    assert "Procrustes" in data["derivation"] and "PCA" in data["derivation"]
    assert data["variance_kept"] >= 0.95 and len(data["sd"]) == len(data["components"])
    assert np.asarray(data["mean"]).shape == (68, 2)
