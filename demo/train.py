"""Train the demo detector on the synthetic train split, export it with torch.export, evaluate.

python -m demo.train --out demo/artifacts            # generates the data into a temp dir
python -m demo.train --data DIR --out demo/artifacts # uses DIR/{train,val} from demo.synth
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from demo import LABELS
from demo.dataset import Split, augment, load_split
from demo.detector import STRIDE, DemoDetector
from demo.evaluate import Pred, as_box, val_report
from demo.preprocess import MEAN, STD, normalize, unletterbox_boxes
from demo.synth import write_dataset
from demo.targets import build_targets, focal_loss, giou_loss

MODEL_NAME = "demo_detector"


def train(
    model: DemoDetector,
    data: Split,
    *,
    iters: int,
    batch: int,
    lr: float,
    seed: int,
    device: str = "cpu",
    crop: int = 0,
) -> None:
    """AdamW with warm-up and cosine decay over a fixed number of iterations."""
    rng = np.random.default_rng(seed)
    model.train()
    model.to(device)
    model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    sched = _warm_cosine(opt, iters)
    n, size = len(data.boxes), data.pixels.shape[-1]
    crop = crop or size
    order, pos, start = rng.permutation(n), 0, time.perf_counter()
    for it in range(iters):
        if pos + batch > n:
            order, pos = rng.permutation(n), 0
        idx = order[pos : pos + batch].tolist()
        pos += batch
        pixels, boxes, labels = augment(
            data.pixels[idx],
            [data.boxes[i] for i in idx],
            [data.labels[i] for i in idx],
            rng,
            crop,
        )
        loss_heat, loss_box = _step(model, opt, (pixels, boxes, labels), device, crop)
        sched.step()
        if it % 100 == 0 or it == iters - 1:
            elapsed = time.perf_counter() - start
            print(
                f"iter {it:5d}/{iters}  heat {loss_heat:.3f}  box {loss_box:.3f}"
                f"  lr {sched.get_last_lr()[0]:.2e}  {elapsed:.0f}s",
                flush=True,
            )
    model.eval()
    model.to("cpu")
    model.to(memory_format=torch.contiguous_format)


def _warm_cosine(opt: torch.optim.Optimizer, iters: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over a tenth of the iterations (200 at most), then cosine decay to 2 %."""
    warmup = min(200, iters // 10)
    return torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda it: (
            (it + 1) / warmup
            if it < warmup
            else 0.5 * (1 + math.cos(math.pi * (it - warmup) / max(1, iters - warmup))) * 0.98
            + 0.02
        ),
    )


def _step(model: DemoDetector, opt, batch, device: str, crop: int) -> tuple[float, float]:
    """One optimiser step on an augmented batch; the heat-map and box losses."""
    pixels, boxes, labels = batch
    x = normalize(pixels).to(device).contiguous(memory_format=torch.channels_last)
    logits, dist = model.raw(x)
    heat, target, weight = (
        t.to(device)
        for t in build_targets(boxes, labels, model.num_classes, crop // STRIDE, crop // STRIDE)
    )
    loss_heat = focal_loss(logits, heat)
    loss_box = giou_loss(dist, target, weight)
    loss = loss_heat + 5.0 * loss_box
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
    opt.step()
    return loss_heat.item(), loss_box.item()


@torch.no_grad()
def predict(module: torch.nn.Module, data: Split, batch: int = 16) -> list[list[Pred]]:
    """Run a model over a split; predictions in original-image pixels."""
    out: list[list[Pred]] = []
    for start in range(0, len(data.boxes), batch):
        rows = module(normalize(data.pixels[start : start + batch])).numpy()
        for r, (scale, pad_x, pad_y, width, height) in zip(
            rows, data.frames[start : start + batch], strict=True
        ):
            r = r[r[:, 4] > 0]
            boxes = unletterbox_boxes(r[:, :4], scale, pad_x, pad_y, width, height)
            out.append(
                [
                    Pred(int(c), float(s), as_box(b))
                    for b, s, c in zip(boxes, r[:, 4], r[:, 5], strict=True)
                ]
            )
    return out


def export(model: DemoDetector, path: Path) -> None:
    """torch.export with dynamic batch and dynamic (multiple-of-32) height and width."""
    batch = torch.export.Dim("batch", min=1, max=256)
    h32 = torch.export.Dim("h32", min=2, max=64)
    w32 = torch.export.Dim("w32", min=2, max=64)
    example = (torch.zeros(2, 3, 64, 64),)  # small: the example is stored inside the .pt2
    program = torch.export.export(
        model, example, dynamic_shapes={"x": {0: batch, 2: 32 * h32, 3: 32 * w32}}
    )
    torch.export.save(program, str(path))


def check_export(path: Path, size: int) -> torch.nn.Module:
    """Load the saved program and run batches of 1 and 3; return the loaded module."""
    module = torch.export.load(str(path)).module()
    for b in (1, 3):
        out = module(torch.zeros(b, 3, size, size))
        assert out.shape == (b, 100, 6), out.shape
        assert torch.isfinite(out).all()
    return module


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description="Train and export the demo detector.")
    parser.add_argument("--data", type=Path, help="dataset from demo.synth (default: generate)")
    parser.add_argument("--out", type=Path, default=Path("demo/artifacts"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--crop", type=int, default=224, help="training crop (0: whole canvas)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="training device (cpu, cuda)")
    parser.add_argument("--workers", type=int, default=2, help="processes for data preparation")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    train_split, val_split = prepare_data(args.data, args.seed, args.size, args.workers)
    data_seconds = time.perf_counter() - started
    model = DemoDetector(num_classes=len(LABELS))
    train(
        model,
        train_split,
        iters=args.iters,
        batch=args.batch,
        lr=args.lr,
        seed=args.seed,
        device=args.device,
        crop=args.crop,
    )
    train_seconds = time.perf_counter() - started - data_seconds
    args.out.mkdir(parents=True, exist_ok=True)
    pt2 = args.out / f"{MODEL_NAME}.pt2"
    export(model, pt2)
    report = val_report(predict(check_export(pt2, args.size), val_split), val_split.truths)
    report_text = json.dumps(report, indent=1)
    (args.out / f"{MODEL_NAME}_val_report.json").write_text(report_text + "\n", encoding="utf-8")
    print(report_text)
    command = "python -m demo.train " + shlex.join(sys.argv[1:] if argv is None else argv)
    timing = {
        "data_seconds": round(data_seconds, 1),
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    write_metadata(args.out / f"{MODEL_NAME}.json", args, command, timing, report)
    print(f"wrote {pt2} ({pt2.stat().st_size / 1e6:.2f} MB); {timing}")


def prepare_data(data: Path | None, seed: int, size: int, workers: int) -> tuple[Split, Split]:
    """Load the train and val splits from data, generating them into a temp dir if None."""
    with tempfile.TemporaryDirectory() as tmp:
        if data is None:
            data = Path(tmp)
            write_dataset(data, seed=seed, workers=workers)
        splits = load_split(data / "train", size, workers), load_split(data / "val", size, workers)
    print(f"{len(splits[0].boxes)} train / {len(splits[1].boxes)} val images ready", flush=True)
    return splits


def write_metadata(
    path: Path, args: argparse.Namespace, command: str, timing: dict, report: dict
) -> None:
    """The model's sidecar: labels, input contract, output format, provenance, val scores."""
    scores = report["same_label"]
    meta = {
        "labels": list(LABELS),
        "input_size": args.size,
        "resize_mode": "letterbox",
        "pad_value": [114, 114, 114],
        "mean": list(MEAN),
        "std": list(STD),
        "channel_order": "RGB",
        "output_format": "nx6",
        "output_columns": ["x1", "y1", "x2", "y2", "score", "class"],
        "max_detections": 100,
        "dynamic_batch": True,
        "dynamic_size": True,
        "stride": 32,
        "train_command": command,
        "seed": args.seed,
        "torch_version": torch.__version__,
        **timing,
        "val_f1_at_iou_0_5_conf_0_25": round(scores["f1"], 4),
        "val_precision_at_iou_0_5_conf_0_25": round(scores["precision"], 4),
        "val_recall_at_iou_0_5_conf_0_25": round(scores["recall"], 4),
    }
    path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
