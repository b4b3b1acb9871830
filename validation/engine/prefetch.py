"""Decode images in a thread pool that runs ahead of the model, a bounded number of batches."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from .images import DecodedImage

Decode = Callable[[str], DecodedImage | str]  # a path to the image, or why it was skipped


def prefetch(
    pool: ThreadPoolExecutor,
    images: Sequence[tuple[str, str]],
    group: int,
    decode: Decode,
    ahead: int = 2,
) -> Iterator[tuple[int, list[Future[DecodedImage | str]]]]:
    """Yield (first index, futures) per batch while up to `ahead` later batches decode.

    At most ahead + 1 batches of decoded images exist at a time, so memory follows the batch
    size, not the number of images.
    """
    starts = iter(range(0, len(images), group))
    pending: deque[tuple[int, list[Future[DecodedImage | str]]]] = deque()

    def submit() -> None:
        start = next(starts, None)
        if start is not None:
            stop = min(start + group, len(images))
            jobs = [pool.submit(decode, images[i][0]) for i in range(start, stop)]
            pending.append((start, jobs))

    for _ in range(ahead + 1):  # the batch handed out first, and `ahead` more
        submit()
    while pending:
        yield pending.popleft()
        submit()
