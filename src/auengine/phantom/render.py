"""Draw a phantom infant face: identity + AU intensities + pose + nuisance -> RGB image.

All shapes are built in face units (see :mod:`.face`) and mapped to pixels by one
similarity transform (the pose), so rotation, scale and translation apply to
every feature alike. Each AU's texture marks (wrinkles, furrows, creases) are
drawn around its Table I center; its landmark moves come from :mod:`.face`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ..face_geometry import face_scale
from .face import MAX_INTENSITY, apply_aus, neutral_landmarks
from .identity import Identity

SHIFT = 4                      # cv2 fixed-point bits: coordinates in 1/16 px
ONE = 1 << SHIFT
SCLERA = (236, 236, 230)
CAVITY = (70, 22, 30)
TONGUE = (205, 95, 105)
OCCLUDERS = ("none", "pacifier", "hand", "blanket")
#: iris radius and lid-crease height as shares of the eye's width (corner to corner)
IRIS_RATIO = 0.19
CREASE_RATIO = 0.18


@dataclass(frozen=True)
class Pose:
    """Similarity transform face units -> pixels: rotation (degrees), px per unit, center (px)."""

    angle_deg: float
    scale: float
    center: tuple[float, float]

    def matrix(self) -> np.ndarray:
        """(2, 3) affine of the pose."""
        a = np.radians(self.angle_deg)
        rot = self.scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        return np.hstack([rot, np.asarray(self.center, float)[:, None]])


@dataclass(frozen=True)
class Nuisance:
    """Image-level variation that does not change the face."""

    light_gain: float = 0.0       # brightness ramp amplitude (fraction)
    light_angle: float = 0.0      # ramp direction (radians)
    blur_sigma: float = 0.0       # Gaussian blur (px)
    noise_sigma: float = 0.0      # Gaussian noise (grey levels)
    jpeg_quality: int = 0         # 0: no JPEG round trip
    occluder: str = "none"        # one of OCCLUDERS
    background_seed: int = 0
    clutter: bool = True          # cluttered background scene (False: plain)


def frontal_pose(size: int = 224, angle_deg: float = 0.0) -> Pose:
    """The clean pose of figures and resting faces: upright, centred, size / 2.7 px per face unit."""
    return Pose(angle_deg, size / 2.7, (size / 2, size * 0.47))


def sample_pose(rng: np.random.Generator, size: int, max_rotation: float = 20.0) -> Pose:
    """Random rotation (up to +/- max_rotation degrees), scale and translation."""
    scale = size / 2.7 * rng.uniform(0.88, 1.08)
    shift = rng.uniform(-0.05, 0.05, 2) * size
    return Pose(float(rng.uniform(-max_rotation, max_rotation)), float(scale),
                (size / 2 + shift[0], size * 0.47 + shift[1]))


def sample_nuisance(rng: np.random.Generator, occluder_p: float = 0.1, hand_p: float = 0.04,
                    blanket_p: float = 0.06) -> Nuisance:
    """Random lighting, blur, noise, JPEG quality, background and occluder."""
    draw = rng.uniform()
    occluder = ("pacifier" if draw < occluder_p else "hand" if draw < occluder_p + hand_p
                else "blanket" if draw < occluder_p + hand_p + blanket_p else "none")
    return Nuisance(light_gain=float(rng.uniform(0, 0.35)), light_angle=float(rng.uniform(0, 2 * np.pi)),
                    blur_sigma=float(rng.uniform(0, 1.2)), noise_sigma=float(rng.uniform(0, 7)),
                    jpeg_quality=int(rng.integers(35, 96)) if rng.uniform() < 0.7 else 0,
                    occluder=occluder, background_seed=int(rng.integers(2**31)))


class _Canvas:
    """Drawing in face units on an RGB uint8 image."""

    def __init__(self, image: np.ndarray, pose: Pose) -> None:
        self.image = image
        self.affine = pose.matrix()
        self._linear = self.affine[:, :2].T.copy()
        self._offset = self.affine[:, 2].copy()
        self._fixed_linear = self._linear * ONE
        self._fixed_offset = self._offset * ONE + 0.5
        self.px = pose.scale  # pixels per face unit
        self._ops: list[tuple] = []

    def to_px(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points, float) @ self._linear + self._offset

    def fill(self, points, colour) -> None:
        """Queue a filled polygon (points in face units); drawn by :meth:`flush`."""
        self._ops.append((True, [points], _c(colour), 0, False))

    def line(self, points, colour, width_units: float, closed: bool = False) -> None:
        self.lines([points], colour, width_units, closed)

    def lines(self, polylines, colour, width_units: float, closed: bool = False) -> None:
        """Queue polylines of one colour and width (face units); drawn by :meth:`flush`."""
        self._ops.append((False, list(polylines), _c(colour), max(1, int(round(width_units * self.px))), closed))

    def flush(self) -> np.ndarray:
        """Draw the queued shapes in order: one coordinate transform for all of them."""
        if self._ops:
            shapes = [np.asarray(p, float) for _, group, _, _, _ in self._ops for p in group]
            ends = np.cumsum([len(p) for p in shapes])[:-1]
            fixed = np.concatenate(shapes) @ self._fixed_linear
            fixed += self._fixed_offset
            pieces = iter(np.split(fixed.astype(np.int32), ends))
            for is_fill, group, colour, thickness, closed in self._ops:
                polygons = [next(pieces) for _ in group]
                if is_fill:
                    cv2.fillPoly(self.image, polygons, colour, cv2.LINE_AA, SHIFT)
                else:
                    cv2.polylines(self.image, polygons, closed, colour, thickness, cv2.LINE_AA, SHIFT)
            self._ops = []
        return self.image

    def ellipse(self, center, radii, colour, angle0: float = 0.0, n: int = 28) -> None:
        self.fill(ellipse_points(center, radii, angle0, n), colour)


def _c(colour) -> tuple[float, float, float]:
    values = colour.tolist() if isinstance(colour, np.ndarray) else colour
    return tuple(min(255.0, max(0.0, v)) for v in values)


@lru_cache(maxsize=256)
def _unit_arc(n: int, start: float, stop: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(start, stop, n)
    return np.cos(t), np.sin(t)


def ellipse_points(center, radii, angle0: float = 0.0, n: int = 28, start: float = 0.0,
                   stop: float = 2 * np.pi) -> np.ndarray:
    """Points (n, 2) on an ellipse arc in face units."""
    cos_t, sin_t = _unit_arc(n, float(start), float(stop))
    x, y = radii[0] * cos_t, radii[1] * sin_t
    if angle0:
        c, s = np.cos(angle0), np.sin(angle0)
        x, y = c * x - s * y, s * x + c * y
    out = np.empty((n, 2))
    out[:, 0] = x + center[0]
    out[:, 1] = y + center[1]
    return out


def _shade(colour, factor: float) -> tuple[float, ...]:
    """The colour scaled by ``factor`` (plain floats: this runs ~100 times per image)."""
    return tuple(float(v) * factor for v in colour)


def _mix(a, b, t: float) -> tuple[float, ...]:
    """Linear blend of two colours: a at t = 0, b at t = 1."""
    return tuple(float(x) * (1 - t) + float(y) * t for x, y in zip(a, b))


def render(identity: Identity, intensities: dict[str, float], pose: Pose, nuisance: Nuisance,
           size: int = 224, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw one phantom image.

    Returns
    -------
    image : ndarray, shape (size, size, 3), uint8 RGB
    landmarks : ndarray, shape (68, 2), ground-truth pixel (x, y), iBUG order
    """
    rng = rng or np.random.default_rng(0)
    pts = apply_aus(neutral_landmarks(identity), intensities)
    canvas = _Canvas(_background(size, nuisance), pose)
    _queue_face(canvas, identity, intensities, pts)
    _occluder(canvas, nuisance, pts, tuple(map(float, identity.skin)), size)
    image = _camera(canvas.flush(), nuisance, rng)
    return image, canvas.to_px(pts)


def draw_face(image: np.ndarray, identity: Identity, intensities: dict[str, float], pose: Pose,
              points: np.ndarray) -> np.ndarray:
    """Draw a phantom face onto ``image`` (H, W, 3) uint8 RGB, in place, and return it.

    ``points`` (68, 2) are the face's landmarks in face units (e.g. another face's landmarks
    mapped through the inverse of ``pose``); AU textures follow ``intensities`` (0-5).
    """
    canvas = _Canvas(image, pose)
    _queue_face(canvas, identity, intensities, np.asarray(points, float))
    return canvas.flush()


def _queue_face(canvas: _Canvas, identity: Identity, intensities: dict[str, float], pts: np.ndarray) -> None:
    f = {au: float(np.clip(v, 0, MAX_INTENSITY)) / MAX_INTENSITY for au, v in intensities.items()}
    g = lambda au: f.get(au, 0.0)  # noqa: E731
    skin = tuple(map(float, identity.skin))
    s = float(face_scale(pts))
    _head(canvas, identity, pts, skin)
    _hair(canvas, identity)
    _eyes(canvas, identity, pts, skin, s, g)
    _brows_and_forehead(canvas, identity, pts, skin, s, g)
    _nose(canvas, pts, skin, g)
    _mouth(canvas, identity, pts, skin, s, g)


BACKGROUND_BANK = 64


def _background(size: int, nuisance: Nuisance) -> np.ndarray:
    """Out-of-focus clutter: one of BACKGROUND_BANK cached scenes, shifted by a seed-given offset."""
    if not nuisance.clutter:
        return np.full((size, size, 3), (166, 104, 64), np.uint8)   # plain, for clean figures
    scene = _background_bank(size)[nuisance.background_seed % BACKGROUND_BANK]
    dy, dx = divmod((nuisance.background_seed // BACKGROUND_BANK) % (size * size), size)
    return np.roll(scene, (dy, dx), axis=(0, 1))


@lru_cache(maxsize=4)
def _background_bank(size: int) -> np.ndarray:
    """BACKGROUND_BANK scenes (n, size, size, 3) of 3-9 random shapes each, drawn at half size and blurred."""
    rng = np.random.default_rng(2024)
    half = max(8, size // 2)
    scenes = np.empty((BACKGROUND_BANK, size, size, 3), np.uint8)
    for k in range(BACKGROUND_BANK):
        image = np.empty((half, half, 3), np.uint8)
        image[:] = rng.uniform(60, 220, 3).astype(np.uint8)
        for _ in range(3 + k % 7):
            colour = _c(rng.uniform(30, 240, 3))
            kind = rng.integers(3)
            a, b = rng.uniform(0, half, 2).astype(int), rng.uniform(0, half, 2).astype(int)
            if kind == 0:
                cv2.rectangle(image, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), colour, -1)
            elif kind == 1:
                cv2.circle(image, (int(a[0]), int(a[1])), int(rng.uniform(3, half / 4)), colour, -1, cv2.LINE_AA)
            else:
                cv2.line(image, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), colour, int(rng.integers(1, 5)),
                         cv2.LINE_AA)
        scenes[k] = cv2.resize(cv2.GaussianBlur(image, (0, 0), 1.0), (size, size), interpolation=cv2.INTER_LINEAR)
    return scenes


def _head(canvas: _Canvas, identity: Identity, pts: np.ndarray, skin: np.ndarray) -> None:
    jaw = pts[0:17]
    middle, jw, top = _head_frame(jaw)
    for side in (-1, 1):  # ears, partly behind the head
        canvas.ellipse((middle + side * (jw + 0.02), 0.1), (0.11, 0.18), _shade(skin, 0.9))
        canvas.ellipse((middle + side * (jw + 0.04), 0.1), (0.05, 0.1), _shade(skin, 0.78))
    cranium = ellipse_points((middle, top), (jw * 1.03, 1.32 * identity.cranium), n=40, start=0, stop=-np.pi)
    outline = np.vstack([jaw, cranium])
    canvas.fill(outline, skin)
    canvas.line(outline, _shade(skin, 0.86), 0.025, closed=True)
    for side in (-1, 1):  # round cheeks with a soft blush
        canvas.ellipse((middle + side * 0.47, 0.33), (0.19, 0.13), _mix(skin, (235, 120, 120), 0.12))
    canvas.ellipse((jaw[8, 0], jaw[8, 1] - 0.12), (0.16, 0.06), _shade(skin, 0.95))  # small chin


def _head_frame(jaw: np.ndarray) -> tuple[float, float, float]:
    """(middle x, half width, top y) of the skull above a jaw line (17, 2): its ends' midpoint and half span."""
    return (float(jaw[[0, 16], 0].mean()), float(jaw[16, 0] - jaw[0, 0]) / 2, float(jaw[[0, 16], 1].mean()))


def _hair(canvas: _Canvas, identity: Identity) -> None:
    if identity.hair_style == "none":
        return
    shape, width = _hair_shape(identity)
    if identity.hair_style == "cap":
        canvas.fill(shape[0], identity.hair)
    else:
        canvas.lines(shape, identity.hair, width)


@lru_cache(maxsize=512)
def _hair_shape(identity: Identity) -> tuple[list[np.ndarray], float]:
    """Hair polygons/polylines in face units (fixed per identity) and line width."""
    rng = np.random.default_rng(identity.seed)
    middle, jw, top = _head_frame(neutral_landmarks(identity)[0:17])
    half_width, half_height = 1.05 * jw, 1.32 * identity.cranium
    if identity.hair_style == "cap":
        crown = ellipse_points((middle, top), (half_width * 0.99, half_height + 0.02), 0, 30, -np.pi, 0)
        hairline_y = top - half_height * rng.uniform(0.45, 0.6)
        crown = crown[crown[:, 1] <= hairline_y]
        x = np.linspace(crown[-1, 0], crown[0, 0], 12)
        hairline = np.stack([x, hairline_y + 0.05 * np.sin(9 * x) + rng.uniform(-0.02, 0.02, 12)], 1)
        return [np.vstack([crown, hairline])], 0.0
    count = {"fuzz": 60, "strands": 14, "tuft": 7}[identity.hair_style]
    width = {"fuzz": 0.008, "strands": 0.014, "tuft": 0.025}[identity.hair_style]
    spread = {"fuzz": 1.1, "strands": 0.9, "tuft": 0.25}[identity.hair_style]
    t = np.linspace(0, 1, 6)[:, None]
    strands = []
    for _ in range(count):
        angle = -np.pi / 2 + rng.uniform(-spread, spread)
        root = np.array([middle + np.cos(angle) * 0.95 * half_width, top + np.sin(angle) * 0.98 * half_height])
        direction = np.array([np.cos(angle + rng.uniform(-0.6, 0.6)), np.sin(angle + rng.uniform(-0.6, 0.6))])
        strands.append(root + t * rng.uniform(0.08, 0.3) * direction
                       + t ** 2 * 0.1 * np.array([-direction[1], direction[0]]))
    return strands, width


def _brows_and_forehead(canvas, identity, pts, skin, s, g) -> None:
    brow_colour = _mix(skin, identity.brow, 0.45 + 0.3 * g("AU4"))
    width = 0.035 * identity.brow_thickness * (1 + 0.5 * g("AU4"))
    canvas.line(pts[17:22], brow_colour, width)
    canvas.line(pts[22:27], brow_colour, width)
    if g("AU1"):  # horizontal wrinkles through both AU1 centers (inner brows, 1/2 s up)
        y = 0.5 * (pts[21, 1] + pts[22, 1]) - 0.5 * s
        x = np.linspace(pts[21, 0] - 0.08, pts[22, 0] + 0.08, 9)
        for dy in (-0.035, 0.0, 0.035):
            canvas.line(np.stack([x, y + dy + 0.04 * (x / x.max()) ** 2], 1), _shade(skin, 1 - 0.42 * g("AU1")), 0.013)
    if g("AU2"):  # arcs above the outer brow ends (1/3 s up)
        for idx, side in ((17, -1), (26, 1)):
            c = pts[idx] - [0, s / 3]
            for dy in (-0.03, 0.0, 0.03):
                arc = ellipse_points(c + [side * 0.02, dy + 0.05], (0.09, 0.05), 0, 7, np.pi * 1.15, np.pi * 1.85)
                canvas.line(arc, _shade(skin, 1 - 0.42 * g("AU2")), 0.013)
    if g("AU4"):  # vertical furrows between the brows, shadow below the brow centers
        for x in (-0.035, 0.035):
            canvas.line([[x, pts[21, 1] - 0.03], [x * 1.3, pts[21, 1] + 0.09]], _shade(skin, 1 - 0.4 * g("AU4")), 0.014)
        for idx in (19, 24):
            c = pts[idx] + [0, s / 3]
            canvas.ellipse(c, (0.075, 0.03), _shade(skin, 1 - 0.22 * g("AU4")))
            canvas.line(ellipse_points(c + [0, 0.02], (0.08, 0.03), 0, 7, np.pi * 1.1, np.pi * 1.9),
                        _shade(skin, 1 - 0.45 * g("AU4")), 0.012)


def _eyes(canvas, identity, pts, skin, s, g) -> None:
    for outer, u1, u2, inner, l1, l2 in ((36, 37, 38, 39, 40, 41), (45, 44, 43, 42, 47, 46)):
        ring = pts[[outer, u1, u2, inner, l1, l2]]
        center = ring.mean(0)
        canvas.fill(ring, SCLERA)
        width = float(np.linalg.norm(pts[outer] - pts[inner]))
        radius = IRIS_RATIO * width
        canvas.ellipse(center + [0, 0.005], (radius, radius), identity.iris)
        canvas.ellipse(center + [0, 0.005], (radius * 0.45, radius * 0.45), (15, 12, 12))
        canvas.ellipse(center + [0.02, -0.02], (radius * 0.2, radius * 0.2), (250, 250, 250))
        upper, lower = pts[[outer, u1, u2, inner]], pts[[inner, l1, l2, outer]]
        canvas.fill(np.vstack([upper, upper[::-1] - [0, 0.14]]), skin)          # upper lid skin
        canvas.fill(np.vstack([lower, lower[::-1] + [0, 0.10]]), skin)          # lower lid skin
        tension = g("AU7")
        canvas.line(upper, (40, 28, 25), 0.018 + 0.008 * tension + 0.008 * g("AU43"))   # lash line
        canvas.line(lower, _shade(skin, 0.72 - 0.2 * tension), 0.009 + 0.008 * tension)
        canvas.line(upper - [0, CREASE_RATIO * width], _shade(skin, 0.86), 0.01)  # lid crease
        if tension:  # tightened lower lid bulge
            canvas.line(lower + [0, 0.035], _shade(skin, 1 - 0.3 * tension), 0.012)
        if g("AU6"):  # raised cheek: highlight and crease around eye bottom + 1 s
            bottom = pts[[l1, l2]].mean(0)
            c = bottom + [0, s]
            canvas.ellipse(c - [0, 0.04], (0.12, 0.065), _mix(skin, (250, 140, 130), 0.35 * g("AU6")))
            canvas.ellipse(c - [0, 0.055], (0.06, 0.03), _mix(skin, (255, 255, 255), 0.3 * g("AU6")))
            for dy in (0.0, 0.035):
                canvas.line(ellipse_points(c + [0, dy], (0.12, 0.045), 0, 9, 0.1 * np.pi, 0.9 * np.pi),
                            _shade(skin, 1 - 0.45 * g("AU6")), 0.016)


def _nose(canvas, pts, skin, g) -> None:
    f9 = g("AU9")
    canvas.line(pts[[27, 28, 29]] - [0.05, 0], _shade(skin, 0.93), 0.012)
    canvas.line(pts[[27, 28, 29]] + [0.05, 0], _shade(skin, 0.93), 0.012)
    canvas.ellipse(pts[30] + [0, 0.02], (0.07, 0.05), _mix(skin, (255, 255, 255), 0.12))
    for ala, inner, side in ((31, 32, -1), (35, 34, 1)):
        nostril = 0.5 * (pts[ala] + pts[inner]) + [0, 0.005]
        canvas.ellipse(nostril, (0.03 + 0.012 * f9, 0.017 + 0.01 * f9), (70, 40, 40), angle0=side * 0.4)
        arc = ellipse_points(pts[ala] + [-side * 0.01, -0.03], (0.045, 0.05), 0, 8, np.pi * 0.2, np.pi * 1.3) \
            if side < 0 else ellipse_points(pts[ala] + [0.01, -0.03], (0.045, 0.05), 0, 8, -np.pi * 0.3, np.pi * 0.8)
        canvas.line(arc, _shade(skin, 0.82 - 0.3 * f9), 0.012 + 0.008 * f9)
        if f9:  # wrinkles on the side of the nose just above the ala
            for k in range(3):
                start = pts[ala] + [side * (0.01 - 0.02 * k), -0.06 - 0.025 * k]
                canvas.line([start, start + [-side * 0.05, -0.03]], _shade(skin, 1 - 0.45 * f9), 0.012)
    if f9:  # nose-root wrinkles
        for dy in (0.03, 0.06):
            canvas.line([pts[27] + [-0.05, dy], pts[27] + [0.05, dy]], _shade(skin, 1 - 0.3 * f9), 0.01)


def _mouth(canvas, identity, pts, skin, s, g) -> None:
    lips = tuple(map(float, identity.lips))
    if g("AU10"):  # deepened philtrum and a raised, everted upper lip
        for side in (-1, 1):
            canvas.line([pts[33] + [side * 0.025, 0.01], pts[51] + [side * 0.03, -0.015]],
                        _shade(skin, 1 - 0.45 * g("AU10")), 0.016)
        canvas.ellipse(pts[51] + [0, -0.012], (0.05, 0.022), _shade(skin, 1 - 0.25 * g("AU10")))
    canvas.fill(pts[48:60], lips)
    inner = pts[60:68]
    gap = float(np.mean(inner[[5, 6, 7], 1]) - np.mean(inner[[1, 2, 3], 1]))
    if gap > 0.02:
        canvas.fill(inner, CAVITY)
        if gap > 0.12:  # tongue at the bottom of a wide open mouth
            bottom = inner[[5, 6, 7]].mean(0)
            canvas.ellipse(bottom - [0, 0.2 * gap], (0.45 * abs(inner[4, 0] - inner[0, 0]) / 2, 0.22 * gap), TONGUE)
        canvas.line(inner, _shade(lips, 0.7), 0.01, closed=True)
    else:
        canvas.line(inner[[0, 1, 2, 3, 4]], _shade(lips, 0.55), 0.012)
    canvas.line(pts[[49, 50, 51, 52, 53]] + [0, 0.012], _mix(lips, (255, 255, 255), 0.15), 0.008)
    for corner, side in ((48, -1), (54, 1)):
        if g("AU12"):  # creases outward-up of the pulled corners
            canvas.line([pts[corner] + [side * 0.015, 0.0], pts[corner] + [side * 0.06, -0.06]],
                        _shade(skin, 1 - 0.42 * g("AU12")), 0.014)
        if g("AU20"):  # stretched skin below the corners, around 1 s down
            target = pts[corner] + [0, s]
            canvas.ellipse(target, (0.055, 0.05), _shade(skin, 1 - 0.2 * g("AU20")))
            for k in (-1, 0, 1):
                canvas.line([pts[corner] + [side * 0.02, 0.05], target + [0.03 * k, 0.0],
                             target + [0.03 * k + side * 0.01, 0.04]], _shade(skin, 1 - 0.5 * g("AU20")), 0.014)


def _occluder(canvas, nuisance: Nuisance, pts, skin, size: int) -> None:
    if nuisance.occluder == "none":
        return
    rng = np.random.default_rng(nuisance.background_seed + 1)
    if nuisance.occluder == "pacifier":
        mouth = pts[48:60].mean(0)
        colour = rng.choice([[120, 190, 240], [245, 170, 200], [240, 240, 235], [170, 220, 160]])
        canvas.ellipse(mouth, (0.3, 0.17), colour)
        canvas.ellipse(mouth, (0.1, 0.1), _shade(colour, 0.75))
        ring = ellipse_points(mouth + [0, 0.02], (0.09, 0.11), 0, 20)
        canvas.line(ring, _shade(colour, 0.6), 0.03, closed=True)
    elif nuisance.occluder == "hand":
        side = rng.choice([-1, 1])
        palm = np.array([side * rng.uniform(0.3, 0.7), rng.uniform(0.5, 0.9)])
        tone = _shade(skin, rng.uniform(0.85, 1.1))
        canvas.ellipse(palm, (0.3, 0.22), tone, angle0=side * 0.5)
        for k in range(4):
            angle = -np.pi / 2 - side * (0.2 + 0.25 * k)
            tip = palm + 0.32 * np.array([np.cos(angle), np.sin(angle)])
            canvas.ellipse(0.5 * (palm + tip) + 0.1 * (tip - palm), (0.2, 0.055), tone, angle0=angle)
    else:  # blanket edge across the lower face
        height = rng.uniform(0.75, 1.05)
        x = np.linspace(-2.0, 2.0, 24)
        edge = np.stack([x, height + 0.05 * np.sin(3 * x + rng.uniform(0, 6))], 1)
        colour = rng.uniform(120, 250, 3)
        canvas.fill(np.vstack([edge, [[2.0, 3.0], [-2.0, 3.0]]]), colour)
        for k in range(1, 5):
            canvas.line(edge + [0, 0.12 * k], _shade(colour, 0.8), 0.03)


NOISE_BANK_SD = 32.0


@lru_cache(maxsize=4)
def _noise_bank(size: int) -> np.ndarray:
    """Grey-level noise, uint8 (2 size, 2 size, 3) = 128 + 32 N(0, 1); random windows of it are cheap."""
    noise = np.random.default_rng(12345).standard_normal((2 * size, 2 * size, 1), dtype=np.float32)
    return np.repeat(np.clip(128 + NOISE_BANK_SD * noise, 0, 255).astype(np.uint8), 3, axis=2)


def _camera(image: np.ndarray, nuisance: Nuisance, rng: np.random.Generator) -> np.ndarray:
    """Blur, lighting ramp, sensor noise and JPEG round trip (blur first: it commutes with a smooth gain)."""
    size = image.shape[0]
    if nuisance.blur_sigma > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), nuisance.blur_sigma)
    if nuisance.light_gain:
        ramp = _ramp(size)
        gain = 1 + nuisance.light_gain * (np.cos(nuisance.light_angle) * ramp[None, :]
                                          + np.sin(nuisance.light_angle) * ramp[:, None])
        image = cv2.multiply(image, cv2.merge([gain, gain, gain]), dtype=cv2.CV_8U)
    if nuisance.noise_sigma:
        dy, dx = rng.integers(0, size, 2)
        weight = nuisance.noise_sigma / NOISE_BANK_SD
        image = cv2.addWeighted(image, 1.0, _noise_bank(size)[dy:dy + size, dx:dx + size], weight, -128 * weight)
    if nuisance.jpeg_quality:
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, nuisance.jpeg_quality])
        image = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return image


@lru_cache(maxsize=4)
def _ramp(size: int) -> np.ndarray:
    return np.linspace(-1, 1, size, dtype=np.float32)
