"""Engine check on a CUDA device; plain script (torch, numpy, Pillow only; torchvision optional).

    python tests/engine/gpu_check_engine.py [--device cuda:0]

Runs tiny models on the CPU and on the device and compares the predictions, then drives the
real CUDA out-of-memory path (batch halving, failure at batch 1). Exits non-zero on a mismatch.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

import engine_models as em  # noqa: E402

from validation.engine import (  # noqa: E402
    ModelSpec,
    OutOfMemoryAtBatchOne,
    probe_model,
    run_inference,
)


class AllocatePerImage(nn.Module):
    """Allocates `per_image` bytes per batch element on the input's device, then finds boxes."""

    def __init__(self, per_image: int) -> None:
        super().__init__()
        self.per_image = per_image

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        buf = torch.empty(x.shape[0] * self.per_image, dtype=torch.uint8, device=x.device)
        return em.bright_box_rows(x) + 0.0 * buf[:1].float().sum()


def images(folder: Path, count: int) -> list[tuple[str, str]]:
    """PNG and JPEG images with one rectangle each."""
    out = []
    for i in range(count):
        suffix = ".jpg" if i % 2 else ".png"
        path = em.rect_image(
            folder / f"img{i}{suffix}",
            (640 + 37 * i, 480 - 11 * i),
            (40 + i, 50, 300, 400 - i),
            (255, 130 + 8 * i, 255 * (i % 2)),
        )
        out.append((str(path), path.name))
    return out


def compare(name: str, cpu, gpu) -> bool:
    """Same images, same counts, boxes/scores within float tolerance."""
    ok = (
        np.array_equal(cpu.offsets, gpu.offsets)
        and np.array_equal(cpu.labels, gpu.labels)
        and np.allclose(cpu.boxes, gpu.boxes, atol=1e-2)
        and np.allclose(cpu.scores, gpu.scores, atol=1e-4)
    )
    print(
        f"{name}: cpu vs gpu {'same' if ok else 'DIFFERENT'}; gpu timing "
        + ", ".join(f"{k} {v:.3f}s" for k, v in gpu.timing.items())
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda:0")
    args = parser.parse_args()
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        imgs = images(d, 12)
        built = {
            "nx6 export": (em.export_model(em.BrightBoxNx6(), d / "nx6.pt2"), ("a", "b")),
            "nx6 script": (em.script_model(em.BrightBoxNx6(), d / "nx6.pt"), ("a", "b")),
            "list script": (em.script_model(em.BrightBoxNx6List(), d / "l.pt"), ("a", "b")),
            "tv script": (em.script_model(em.TorchvisionStyle(), d / "tv.pt"), ("a", "b")),
        }
        try:
            import torchvision  # noqa: F401

            built["yolo export"] = (em.export_model(em.BrightBoxYolo(), d / "y.pt2"), tuple("abc"))
        except ImportError:
            print("torchvision missing: YOLO decoding (batched NMS) not checked")
        specs = {
            name: ModelSpec(str(path), "auto", labels, input_size=640)
            for name, (path, labels) in built.items()
        }
        on_cpu = {
            name: run_inference(spec, imgs, device="cpu", batch_size=4, image_size=640)
            for name, spec in specs.items()
        }
        assert not torch.cuda.is_initialized(), "a CPU run initialised CUDA"
        for name, spec in specs.items():
            gpu = run_inference(spec, imgs, device=args.device, batch_size=4, image_size=640)
            failures += not compare(name, on_cpu[name], gpu)

        if not args.device.startswith("cuda"):
            print("not a CUDA device: real out-of-memory path not checked")
            return 1 if failures else 0
        total = torch.cuda.get_device_properties(torch.device(args.device)).total_memory
        per_image = int(total * 0.3)
        path = em.script_model(AllocatePerImage(per_image), d / "alloc.pt")
        model_spec = ModelSpec(str(path), "auto", ("a", "b"), input_size=640)
        started = time.perf_counter()
        result = run_inference(model_spec, imgs, device=args.device, batch_size=8, image_size=640)
        print(
            f"real OOM: batch 8 → final batch {result.final_batch_size} "
            f"({time.perf_counter() - started:.1f}s)"
        )
        failures += result.final_batch_size != 2
        normal = run_inference(
            ModelSpec(str(built["nx6 script"][0]), "auto", ("a", "b"), input_size=640),
            imgs,
            device=args.device,
            batch_size=8,
            image_size=640,
        )
        failures += not compare("OOM-halved vs normal", normal, result)

        path = em.script_model(AllocatePerImage(int(total * 1.5)), d / "alloc_all.pt")
        try:
            probe_model(ModelSpec(str(path), "auto", ("a", "b"), input_size=640), args.device)
            print("OOM at batch 1: NOT raised")
            failures += 1
        except OutOfMemoryAtBatchOne as exc:
            print(f"OOM at batch 1: {exc}")
    print("engine GPU check:", "PASSED" if not failures else f"{failures} FAILURE(S)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
