"""Forward laid-out batches in chunks, halving the chunk on out-of-memory, and decode outputs."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import torch

from .forward import (
    call_model,
    is_out_of_memory,
    model_input,
    release_cached_memory,
    synchronize,
    to_host_tensor,
)
from .images import PAD_VALUE
from .loading import LoadedModel, short_error
from .outputs import DecodeOptions, decode
from .types import EngineError, ModelSpec, OutOfMemoryAtBatchOne, ProbeResult

ImageDetections = tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes (n,4), scores, labels


class Forwarder:
    """Runs batches through the model; on out-of-memory halves its batch and retries.

    The halved size is kept for the rest of the run (final_batch_size in the result). A model
    with a fixed batch gets chunks padded up to it and cannot halve. Several threads (the CPU
    lanes) may call run() at once: stage times go to a shared StageClock, and a size is halved
    once however many chunks of that size ran out of memory together.
    """

    def __init__(
        self,
        model: LoadedModel,
        spec: ModelSpec,
        probe: ProbeResult,
        batch: int,
        opts: DecodeOptions,
        clock: StageClock,
    ) -> None:
        self.model, self.spec, self.probe, self.opts = model, spec, probe, opts
        self.clock = clock
        self.fixed = None if probe.dynamic_batch else (probe.fixed_batch or 1)
        self.batch = self.fixed or max(1, batch)
        self._halving = threading.Lock()

    def run(self, pixels: np.ndarray) -> list[ImageDetections]:
        """Detections in canvas pixels for each image of a (B, 3, H, W) uint8 batch."""
        results: list[ImageDetections] = []
        start = 0
        while start < len(pixels):
            size = self.batch
            chunk = pixels[start : start + size]
            try:
                results.extend(self._chunk(chunk))
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
            else:
                start += len(chunk)
                continue
            # Out of memory. Leaving the except block dropped the exception and the tensors
            # its traceback held, so the cached blocks can really be released now.
            release_cached_memory(self.model.device)
            with self._halving:
                if size == 1 or self.fixed:
                    raise OutOfMemoryAtBatchOne(
                        f"out of memory at batch size {size} on {self.model.device}"
                    )
                if self.batch == size:  # else another thread has halved it already
                    self.batch = max(1, size // 2)
        return results

    def _chunk(self, chunk: np.ndarray) -> list[ImageDetections]:
        """One forward and output decoding, padded up to a fixed batch when needed."""
        since = time.perf_counter()
        count = len(chunk)
        if self.fixed and count < self.fixed:
            pad = np.full((self.fixed - count, *chunk.shape[1:]), PAD_VALUE, dtype=np.uint8)
            chunk = np.concatenate([chunk, pad])
        x = model_input(to_host_tensor(chunk, self.model.device), self.spec, self.model)
        since = self.clock.since("preprocess", since)
        try:
            out = call_model(self.model, x, self.probe.input_kind)
            synchronize(self.model.device)
        except Exception as exc:
            if is_out_of_memory(exc):
                raise
            raise EngineError(
                f"the model failed on a batch of {count} images: {short_error(exc)}"
            ) from exc
        since = self.clock.since("model", since)
        fmt = self.probe.output_format
        if fmt != "yolo":
            # A few small tensors: one copy each to the host beats a device sync per filter and
            # check per image. A YOLO head is large and is filtered and NMS-ed on the device.
            out = to_host(out)
        detections = decode(out, fmt, len(chunk), self.opts)[:count]
        result = [_to_numpy(det) for det in detections]
        self.clock.since("postprocess", since)
        return result


class StageClock:
    """Seconds per stage, added to from any thread."""

    def __init__(self, stages: tuple[str, ...]) -> None:
        self.seconds = dict.fromkeys(stages, 0.0)
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        """Add seconds to a stage."""
        with self._lock:
            self.seconds[stage] += seconds

    def since(self, stage: str, start: float) -> float:
        """Add the time since `start` (perf_counter) to a stage; return now."""
        now = time.perf_counter()
        self.add(stage, now - start)
        return now


def to_host(out: Any) -> Any:
    """The model's output with every tensor in it (lists, tuples, dicts) on the CPU."""
    if isinstance(out, torch.Tensor):
        return out.detach().cpu()
    if isinstance(out, (list, tuple)):
        return type(out)(to_host(item) for item in out)
    if isinstance(out, dict):
        return {key: to_host(value) for key, value in out.items()}
    return out


def _to_numpy(det: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> ImageDetections:
    """Device tensors to CPU numpy arrays."""
    boxes, scores, labels = (t.detach().to("cpu").numpy() for t in det)
    return boxes, scores, labels
