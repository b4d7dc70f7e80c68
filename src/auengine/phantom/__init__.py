"""The phantom: synthetic infant faces with known AU ground truth.

Resting face shapes are drawn from a shape model of real infants at rest (InfAnFace;
non-commercial research, teaching and benchmarking only): ``neutral_faces`` gives them in pixels.
``generate`` writes a data set (images, videos, manifest.csv); ``PainRule`` maps AU
intensities to a pain score. See docs/phantom.md. ``generate`` is imported lazily so
that worker processes (which import this package) stay light.
"""
from .face import PHANTOM_AUS, apply_aus, neutral_landmarks
from .identity import Identity, sample_identity
from .render import Nuisance, Pose, render
from .rule import DEFAULT_WEIGHTS, PRESETS, PainRule, load_rule
from .sampling import PhantomConfig, neutral_faces, render_example

__all__ = ["DEFAULT_WEIGHTS", "PHANTOM_AUS", "PRESETS", "Identity", "Nuisance", "PainRule", "PhantomConfig", "Pose",
           "apply_aus", "generate", "load_rule", "neutral_faces", "neutral_landmarks", "render", "render_example",
           "sample_identity"]


def __getattr__(name: str):
    if name == "generate":
        from .dataset import generate

        return generate
    raise AttributeError(f"module 'auengine.phantom' has no attribute {name!r}")
