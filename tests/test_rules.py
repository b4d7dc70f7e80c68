"""AU rule loading, every validation error, centers and masks against DESIGN.md."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from auengine import load_rules
from auengine.errors import InputError, RuleSchemaError

TABLE_I = ["AU1", "AU2", "AU4", "AU6", "AU7", "AU9", "AU10", "AU12", "AU20", "AU25", "AU27", "AU43"]


def design_centers(lm: np.ndarray) -> dict[str, np.ndarray]:
    """DESIGN.md's table, written out independently of the rule file (reference)."""
    s = np.linalg.norm(lm[39] - lm[42])
    right, left = lm[36:42].mean(0), lm[42:48].mean(0)
    v = (left - right) / np.linalg.norm(left - right)
    up = np.array([v[1], -v[0]])
    if np.dot(up, (left + right) / 2 - lm[48:60].mean(0)) < 0:
        up = -up
    return {
        "AU1": np.array([lm[21] + 0.5 * s * up, lm[22] + 0.5 * s * up]),
        "AU2": np.array([lm[17] + s / 3 * up, lm[26] + s / 3 * up]),
        "AU4": np.array([lm[19] - s / 3 * up, lm[24] - s / 3 * up]),
        "AU6": np.array([lm[40:42].mean(0) - s * up, lm[46:48].mean(0) - s * up]),
        "AU7": np.array([right, left]),
        "AU9": np.array([lm[31], lm[35]]),
        "AU10": np.array([lm[51]]),
        "AU12": np.array([lm[48], lm[54]]),
        "AU20": np.array([lm[48] - s * up, lm[54] - s * up]),
        "AU25": np.array([(lm[62] + lm[66]) / 2]),
        "AU27": np.array([lm[48:60].mean(0)]),
        "AU43": np.array([right, left]),
    }


def rotate(points: np.ndarray, theta: float, about=(0.0, 0.0), scale=1.0, shift=(0.0, 0.0)) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    rot = np.array([[c, -s], [s, c]])
    about = np.asarray(about)
    return (points - about) @ rot.T * scale + about + np.asarray(shift)


def test_infant_rules_list_table_i(rules):
    assert rules.aus == TABLE_I
    assert rules.names["AU27"] == "Mouth Stretch"
    assert rules.meta["source"].startswith("Sun et al.")
    assert len(rules.sha256) == 64


def test_unknown_rule_set_names_choices():
    with pytest.raises(InputError, match="infant"):
        load_rules("no-such-rules")


def test_centers_hand_computed(rules):
    lm = np.zeros((68, 2))
    lm[36:42] = [[70, 100], [80, 96], [90, 96], [100, 100], [90, 104], [80, 104]]   # right eye, mean (85, 100)
    lm[42:48] = [[130, 100], [140, 96], [150, 96], [160, 100], [150, 104], [140, 104]]  # left eye, mean (145, 100)
    lm[39], lm[42] = [100, 100], [130, 100]   # inner corners: s = 30
    lm[48:60] = [115, 170]                    # mouth centroid (115, 170): up = (0, -1)
    lm[48], lm[54] = [95, 170], [135, 170]
    lm[48:60] += 0                            # keep the centroid: symmetric corners
    lm[21], lm[22] = [105, 80], [125, 80]
    lm[19] = [90, 75]
    lm[31], lm[35] = [108, 140], [122, 140]
    lm[62], lm[66] = [115, 168], [115, 176]
    centers = rules.centers(lm)
    np.testing.assert_allclose(centers["AU1"], [[105, 65], [125, 65]], atol=1e-9)      # 0.5 s up
    np.testing.assert_allclose(centers["AU4"][0], [90, 85], atol=1e-9)                 # s/3 down
    np.testing.assert_allclose(centers["AU6"], [[85, 134], [145, 134]], atol=1e-9)     # eye bottom + s down
    np.testing.assert_allclose(centers["AU7"], [[85, 100], [145, 100]], atol=1e-9)
    np.testing.assert_allclose(centers["AU9"], [[108, 140], [122, 140]], atol=1e-9)
    np.testing.assert_allclose(centers["AU20"], [[95, 200], [135, 200]], atol=1e-9)
    np.testing.assert_allclose(centers["AU25"], [[115, 172]], atol=1e-9)
    np.testing.assert_allclose(centers["AU27"], [lm[48:60].mean(0)], atol=1e-9)


@pytest.mark.parametrize("theta_deg", [0, 13, -27, 90, 180])
@pytest.mark.parametrize("scale", [0.5, 1.0, 3.7])
def test_centers_match_design_table_under_rotation_and_scale(rules, random_face, theta_deg, scale):
    lm = rotate(random_face, np.radians(theta_deg), about=(110, 120), scale=scale, shift=(31.5, -7.25))
    expected = design_centers(lm)
    centers = rules.centers(lm)
    assert set(centers) == set(expected)
    for au in expected:
        assert centers[au].shape == expected[au].shape
        np.testing.assert_allclose(centers[au], expected[au], atol=0.01, err_msg=au)


def test_rotating_landmarks_rotates_centers(rules, random_face):
    theta = np.radians(17.0)
    base = rules.centers(random_face)
    turned = rules.centers(rotate(random_face, theta, about=(100, 100)))
    for au in base:
        np.testing.assert_allclose(turned[au], rotate(base[au], theta, about=(100, 100)), atol=1e-6)


def test_centers_batch_equals_single(rules, random_face):
    batch = np.stack([random_face, rotate(random_face, 0.3, about=(90, 90))])
    out = rules.centers(batch)
    for au, value in out.items():
        assert value.shape[0] == 2
        np.testing.assert_allclose(value[1], rules.centers(batch[1])[au])


def test_centers_reject_bad_shapes(rules):
    with pytest.raises(InputError, match="68, 2"):
        rules.centers(np.zeros((5, 2)))


def test_masks_default_side_is_10_of_224(rules, random_face):
    masks = rules.masks(random_face, (224, 224))
    assert set(masks) == set(rules.aus)
    assert masks["AU10"].shape == (224, 224) and masks["AU10"].dtype == bool
    assert masks["AU10"].sum() == 100                  # one 10 x 10 region inside the image
    ys, xs = np.nonzero(masks["AU10"])
    center = rules.centers(random_face)["AU10"][0]
    assert abs(xs.mean() - center[0]) <= 0.5 and abs(ys.mean() - center[1]) <= 0.5
    assert masks["AU12"].sum() == 200                  # bilateral: two regions together


def test_masks_scale_with_width_and_clip(rules, random_face):
    big = rules.masks(random_face * 2, (448, 448))
    assert big["AU10"].sum() == 400                    # 20 x 20 on a 448 crop
    assert rules.masks(random_face, (224, 224), region_px=6)["AU10"].sum() == 36
    edge = random_face.copy()
    edge[51] = [0.0, 120.0]                            # AU10 center on the left border
    assert rules.masks(edge, (224, 224))["AU10"].sum() == 50


VALID = yaml.safe_load("""
_meta: {name: t, version: 1, source: test, scale_points: [39, 42], right_eye: [36, 37], left_eye: [42, 43],
        mouth: [48, 54], region_side: 10/224}
aus:
  AU1: {name: Inner Brow Raiser, centers: [{anchor: [21], offset: 1/2, direction: up}]}
""")


def _write(tmp_path, data, text=None):
    path = tmp_path / "rules.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(data))
    return path


def test_valid_minimal_file_loads(tmp_path):
    rules = load_rules(_write(tmp_path, VALID))
    assert rules.aus == ["AU1"] and rules.rules["AU1"][0].offset == 0.5


@pytest.mark.parametrize("change, field", [
    (lambda d: d["aus"]["AU1"]["centers"][0].update(anchor=[70]), "aus.AU1.centers[0].anchor"),
    (lambda d: d["aus"]["AU1"]["centers"][0].update(direction="sideways"), "aus.AU1.centers[0].direction"),
    (lambda d: d["aus"]["AU1"]["centers"][0].pop("anchor"), "aus.AU1.centers[0].anchor"),
    (lambda d: d["aus"]["AU1"]["centers"][0].pop("direction"), "aus.AU1.centers[0].direction"),
    (lambda d: d["aus"]["AU1"]["centers"][0].update(ofset=1), "aus.AU1.centers[0].ofset"),
    (lambda d: d["aus"]["AU1"]["centers"][0].update(offset="a third"), "aus.AU1.centers[0].offset"),
    (lambda d: d["aus"]["AU1"].pop("centers"), "aus.AU1.centers"),
    (lambda d: d["_meta"].pop("scale_points"), "_meta.scale_points"),
    (lambda d: d["_meta"].update(region_side=3), "_meta.region_side"),
    (lambda d: d.pop("_meta"), "_meta"),
    (lambda d: d["aus"].update({"AU_x": d["aus"]["AU1"]}), "aus.AU_x"),
    (lambda d: d.update(aus={}), "aus"),
])
def test_each_schema_error_names_the_field(tmp_path, change, field):
    import copy

    data = copy.deepcopy(VALID)
    change(data)
    with pytest.raises(RuleSchemaError) as info:
        load_rules(_write(tmp_path, data))
    message = str(info.value)
    assert field in message and str(tmp_path) in message and "\n" not in message


def test_duplicate_au_is_refused(tmp_path):
    text = yaml.safe_dump(VALID) + ""
    text = text.replace("aus:\n", "aus:\n  AU1:\n    centers:\n    - anchor: [22]\n", 1)
    with pytest.raises(RuleSchemaError, match="AU1: duplicate key"):
        load_rules(_write(tmp_path, None, text))


def test_broken_yaml_is_one_line(tmp_path):
    with pytest.raises(RuleSchemaError, match="not valid YAML") as info:
        load_rules(_write(tmp_path, None, "_meta: [unclosed"))
    assert "\n" not in str(info.value)
