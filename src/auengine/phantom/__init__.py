"""The phantom: synthetic infant faces with known AU ground truth.

``generate`` writes a data set (images, videos, manifest.csv); ``PainRule`` maps AU
intensities to a pain score. See docs/phantom.md.
"""
from .dataset import PhantomConfig, generate, render_example
from .face import PHANTOM_AUS, apply_aus, neutral_landmarks
from .identity import Identity, sample_identity
from .render import Nuisance, Pose, render
from .rule import DEFAULT_WEIGHTS, PRESETS, PainRule, load_rule

__all__ = ["DEFAULT_WEIGHTS", "PHANTOM_AUS", "PRESETS", "Identity", "Nuisance", "PainRule", "PhantomConfig", "Pose",
           "apply_aus", "generate", "load_rule", "neutral_landmarks", "render", "render_example",
           "sample_identity"]
