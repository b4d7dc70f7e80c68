"""Explanations: Grad-CAM (reference via pytorch-grad-cam, analytic fast path)."""
from .gradcam import gradcam

__all__ = ["gradcam"]
