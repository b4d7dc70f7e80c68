"""Input/output: images and folders (media), video (video), tables, AU tables, manifests, annotations."""
