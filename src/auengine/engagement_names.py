"""Names of the engagement methods (engagement_methods.py computes them); free of torch and pandas, for the CLI."""

METHODS = ("gradcam", "fused", "occlusion", "integrated")
#: methods that compare each image with its subject's resting face (``rest_images``)
REST_METHODS = ("occlusion", "integrated")
