"""The phantom: determinism, each AU in its own zone, landmarks follow AUs, score follows the rule."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from auengine import load_rules
from auengine.cli import main
from auengine.errors import InputError
from auengine.io.manifest import read_manifest
from auengine.phantom import (PHANTOM_AUS, PainRule, apply_aus, generate, load_rule, neutral_landmarks,
                              render_example, sample_identity)
from auengine.phantom.sampling import GT_AU_COLUMNS, sample_intensities


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("phantom")
    rule = PainRule(noise=0.0, name="noiseless")
    return generate(out, n_subjects=3, frames_per_subject=8, pain_rule=rule, seed=5, workers=1, progress=False)


def test_generate_writes_a_valid_manifest(small_set):
    table = read_manifest(small_set)
    assert len(table) == 24 and table["subject"].nunique() == 3
    assert (table["scale"] == "flacc").all() and set(table["level"]) <= {0, 1, 2, 3}
    assert table["sequence"].notna().sum() == 12             # half the frames in procedure sequences
    assert len(list((small_set.parent / "videos").glob("*.mp4"))) == 3
    meta = json.loads((small_set.parent / "phantom.json").read_text())
    assert meta["synthetic"] is True and meta["rule"]["weights"]["AU27"] == 2.5
    image = __import__("cv2").imread(table["abspath"].iloc[0])
    assert image.shape == (224, 224, 3)


def test_determinism_across_runs_and_workers(tmp_path, small_set):
    again = generate(tmp_path, n_subjects=3, frames_per_subject=8, pain_rule=PainRule(noise=0.0, name="noiseless"),
                     seed=5, workers=2, progress=False)
    first, second = pd.read_csv(small_set), pd.read_csv(again)
    pd.testing.assert_frame_equal(first, second)
    for rel in first["path"][:4]:
        assert (small_set.parent / rel).read_bytes() == (again.parent / rel).read_bytes()
    other = pd.read_csv(generate(tmp_path / "b", n_subjects=3, frames_per_subject=8, seed=6, workers=1,
                                 videos=False, progress=False))
    assert not np.allclose(first[GT_AU_COLUMNS].to_numpy(), other[GT_AU_COLUMNS].to_numpy())


def test_score_follows_the_rule(small_set):
    table = pd.read_csv(small_set)
    weights = np.array([PainRule().weights.get(au, 0.0) for au in PHANTOM_AUS])
    expected = np.clip(table[GT_AU_COLUMNS].to_numpy() / 5 @ weights, 0, 10)
    np.testing.assert_allclose(table["score"], expected, atol=2e-3)
    np.testing.assert_array_equal(table["level"], np.searchsorted([2.5, 5, 7.5], table["score"], side="right"))


def test_rule_interactions_noise_and_files(tmp_path):
    rule = PainRule(weights={"AU27": 5.0}, interactions={"AU25*AU27": 2.0}, noise=0.0, name="x")
    intensities = np.zeros((1, 12))
    intensities[0, PHANTOM_AUS.index("AU27")] = 5
    intensities[0, PHANTOM_AUS.index("AU25")] = 2.5
    assert rule.score(intensities)[0] == pytest.approx(5.0 + 2.0 * 0.5)
    noisy = PainRule(noise=1.0).score(np.full((500, 12), 2.5), np.random.default_rng(0))
    assert 0.8 < noisy.std() < 1.2
    path = tmp_path / "rule.yaml"
    path.write_text("weights: {AU4: 3, AU43: 2}\nnoise: 0.1\nscale: nips\n")
    loaded = load_rule(path)
    assert loaded.weights == {"AU4": 3, "AU43": 2} and loaded.scale == "nips" and loaded.name == "rule"
    path.write_text("weights: {AU99: 1}\n")
    with pytest.raises(InputError, match="AU99"):
        load_rule(path)
    path.write_text("weights: {AU4: 1}\nnoize: 1\n")
    with pytest.raises(InputError, match="noize"):
        load_rule(path)
    assert load_rule("upper-face").weights["AU4"] == 3.0


def test_distractors_vary_independently_of_pain():
    rng = np.random.default_rng(0)
    rule = PainRule()
    drive = rng.uniform(0, 1, 4000)
    intensities = sample_intensities(rng, drive, rule, np.ones(12), smooth=False)
    score = rule.score(intensities, rng)
    for k, au in enumerate(PHANTOM_AUS):
        r = np.corrcoef(intensities[:, k], score)[0, 1]
        if rule.weights.get(au, 0) == 0:
            assert abs(r) < 0.1, au                    # distractor
            assert intensities[:, k].std() > 1.0, au   # ... that still varies
        else:
            assert r > 0.5, au
    crying = PainRule(cry_correlation=0.8)
    cried = sample_intensities(rng, drive, crying, np.ones(12), smooth=False)
    assert np.corrcoef(cried[:, PHANTOM_AUS.index("AU43")], drive)[0, 1] > 0.6


ZONE_IDENTITIES = [(seed, angle) for seed, angle in zip(range(6), (0, 15, -12, 5, 20, -20))]


def test_each_au_changes_pixels_in_its_own_zone():
    """Energy of (AU at 5) - (neutral) inside the AU's Table I regions vs outside and vs other AUs' regions."""
    rules = load_rules("infant")
    wins, cases = 0, 0
    for seed, angle in ZONE_IDENTITIES:
        identity = sample_identity(np.random.default_rng(seed), seed % 2)
        neutral, _ = render_example(identity, {}, 224, angle)
        for au in PHANTOM_AUS:
            image, landmarks = render_example(identity, {au: 5.0}, 224, angle)
            energy = ((image.astype(float) - neutral) ** 2).sum(-1)
            masks = rules.masks(landmarks, energy.shape)
            own = masks[au]
            inside, outside = energy[own].mean(), energy[~own].mean()
            assert inside > 10 * outside, (au, seed, inside, outside)
            others = [energy[m].mean() for a, m in masks.items() if a != au and not (m & own).any()]
            wins += inside > max(others)
            cases += 1
    assert wins >= 0.95 * cases, f"own zone strongest in {wins}/{cases} cases"


def test_landmarks_move_with_the_aus():
    neutral = neutral_landmarks(sample_identity(np.random.default_rng(1)))
    moved = {au: apply_aus(neutral, {au: 5.0}) - neutral for au in PHANTOM_AUS}
    assert moved["AU27"][57, 1] > 0.2 and moved["AU27"][8, 1] > 0.1          # jaw drops, lower lip follows
    assert moved["AU25"][66, 1] > 0 and moved["AU25"][62, 1] < 0              # lips part
    assert moved["AU1"][21, 1] < 0 and moved["AU2"][17, 1] < 0                # brows raised
    assert moved["AU4"][21, 1] > 0 and moved["AU4"][21, 0] > 0 > moved["AU4"][22, 0]  # lowered, drawn together
    assert moved["AU12"][48, 1] < 0 and moved["AU12"][48, 0] < 0 < moved["AU12"][54, 0]
    assert moved["AU20"][54, 0] > 0 and abs(moved["AU20"][54, 1]) < 0.02      # stretched sideways
    assert moved["AU9"][31, 1] < 0 and moved["AU10"][51, 1] < 0
    closed = apply_aus(neutral, {"AU43": 5.0})
    assert np.abs(closed[37] - closed[41]).max() < 0.01                     # eyes shut
    for au in ("AU1", "AU2", "AU4"):
        assert np.allclose(moved[au][48:68], 0), au                          # brow AUs leave the mouth alone
    assert np.allclose(apply_aus(neutral, {}), neutral)


def test_rendered_landmarks_sit_on_the_drawn_features():
    identity = sample_identity(np.random.default_rng(2))
    image, landmarks = render_example(identity, {"AU27": 5.0}, 224, angle_deg=17)
    inner = landmarks[60:68]
    cavity = image[int(inner[:, 1].mean()), int(inner[:, 0].mean())]
    assert cavity.mean() < 90                                                 # dark open mouth at its landmarks
    pupil = landmarks[36:42].mean(0).round().astype(int)
    assert image[pupil[1], pupil[0]].mean() < 120                             # iris/pupil at the eye center


def test_populations_differ():
    tones = [np.mean([sample_identity(np.random.default_rng(i), pop).skin_tone for i in range(200)])
             for pop in (0, 1)]
    assert tones[1] - tones[0] > 0.15


def test_cli_phantom(tmp_path):
    assert main(["phantom", "--out", str(tmp_path), "--subjects", "2", "--frames", "3", "--no-videos",
                 "--workers", "1", "--rule", "upper-face", "--population", "1"]) == 0
    table = read_manifest(tmp_path / "manifest.csv")
    assert len(table) == 6 and table["subject"].str.startswith("p1").all()
    assert not (tmp_path / "videos").exists()
    assert main(["phantom", "--out", str(tmp_path / "x"), "--rule", "nope"]) == 2
