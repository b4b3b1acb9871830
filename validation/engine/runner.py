"""run_inference: stream images through the model in batches, boxes back in original pixels.

Timing keys (seconds): "load" (model load + probe when none was given); "preprocess" (main
thread: waiting for decoded images, laying out the batch, cast/normalise/transfer); "model"
(forward, device synchronised); "postprocess" (output decoding, NMS, mapping back);
"decode_cpu" (CPU time of the decode threads); "total" (wall).

On a GPU the decode threads run ahead of the model. On a CPU device the model's forward uses
every core, and a decode thread preempting one of its threads stalls the whole parallel region,
so there the next batch is decoded, on every core, between forwards instead.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch

from .batches import Forwarder
from .images import DecodedImage, canvas_shape, layout_batch
from .loading import load_model
from .outputs import DecodeOptions
from .prefetch import Decoded, prefetch
from .probe import probe_loaded
from .types import Cancelled, InferenceResult, ModelSpec, ProbeResult

STAGES = ("load", "preprocess", "model", "postprocess", "decode_cpu")


@dataclass(frozen=True)
class Plan:
    """How images are laid out for this model and run."""

    box_hw: tuple[int, int]  # images are resized to fit this (h, w), aspect kept
    canvas_hw: tuple[int, int] | None  # fixed canvas, or None: per batch, padded to the stride
    centred: bool
    group: int  # images per prefetched batch
    used_image_size: int
    used_resize_mode: str


def make_plan(spec: ModelSpec, probe: ProbeResult, image_size: int, batch_size: int) -> Plan:
    """Fixed-input models get their own size, letterboxed; others the run's size and mode."""
    group = probe.fixed_batch if not probe.dynamic_batch and probe.fixed_batch else batch_size
    if probe.fixed_shape is not None:
        shape = probe.fixed_shape
        return Plan(shape, shape, True, group, max(shape), "letterbox")
    size = math.ceil(image_size / probe.stride) * probe.stride
    if spec.resize_mode == "letterbox":
        return Plan((size, size), (size, size), True, group, size, "letterbox")
    return Plan((size, size), None, False, group, size, "resize")


@dataclass
class Collected:
    """Per-image predictions in input order."""

    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)
    skipped: list[tuple[int, str, str]] = field(default_factory=list)

    def add(self, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, size) -> None:
        """Record one image's predictions."""
        self.boxes.append(boxes)
        self.scores.append(scores.astype(np.float32))
        self.labels.append(labels.astype(np.int32))
        self.counts.append(len(scores))
        self.sizes.append(size)

    def skip(self, index: int, name: str, reason: str) -> None:
        """Record a skipped image (no predictions, size 0×0)."""
        self.skipped.append((index, name, reason))
        self.counts.append(0)
        self.sizes.append((0, 0))


def run_inference(
    spec: ModelSpec,
    images: Sequence[tuple[str, str]],
    *,
    device: str,
    batch_size: int,
    image_size: int,
    probe: ProbeResult | None = None,
    score_floor: float = 0.001,
    max_per_image: int = 300,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    decode_threads: int | None = None,
) -> InferenceResult:
    """Run the model over (path, display name) images; predictions in original pixels."""
    if batch_size < 1 or image_size < 1 or max_per_image < 1:
        raise ValueError("batch_size, image_size and max_per_image must be positive")
    started = time.perf_counter()
    seconds = dict.fromkeys(STAGES, 0.0)
    model = load_model(spec, device)
    if probe is None:
        probe = probe_loaded(model, spec)
    seconds["load"] = time.perf_counter() - started
    plan = make_plan(spec, probe, image_size, batch_size)
    opts = DecodeOptions(
        score_floor, max_per_image, spec.nms_iou, probe.num_classes, probe.label_offset
    )
    forwarder = Forwarder(model, spec, probe, batch_size, opts, seconds)
    collected = Collected()
    on_cpu = model.device.type == "cpu"
    threads = decode_threads or default_decode_threads(on_cpu)
    with ThreadPoolExecutor(max(1, threads), thread_name_prefix="engine-decode") as pool:
        try:
            ahead = 0 if on_cpu else 2
            batches = prefetch(pool, images, plan.group, plan.box_hw, spec.channel_order, ahead)
            for first, futures in batches:
                if should_stop is not None and should_stop():
                    raise Cancelled("cancelled")
                _run_batch(first, futures, images, plan, forwarder, collected)
                if on_progress is not None:
                    on_progress(first + len(futures), len(images))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    seconds["total"] = time.perf_counter() - started
    return _result(collected, seconds, forwarder.batch, plan, probe)


def default_decode_threads(on_cpu: bool) -> int:
    """Every core the model uses on a CPU device; up to 16 cores feeding an accelerator."""
    if on_cpu:
        return torch.get_num_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(16, cores or 1))


def _run_batch(
    first: int,
    futures: list[Future[Decoded]],
    images: Sequence[tuple[str, str]],
    plan: Plan,
    forwarder: Forwarder,
    collected: Collected,
) -> None:
    """Wait for one batch's images, forward them, store predictions in original pixels."""
    seconds = forwarder.seconds
    since = time.perf_counter()
    items: list[DecodedImage | str] = []
    for future in futures:
        item, cpu = future.result()
        seconds["decode_cpu"] += cpu
        items.append(item)
    decoded = [item for item in items if isinstance(item, DecodedImage)]
    results = []
    if decoded:
        canvas = plan.canvas_hw or canvas_shape(decoded, None, forwarder.probe.stride)
        pixels, placements = layout_batch(decoded, canvas, plan.centred)
        seconds["preprocess"] += time.perf_counter() - since
        results = list(zip(placements, forwarder.run(pixels), strict=True))
    since = time.perf_counter()
    ready = iter(results)
    for offset, item in enumerate(items):
        if isinstance(item, str):
            collected.skip(first + offset, images[first + offset][1], item)
            continue
        place, (boxes, scores, labels) = next(ready)
        collected.add(place.to_original(boxes), scores, labels, (place.width, place.height))
    seconds["postprocess"] += time.perf_counter() - since


def _concat(parts: list[np.ndarray], shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """Concatenate per-image arrays (an empty array of `shape` when there are none)."""
    if not parts:
        return np.zeros(shape, dtype=dtype)
    return np.concatenate(parts).astype(dtype, copy=False).reshape(-1, *shape[1:])


def _result(
    collected: Collected,
    seconds: dict[str, float],
    final_batch: int,
    plan: Plan,
    probe: ProbeResult,
) -> InferenceResult:
    """The flat result arrays."""
    offsets = np.zeros(len(collected.counts) + 1, dtype=np.int64)
    np.cumsum(collected.counts, out=offsets[1:])
    return InferenceResult(
        boxes=_concat(collected.boxes, (0, 4), np.float32),
        scores=_concat(collected.scores, (0,), np.float32),
        labels=_concat(collected.labels, (0,), np.int32),
        offsets=offsets,
        image_sizes=np.array(collected.sizes, dtype=np.int32).reshape(-1, 2),
        skipped=collected.skipped,
        timing=seconds,
        final_batch_size=final_batch,
        used_image_size=plan.used_image_size,
        used_resize_mode=plan.used_resize_mode,
        probe=probe,
    )
