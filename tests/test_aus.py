"""AU tables (readers, writers, Fex), the geometry estimator, backends, PSPI and its classifier."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score

from auengine.au.backends import AU_BACKENDS
from auengine.au.landmark_aus import OUTPUT_AUS, au_from_landmarks, measurements
from auengine.au.pspi import PSPIClassifier, pspi
from auengine.cli import main
from auengine.columns import au_column
from auengine.errors import BackendUnavailableError, InputError
from auengine.io.au_tables import read_au_table, to_fex, write_au_table
from auengine.phantom import PHANTOM_AUS, apply_aus, neutral_landmarks, sample_identity

AU_COLUMNS = [au_column(au) for au in OUTPUT_AUS]


@pytest.fixture(scope="module")
def face():
    """A neutral phantom face in pixels (68, 2)."""
    return neutral_landmarks(sample_identity(np.random.default_rng(1))) * 80 + [112, 100]


def move(face, **intensities):
    neutral = (face - [112, 100]) / 80
    return apply_aus(neutral, intensities) * 80 + [112, 100]


def rotate(points, degrees, about=(112, 112)):
    a = np.radians(degrees)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (points - about) @ rot.T + about


def test_geometry_table_shape_and_metadata(face):
    table = au_from_landmarks(face)
    assert list(table.columns) == AU_COLUMNS and len(table) == 1
    assert table.attrs["backend"] == "geometry" and "AU09_r" in table.attrs["reliability"]
    assert au_from_landmarks(np.stack([face, face])).shape == (2, 13)
    assert ((table.to_numpy() >= 0) & (table.to_numpy() <= 5)).all()


def test_rotation_scale_translation_invariance(face):
    lm = np.stack([move(face, AU27=3, AU4=2, AU12=4), move(face, AU43=5, AU9=2.5)])
    base = au_from_landmarks(lm, neutral=face)
    for degrees in (7, -20, 90):
        turned = rotate(lm, degrees) * 1.7 + [13, -4]
        out = au_from_landmarks(turned, neutral=rotate(face, degrees) * 1.7 + [13, -4])
        np.testing.assert_allclose(out.to_numpy(), base.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(measurements(rotate(lm, 33)).to_numpy(), measurements(lm).to_numpy(), atol=1e-9)


def test_each_au_reads_back_alone(face):
    for au in PHANTOM_AUS:
        out = au_from_landmarks(move(face, **{au: 4.0}), neutral=face).iloc[0]
        assert out[au_column(au)] == pytest.approx(4.0, abs=0.15), au
        others = out.drop([au_column(au)] + (["AU26_r"] if au == "AU27" else []))
        assert others.max() < 0.15, (au, others.idxmax(), others.max())


def test_opening_the_mouth_raises_mouth_aus_only(face):
    previous = None
    for level in (0.0, 1.0, 2.5, 4.0, 5.0):
        out = au_from_landmarks(move(face, AU27=level, AU25=level), neutral=face).iloc[0]
        if previous is not None:
            for column in ("AU25_r", "AU26_r", "AU27_r"):
                assert out[column] >= previous[column]
            for column in ("AU01_r", "AU02_r", "AU04_r", "AU43_r"):
                assert out[column] == previous[column] == 0
        previous = out
    assert previous["AU27_r"] > 4.5 and previous["AU25_r"] > 4.5


def test_auto_neutral_calibrates_per_subject(face):
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 5, (80, 12)) * (rng.uniform(size=(80, 12)) < 0.5)
    long_chin = face + np.where(np.arange(68)[:, None] < 17, [0, 8], [0, 0])   # a longer jaw than average
    frames = np.stack([move(long_chin, **dict(zip(PHANTOM_AUS, row))) for row in truth])
    naive = au_from_landmarks(frames, neutral="none")
    auto = au_from_landmarks(frames, neutral="auto")
    k = PHANTOM_AUS.index("AU27")
    error = lambda t: np.abs(t["AU27_r"].to_numpy() - truth[:, k]).mean()  # noqa: E731
    assert error(auto) < 0.5 < error(naive)


def test_readers_on_real_files(media_dir, tmp_path):
    openface = read_au_table(media_dir / "OpenFace_Test.csv")
    assert openface.attrs["format"] == "openface" and len(openface) == 100
    assert {"AU01_r", "AU45_r", "AU45_c", "x_0", "y_67", "success", "time_s"} <= set(openface.columns)
    assert openface["frame"].iloc[0] == 0 and not any(c.startswith(" ") for c in openface.columns)
    feat = read_au_table(media_dir / "Feat_Test.csv")
    assert feat.attrs["format"] == "pyfeat" and "AU43_r" in feat.columns
    assert 0 <= feat["AU01_r"].max() <= 5
    for suffix in ("csv", "parquet"):
        path = write_au_table(openface, tmp_path / f"t.{suffix}")
        again = read_au_table(path)
        pd.testing.assert_frame_equal(again[openface.columns], openface, check_dtype=False)
    fex = to_fex(openface)
    assert "AU01" in fex.au_columns and fex.shape[0] == 100


def test_reader_errors_name_the_file(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="x.csv: no AU columns"):
        read_au_table(tmp_path / "x.csv")
    with pytest.raises(InputError, match="not found"):
        read_au_table(tmp_path / "missing.csv")


def test_pspi_hand_computed():
    table = pd.DataFrame({"AU04_r": [1.0, 0.0, 2.0], "AU06_r": [2.0, 0.0, 1.0], "AU07_r": [3.0, 0.5, 0.0],
                          "AU09_r": [0.0, 4.0, 1.0], "AU10_r": [1.5, 1.0, 1.0], "AU43_r": [3.0, 2.4, 0.0]})
    np.testing.assert_allclose(pspi(table), [1 + 3 + 1.5 + 1, 0 + 0.5 + 4 + 0, 2 + 1 + 1 + 0])
    openface = table.drop(columns="AU43_r").assign(AU45_c=[0, 1, 0])
    np.testing.assert_allclose(pspi(openface), [5.5, 5.5, 4.0])
    with pytest.raises(InputError, match="AU43"):
        pspi(table.drop(columns="AU43_r"))


def test_pspi_classifier_is_monotone_and_sklearn_friendly():
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 16, 400)
    levels = np.digitize(values + rng.normal(0, 1, 400), [4, 8, 12])
    model = PSPIClassifier().fit(values[:, None], levels)
    predicted = model.predict(np.linspace(0, 16, 50)[:, None])
    assert (np.diff(predicted) >= 0).all() and set(predicted) == {0, 1, 2, 3}
    assert cross_val_score(clone(model), values[:, None], levels, cv=4).mean() > 0.6
    scored = PSPIClassifier(scale="flacc").fit(values[:, None], values / 1.6)
    assert set(scored.predict(values[:, None])) <= {0, 1, 2, 3}
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        PSPIClassifier().predict(values[:, None])


def test_backends_and_their_errors(tmp_path, monkeypatch, media_dir):
    with pytest.raises(InputError, match="geometry"):
        AU_BACKENDS.get("openface")
    with pytest.raises(InputError, match="--au-table"):
        AU_BACKENDS.create("table")
    with pytest.raises(InputError, match="landmark columns"):
        AU_BACKENDS.create("geometry").estimate(pd.DataFrame({"source": ["a"]}))
    frames = pd.DataFrame({"source": ["clip.mp4", "clip.mp4"], "frame": [0, 99]})
    with pytest.raises(InputError, match="--au-table-source clip"):      # another clip's table: no join by frame
        AU_BACKENDS.create("table", path=str(media_dir / "OpenFace_Test.csv")).estimate(frames)
    joined = AU_BACKENDS.create("table", path=str(media_dir / "OpenFace_Test.csv"), source="clip.mp4").estimate(frames)
    table = read_au_table(media_dir / "OpenFace_Test.csv")
    np.testing.assert_allclose(joined["AU04_r"], table["AU04_r"].iloc[[0, 99]])


@pytest.mark.slow
def test_pyfeat_backend_fails_fast_and_clearly_offline(monkeypatch, tmp_path):
    monkeypatch.delenv("AUENGINE_DOWNLOAD", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    import os

    before = os.environ.get("OMP_NUM_THREADS")
    try:
        AU_BACKENDS.create("pyfeat")
    except BackendUnavailableError as exc:
        assert "Hugging Face cache" in str(exc) and "AUENGINE_DOWNLOAD=1" in str(exc)
    else:  # weights happen to be cached on this machine: the backend must then be usable
        pass
    assert os.environ.get("OMP_NUM_THREADS") == before
    import torch

    assert torch.is_grad_enabled()          # py-feat's constructor must not switch gradients off for us


def test_cli_aus_on_phantom_manifest_and_images(tmp_path, media_dir):
    from auengine.phantom import generate

    manifest = generate(tmp_path / "ph", n_subjects=2, frames_per_subject=10, workers=1, videos=False,
                        progress=False)
    assert main(["aus", str(manifest), "--out", str(tmp_path / "aus.csv")]) == 0
    table = pd.read_csv(tmp_path / "aus.csv")
    assert len(table) == 20 and set(AU_COLUMNS) <= set(table.columns) and table[AU_COLUMNS].notna().all().all()
    notes = pd.read_json(tmp_path / "aus.csv.json", typ="series")
    assert notes["backend"] == "geometry" and notes["neutral"] == "auto"
    assert main(["aus", str(media_dir / "single_face.jpg"), str(tmp_path / "nothing.jpg"),
                 "--out", str(tmp_path / "img.parquet"), "--neutral", "none"]) == 0
    images = pd.read_parquet(tmp_path / "img.parquet")
    assert list(images["success"]) == [1, 0] and images.loc[1, AU_COLUMNS].isna().all()


def test_public_api_names(face):
    import auengine

    assert auengine.au_from_landmarks(face).shape == (1, 13)
    assert auengine.pspi is pspi and auengine.read_au_table is read_au_table


def test_cli_aus_on_a_video(tmp_path, face_video):
    assert main(["aus", str(face_video), "--out", str(tmp_path / "v.csv"), "--every", "6"]) == 0
    table = pd.read_csv(tmp_path / "v.csv")
    assert list(table["frame"]) == [0, 6] and table[AU_COLUMNS].notna().all().all()
