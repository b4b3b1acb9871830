"""Decode images in a thread pool that runs ahead of the model, a bounded number of batches."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from .images import DecodedImage, ImageSkipped, decode_image

Decoded = tuple[DecodedImage | str, float]  # the image or why it was skipped; thread CPU seconds


def decode_task(path: str, box_hw: tuple[int, int], channel_order: str) -> Decoded:
    """Decode one image in a worker thread, measuring its CPU time."""
    start = time.thread_time()
    try:
        item: DecodedImage | str = decode_image(path, box_hw[1], box_hw[0], channel_order)
    except ImageSkipped as exc:
        item = str(exc)
    return item, time.thread_time() - start


def prefetch(
    pool: ThreadPoolExecutor,
    images: Sequence[tuple[str, str]],
    group: int,
    box_hw: tuple[int, int],
    channel_order: str,
    ahead: int = 2,
) -> Iterator[tuple[int, list[Future[Decoded]]]]:
    """Yield (first index, futures) per batch while up to `ahead` later batches decode.

    At most ahead + 1 batches of decoded images exist at a time, so memory follows the batch
    size, not the number of images.
    """
    starts = iter(range(0, len(images), group))
    pending: deque[tuple[int, list[Future[Decoded]]]] = deque()

    def submit() -> None:
        start = next(starts, None)
        if start is not None:
            stop = min(start + group, len(images))
            jobs = [
                pool.submit(decode_task, images[i][0], box_hw, channel_order)
                for i in range(start, stop)
            ]
            pending.append((start, jobs))

    for _ in range(ahead + 1):  # the batch handed out first, and `ahead` more
        submit()
    while pending:
        yield pending.popleft()
        submit()
