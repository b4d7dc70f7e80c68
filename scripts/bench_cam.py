"""Benchmark: Grad-CAM images per second on this CPU (ResNet18, 224 x 224, batch 16).

Prints, measured in this run: forward pass only (PyTorch), reference Grad-CAM
(pytorch-grad-cam's GradCAM class), fast Grad-CAM (analytic, one forward pass) with its
default engine (ONNX Runtime when installed) and with PyTorch, the one-off ONNX export
time, and the ratios. Target: fast >= 4x reference.

Usage: python scripts/bench_cam.py [--batch 16] [--repeats 5] [--size 224] [--backbone resnet18 | dlib-face]
"""
from __future__ import annotations

import argparse
import os
import time

import torch
import torchvision

from auengine.explain.gradcam import gradcam, reference_gradcam


def rate(fn, images: torch.Tensor, repeats: int) -> float:
    fn(images)                                   # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn(images)
    return repeats * len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--backbone", choices=["resnet18", "dlib-face"], default="resnet18",
                        help="dlib-face: dlib's face ResNet with its face weights (models/dlib_face.py)")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.backbone == "dlib-face":
        from auengine.models.backbones import build_model

        model = build_model("dlib-face", 4)[0].eval()
    else:
        model = torchvision.models.resnet18(num_classes=4).eval()

    def forward(x):
        with torch.no_grad():
            return model(x)

    for batch in args.batch:
        images = torch.randn(batch, 3, args.size, args.size)
        repeats = max(args.repeats, 16 // batch * args.repeats // 2)
        forward_rate = rate(forward, images, repeats)
        reference_rate = rate(lambda x: reference_gradcam(model, x), images, repeats)
        with torch.no_grad():
            model.fc.weight.mul_(1.0)            # new weight version: the next fast call exports again
        tic = time.perf_counter()
        gradcam(model, images[:1], method="fast")
        export_s = time.perf_counter() - tic
        fast_rate = rate(lambda x: gradcam(model, x, method="fast"), images, repeats)
        os.environ["AUENGINE_CAM_ENGINE"] = "torch"
        torch_fast_rate = rate(lambda x: gradcam(model, x, method="fast"), images, repeats)
        del os.environ["AUENGINE_CAM_ENGINE"]
        print(f"{args.backbone}, {args.size} x {args.size}, batch {batch}, {torch.get_num_threads()} threads")
        print(f"  forward only (PyTorch):        {forward_rate:8.1f} images/s")
        print(f"  reference Grad-CAM:            {reference_rate:8.1f} images/s")
        print(f"  fast Grad-CAM (default):       {fast_rate:8.1f} images/s   (first call incl. export {export_s:.1f} s)")
        print(f"  fast Grad-CAM (PyTorch):       {torch_fast_rate:8.1f} images/s")
        print(f"  fast / reference:              {fast_rate / reference_rate:8.2f}x (target >= 4x)")
        print(f"  fast (PyTorch) / reference:    {torch_fast_rate / reference_rate:8.2f}x")
        print(f"  fast / forward:                {fast_rate / forward_rate:8.2f}x")


if __name__ == "__main__":
    main()
