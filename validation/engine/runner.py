"""run_inference: stream images through the model in batches, boxes back in original pixels.

Timing keys (seconds): "load" (model load + probe when none was given); "preprocess" (decoding
and waiting for decoded images, laying out the batch, cast/normalise/transfer); "model"
(forward, device synchronised); "postprocess" (output decoding, NMS, mapping back);
"decode_cpu" (CPU time spent decoding images, summed over threads); "total" (wall).

On an accelerator, decode threads run ahead of the model: the next batches are decoded while
the current one runs.

On a CPU device the cores are shared by decoding and the model, and one forward spread over
every core wastes part of them (its threads wait for each other between and inside operators).
So the run goes in lanes, one per core the model would use (at most MAX_LANES, the cores
shared out between them): each lane decodes a whole batch and forwards it with its own torch
threads, side by side with the others, and results are put back in input order. A lane's
decoding overlaps the other lanes' forwards. Each lane holds one batch's activations, so peak
memory is up to MAX_LANES times that of one forward; it still follows the batch size, not the
number of images. The stage times of the lanes are summed and divided by the number of lanes,
so they still add up to about the wall time. Batch-size halving after out-of-memory is shared
by the lanes.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from itertools import islice

import numpy as np
import torch

from .batches import Forwarder, StageClock
from .images import DecodedImage, ImageSkipped, canvas_shape, decode_image, layout_batch
from .loading import load_model
from .outputs import DecodeOptions
from .prefetch import prefetch
from .probe import probe_loaded
from .types import Cancelled, InferenceResult, ModelSpec, ProbeResult

MAX_LANES = 8
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

    def add_batch(
        self, first: int, outputs: list[ImageOutput], images: Sequence[tuple[str, str]]
    ) -> None:
        """Record a batch whose first image is images[first]."""
        for index, output in enumerate(outputs, start=first):
            if isinstance(output, str):
                self.skip(index, images[index][1], output)
            else:
                self.add(*output)


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
    """Run the model over (path, display name) images; predictions in original pixels.

    decode_threads: on an accelerator, the threads decoding ahead of the model (default: the
    cores, at most 16); on a CPU device, the lanes (default: torch's thread count, at most
    MAX_LANES).
    """
    if batch_size < 1 or image_size < 1 or max_per_image < 1:
        raise ValueError("batch_size, image_size and max_per_image must be positive")
    started = time.perf_counter()
    clock = StageClock(STAGES)
    model = load_model(spec, device)
    if probe is None:
        probe = probe_loaded(model, spec)
    clock.add("load", time.perf_counter() - started)
    plan = make_plan(spec, probe, image_size, batch_size)
    opts = DecodeOptions(
        score_floor, max_per_image, spec.nms_iou, probe.num_classes, probe.label_offset
    )
    forwarder = Forwarder(model, spec, probe, batch_size, opts, clock)
    work = BatchWork(images, plan, spec.channel_order, forwarder)
    if model.device.type == "cpu":
        lanes = max(1, decode_threads or min(MAX_LANES, torch.get_num_threads()))
        batches = lane_batches(work, lanes)
    else:
        lanes = 1
        batches = prefetched_batches(work, decode_threads or default_decode_threads())
    collected = Collected()
    with closing(batches):
        for first, outputs in batches:
            if should_stop is not None and should_stop():
                raise Cancelled("cancelled")
            collected.add_batch(first, outputs, images)
            if on_progress is not None:
                on_progress(first + len(outputs), len(images))
    seconds = clock.seconds
    ran = min(lanes, math.ceil(len(images) / plan.group))
    for stage in ("preprocess", "model", "postprocess"):
        seconds[stage] /= max(1, ran)
    seconds["total"] = time.perf_counter() - started
    return _result(collected, seconds, forwarder.batch, plan, probe)


def default_decode_threads() -> int:
    """Up to 16 cores feeding an accelerator."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(16, cores or 1))


# Per image of a batch: boxes in original pixels, scores, labels, original (width, height); or
# why the image was skipped.
ImageOutput = tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]] | str
BatchOutputs = tuple[int, list[ImageOutput]]  # index of the batch's first image, outputs


@dataclass(frozen=True)
class BatchWork:
    """What every batch of a run needs."""

    images: Sequence[tuple[str, str]]
    plan: Plan
    channel_order: str
    forwarder: Forwarder

    def starts(self) -> range:
        """Index of each batch's first image."""
        return range(0, len(self.images), self.plan.group)

    def decode(self, path: str) -> DecodedImage | str:
        """Decode one image for the plan (or say why it is skipped); its CPU time to decode_cpu."""
        start = time.thread_time()
        box_h, box_w = self.plan.box_hw
        try:
            item: DecodedImage | str = decode_image(path, box_w, box_h, self.channel_order)
        except ImageSkipped as exc:
            item = str(exc)
        self.forwarder.clock.add("decode_cpu", time.thread_time() - start)
        return item

    def forward(self, items: list[DecodedImage | str]) -> list[ImageOutput]:
        """Lay out a batch's decoded images, forward them, map boxes back to original pixels.

        Skipped images keep their reason.
        """
        clock = self.forwarder.clock
        since = time.perf_counter()
        decoded = [item for item in items if isinstance(item, DecodedImage)]
        if not decoded:
            return [item for item in items if isinstance(item, str)]  # all skipped
        canvas = self.plan.canvas_hw or canvas_shape(decoded, None, self.forwarder.probe.stride)
        pixels, placements = layout_batch(decoded, canvas, self.plan.centred)
        clock.since("preprocess", since)
        detections = self.forwarder.run(pixels)
        since = time.perf_counter()
        mapped = iter(
            [
                (place.to_original(boxes), scores, labels, (place.width, place.height))
                for place, (boxes, scores, labels) in zip(placements, detections, strict=True)
            ]
        )
        clock.since("postprocess", since)
        return [item if isinstance(item, str) else next(mapped) for item in items]


def lane_batches(work: BatchWork, lanes: int) -> Generator[BatchOutputs, None, None]:
    """CPU: each lane thread decodes a batch and forwards it with its share of torch's threads.

    Batches are handed back in input order.

    Twice as many batches as lanes are in flight, so a lane that is done early starts the next
    one instead of waiting for the oldest to be collected; memory follows the batch size.
    """
    threads = torch.get_num_threads()
    per_lane = max(1, threads // lanes)

    def lane(first: int) -> BatchOutputs:
        since = time.perf_counter()
        stop = min(first + work.plan.group, len(work.images))
        items = [work.decode(path) for path, _ in work.images[first:stop]]
        work.forwarder.clock.since("preprocess", since)
        return first, work.forward(items)

    pool = ThreadPoolExecutor(
        lanes, "engine-lane", initializer=torch.set_num_threads, initargs=(per_lane,)
    )
    try:
        starts = iter(work.starts())
        pending: deque[Future[BatchOutputs]] = deque(
            pool.submit(lane, first) for first in islice(starts, 2 * lanes)
        )
        while pending:
            done = pending.popleft().result()
            first = next(starts, None)
            if first is not None:
                pending.append(pool.submit(lane, first))
            yield done
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(threads)  # the lanes' setting is also torch's default for new threads


def prefetched_batches(work: BatchWork, threads: int) -> Generator[BatchOutputs, None, None]:
    """Accelerator: decode threads run two batches ahead; the forward runs in this thread."""
    with ThreadPoolExecutor(threads, thread_name_prefix="engine-decode") as pool:
        try:
            for first, futures in prefetch(pool, work.images, work.plan.group, work.decode):
                since = time.perf_counter()
                items = [future.result() for future in futures]
                work.forwarder.clock.since("preprocess", since)
                yield first, work.forward(items)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


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
