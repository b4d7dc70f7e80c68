"""End-to-end pain CNNs: torchvision backbones, data, training."""
