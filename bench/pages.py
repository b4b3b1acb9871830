"""Run details, a cell's instance fragment and a cached crop on a run with 100,000 instances.

Server time through Django's test client (the view runs in process), p50/p95 over many requests,
on SQLite. Targets (issue 5): page and fragment p95 <= 100 ms, cached crop p95 <= 50 ms.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._portal import setup_django, synthetic_run  # noqa: E402

REQUESTS = 40


def timed(client, url: str, **headers) -> float:
    start = time.perf_counter()
    response = client.get(url, **headers)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, (url, response.status_code)
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)
    return elapsed


def main() -> None:
    setup_django()
    from django.conf import settings
    from django.test import Client
    from PIL import Image as PILImage

    from projects.models import Image
    from validation.models import Instance

    run, user, _rows, _dtype = synthetic_run(images=500, instances=100_000, labels=30)
    rng = np.random.default_rng(0)
    for image in Image.objects.filter(task__project=run.project):
        path = Path(settings.MEDIA_ROOT) / image.file.name
        path.parent.mkdir(parents=True, exist_ok=True)
        PILImage.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)).save(path)
    client = Client()
    client.force_login(user)
    n = len(run.labels)
    cells = [(int(rng.integers(0, n + 1)), int(rng.integers(0, n + 2))) for _ in range(REQUESTS)]
    page = [timed(client, f"/runs/{run.pk}/?cell={r}-{c}") for r, c in cells]
    fragment = [
        timed(client, f"/runs/{run.pk}/cells/{r}-{c}/?page=2", HTTP_HX_REQUEST="true")
        for r, c in cells
    ]
    crop_ids = list(Instance.objects.filter(run=run).values_list("pk", flat=True)[:REQUESTS])
    for pk in crop_ids:  # first request makes and caches the crop
        timed(client, f"/runs/{run.pk}/instances/{pk}/crop.png")
    crop = [timed(client, f"/runs/{run.pk}/instances/{pk}/crop.png") for pk in crop_ids]
    print(f"run with {Instance.objects.filter(run=run).count():,} instances, {n} labels, SQLite")
    for name, times, target in (
        ("details page", page, 100),
        ("cell fragment", fragment, 100),
        ("cached crop", crop, 50),
    ):
        p50, p95 = np.percentile(times, 50) * 1000, np.percentile(times, 95) * 1000
        print(f"  {name:<14} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  (target p95 <= {target} ms)")


if __name__ == "__main__":
    main()
