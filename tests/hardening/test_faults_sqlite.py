"""8 writing processes and page readers at once: no "database is locked", no lost row."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from projects.models import Annotation, Label
from tests.clients import HTMX
from tests.conftest import REPO_ROOT
from tests.hardening.conftest import start, whole_or_nothing
from validation.jobs import run_inference_job
from validation.models import InferenceRun
from validation.runs.start import reevaluate_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]
WRITERS = 8
ROUNDS = 30

# One writing process: progress of its run (as a worker writes it), new annotations (as the
# editor saves them) and, every third round, its run's results replaced in one transaction
# (re-evaluation: instances deleted and written again). Every error is reported, not raised.
WRITER = """
import json, os, sys, traceback
sys.path.insert(0, os.environ["REPO_ROOT"])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.utils import timezone
from projects.models import Annotation
from validation.models import InferenceRun
from validation.runs.start import reevaluate_run

run_id, label_id, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
image_ids = [int(i) for i in sys.argv[4].split(",")]
made, errors, progress, evaluations = [], [], None, 0
for k in range(rounds):
    try:
        done = k % (len(image_ids) + 1)
        InferenceRun.objects.filter(pk=run_id).update(images_done=done, heartbeat_at=timezone.now())
        progress = done
        image = image_ids[k % len(image_ids)]
        x = 5 + (k * 7 + run_id) % 60
        made.append(Annotation.objects.create(
            image_id=image, label_id=label_id, x1=x, y1=x, x2=x + 9, y2=x + 9).pk)
        if k % 3 == 2:
            reevaluate_run(InferenceRun.objects.get(pk=run_id))
            evaluations += 1
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
print(json.dumps({"made": made, "errors": errors, "progress": progress,
                  "evaluations": evaluations}))
"""


def _clone(run: InferenceRun) -> InferenceRun:
    """A second completed run with the same stored predictions."""
    copy = InferenceRun.objects.get(pk=run.pk)
    copy.pk = None
    copy.submission_token = None
    copy.save()
    return copy


def _read_pages(client: Client, urls: list[str], stop: threading.Event, seen: Counter) -> None:
    """A user clicking through the runs pages until the writers are done."""
    rng = random.Random(threading.get_ident())
    try:
        while not stop.is_set():
            url = rng.choice(urls)
            try:
                response = client.get(url, **(HTMX if "progress" in url else {}))
                seen[response.status_code] += 1
            except Exception as exc:  # noqa: BLE001 - a server error, counted
                seen[f"{type(exc).__name__}: {exc}"] += 1
    finally:
        connections.close_all()


def test_eight_writers_and_readers_at_once_lose_nothing_and_lock_no_one_out(
    worker_env,
    redis_server,
    flush_redis,
    tiny_model,
    validation_project,
    owner,
    tmp_path,
    figure,
):
    first = start(tiny_model, validation_project, owner, image_size=64)
    run_inference_job(first.pk)
    runs = [InferenceRun.objects.get(pk=first.pk)] + [_clone(first) for _ in range(WRITERS - 1)]
    for run in runs[1:]:
        reevaluate_run(run)
    label = Label.objects.filter(project=validation_project).order_by("order").first()
    image_ids = ",".join(
        str(i) for i in validation_project.validation_images().values_list("pk", flat=True)
    )
    annotations_before = Annotation.objects.count()

    client = Client()
    client.force_login(owner)
    cell = next((r, c) for r, row in enumerate(runs[0].matrix) for c, n in enumerate(row) if n)
    urls = [
        reverse("validation:run-list"),
        reverse("projects:project-detail", args=[validation_project.pk]),
    ]
    for run in runs:
        urls += [
            run.get_absolute_url(),
            reverse("validation:run-progress", args=[run.pk]),
            reverse("validation:run-cell", args=[run.pk, *cell]),
        ]

    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**worker_env, "REPO_ROOT": str(REPO_ROOT)}
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), str(run.pk), str(label.pk), str(ROUNDS), image_ids],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for run in runs
    ]
    stop, seen = threading.Event(), Counter()
    readers = [
        threading.Thread(target=_read_pages, args=(client, urls, stop, seen)) for _ in range(3)
    ]
    for reader in readers:
        reader.start()
    reports = []
    for proc in writers:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    stop.set()
    for reader in readers:
        reader.join(60)

    errors = [e for report in reports for e in report["errors"]]
    locked = [e for e in errors if "locked" in e]
    made = [pk for report in reports for pk in report["made"]]
    missing = len(made) - Annotation.objects.filter(pk__in=made).count()
    extra = Annotation.objects.count() - annotations_before - len(made)
    partial = [p for run in runs if (p := whole_or_nothing(InferenceRun.objects.get(pk=run.pk)))]
    progress_lost = [
        run.pk
        for run, report in zip(runs, reports, strict=True)
        if InferenceRun.objects.get(pk=run.pk).images_done != report["progress"]
    ]
    # 286 is htmx's "stop polling" of a finished run's progress; 302 a cell opened as a page.
    bad_pages = {k: v for k, v in seen.items() if k not in (200, 286, 302)}
    mode = ""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            mode = ", journal " + cursor.execute("PRAGMA journal_mode").fetchone()[0]
    figure(
        f"{connection.vendor}{mode}: {WRITERS} writing processes x {ROUNDS} rounds "
        f"({len(made)} annotations, {sum(r['evaluations'] for r in reports)} result commits, "
        f"{WRITERS * ROUNDS} progress writes) while 3 readers loaded {sum(seen.values())} "
        f"pages: {len(locked)} 'database is locked', {len(errors)} writer errors, "
        f"{sum(bad_pages.values())} pages failed, {missing} rows lost, {extra} rows extra, "
        f"{len(partial)} runs with partial results, {len(progress_lost)} progress writes lost"
    )
    assert not errors, errors[:5]
    assert not bad_pages, list(bad_pages.items())[:5]
    assert missing == 0 and extra == 0
    assert not partial, partial
    assert not progress_lost
    assert sum(seen.values()) > 0
