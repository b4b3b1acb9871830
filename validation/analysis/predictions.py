"""A run's raw predictions, stored compactly as columnar arrays in one .npz file per run."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from django.conf import settings


@dataclass(frozen=True)
class StoredPredictions:
    image_ids: np.ndarray  # int64 (I,) database ids, in run order
    offsets: np.ndarray  # int64 (I+1,)
    boxes: np.ndarray  # float32 (M,4) x1y1x2y2 original pixels
    scores: np.ndarray  # float32 (M,)
    labels: np.ndarray  # int32 (M,) model label index
    skipped_ids: np.ndarray  # int64 (S,) images that could not be read

    @property
    def count(self) -> int:
        return int(self.scores.shape[0])

    def for_image(self, image_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Boxes, scores, labels of one image, and the global index of its first prediction."""
        positions = np.flatnonzero(self.image_ids == image_id)
        if positions.size == 0:
            empty = np.zeros((0,), dtype=np.float32)
            return np.zeros((0, 4), np.float32), empty, np.zeros((0,), np.int32), 0
        start, stop = int(self.offsets[positions[0]]), int(self.offsets[positions[0] + 1])
        return self.boxes[start:stop], self.scores[start:stop], self.labels[start:stop], start


def relative_path(run_id: int, name: str = "predictions.npz") -> str:
    return f"runs/{run_id}/{name}"


def save(run_id: int, predictions: StoredPredictions, name: str = "predictions.npz") -> str:
    """Write atomically (temporary file, then rename); return the path relative to MEDIA_ROOT."""
    rel = relative_path(run_id, name)
    target = Path(settings.MEDIA_ROOT) / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        image_ids=predictions.image_ids.astype(np.int64),
        offsets=predictions.offsets.astype(np.int64),
        boxes=predictions.boxes.astype(np.float32),
        scores=predictions.scores.astype(np.float32),
        labels=predictions.labels.astype(np.int32),
        skipped_ids=predictions.skipped_ids.astype(np.int64),
    )
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, target)
    return rel


def load(rel_path: str) -> StoredPredictions:
    """A run's predictions read back: the file holds one array per field, by its name."""
    with np.load(Path(settings.MEDIA_ROOT) / rel_path, allow_pickle=False) as data:
        return StoredPredictions(**{f.name: data[f.name] for f in fields(StoredPredictions)})


def concatenate(parts: list[StoredPredictions]) -> StoredPredictions:
    """Merge shards in order: offsets are shifted, everything else is appended."""
    offsets = [np.zeros(1, dtype=np.int64)]
    shift = 0
    for part in parts:
        offsets.append(part.offsets[1:].astype(np.int64) + shift)
        shift += part.count
    return StoredPredictions(
        image_ids=np.concatenate([p.image_ids for p in parts]).astype(np.int64),
        offsets=np.concatenate(offsets),
        boxes=np.concatenate([p.boxes for p in parts]).reshape(-1, 4).astype(np.float32),
        scores=np.concatenate([p.scores for p in parts]).astype(np.float32),
        labels=np.concatenate([p.labels for p in parts]).astype(np.int32),
        skipped_ids=np.concatenate([p.skipped_ids for p in parts]).astype(np.int64),
    )
