"""Names of the engagement methods (engagement_methods.py computes them); free of torch and pandas, for the CLI."""

METHODS = ("gradcam", "fused", "occlusion", "integrated", "surrogate")
#: methods that compare each image with its subject's resting face (``rest_images``)
REST_METHODS = ("occlusion", "integrated")
#: methods that draw no map (no CAM overlays)
MAPLESS_METHODS = ("occlusion", "integrated", "surrogate")
