"""Set up Django on a throw-away SQLite database and build large synthetic runs for benchmarks.

Run rows are made by tests/run_builders.py, the builder the tests use too.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def setup_django(var_dir: str | None = None, keep_database_url: bool = False) -> Path:
    """Point settings at a fresh var folder (database, media) and migrate."""
    var = Path(var_dir or tempfile.mkdtemp(prefix="portal-bench-"))
    os.environ["PORTAL_VAR_DIR"] = str(var)
    os.environ["MEDIA_ROOT"] = str(var / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if not keep_database_url:
        os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(REPO))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return var


def bench_user():
    """The benchmarks' login, made once per database."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username="bench").first()
    return user or get_user_model().objects.create_user("bench", password="bench-pass-123")


def synthetic_project(name: str, label_names: list[str], images: int, size: tuple[int, int]):
    """A project of the bench user: these labels and a validation task of `images` image rows
    without files. Returns (project, labels, image ids in id order)."""
    import numpy as np
    from django.db import transaction

    from projects.models import Image, Label, Project, Task

    project = Project.objects.create(name=name)
    project.members.add(bench_user())
    labels = Label.objects.bulk_create(
        Label(project=project, name=n, order=i) for i, n in enumerate(label_names)
    )
    task = Task.objects.create(project=project, name="val", is_validation=True)
    width, height = size
    with transaction.atomic():
        Image.objects.bulk_create(
            (
                Image(
                    task=task,
                    name=f"img_{i:05d}.jpg",
                    file=f"bench/img_{i:05d}.jpg",
                    width=width,
                    height=height,
                    checksum="0" * 64,
                )
                for i in range(images)
            ),
            batch_size=5000,
        )
    ids = Image.objects.filter(task=task).order_by("id").values_list("id", flat=True)
    return project, labels, np.array(ids)


def bench_model(process: str, name: str, label_names: list[str]):
    """A probed model of a new process, with no file behind it."""
    from validation.models import DetectionModel, Process

    return DetectionModel.objects.create(
        process=Process.objects.create(name=process),
        name=name,
        file="models/b.pt2",
        format="export",
        label_names=label_names,
        probe_status="passed",
    )


def synthetic_run(images: int = 2000, instances: int = 100_000, labels: int = 10, seed: int = 0):
    """A completed run with `instances` instance rows spread over `images` images."""
    import numpy as np

    from tests.run_builders import new_run
    from validation.analysis.evaluation import _INSTANCE_DTYPE, write_instances

    rng = np.random.default_rng(seed)
    names = [f"defect-{i}" for i in range(labels)]
    project, _labels, image_ids = synthetic_project(f"bench {seed}", names, images, (640, 480))
    model = bench_model(f"bench process {seed}", "bench", names)
    n = labels
    matrix = rng.integers(0, 50, size=(n + 1, n + 2))
    scores = {"precision": 0.8, "recall": 0.7, "f1": 0.75}
    run = new_run(
        project,
        model,
        bench_user(),
        status="completed",
        images_total=images,
        images_done=images,
        labels=names,
        matrix=matrix.tolist(),
        **scores,
        per_label={
            name: {**scores, "ap50": 0.6, "ap50_95": 0.4, "annotations": 100, "predictions": 90}
            for name in names
        },
        timing={
            "load": 1.0,
            "preprocess": 2.0,
            "model": 3.0,
            "match": 0.1,
            "save": 0.5,
            "total": 7.0,
        },
    )
    rows = synthetic_instance_rows(rng, image_ids, instances, n)
    write_instances(run.pk, rows)
    return run, run.created_by, rows, _INSTANCE_DTYPE


def synthetic_instance_rows(rng, image_ids, count: int, n: int):
    import numpy as np

    from validation.analysis.evaluation import _INSTANCE_DTYPE

    rows = np.zeros(count, dtype=_INSTANCE_DTYPE)
    rows["image_id"] = rng.choice(image_ids, count)
    rows["row"] = rng.integers(0, n + 1, count)
    rows["col"] = rng.integers(0, n + 2, count)
    rows["kind"] = rng.choice([0, 1, 2, 3, 4, 6], count)
    rows["actual_label"] = rng.integers(-1, n, count)
    rows["annotation_id"] = -1
    rows["prediction_index"] = np.arange(count)
    rows["score"] = rng.random(count)
    rows["iou"] = rng.random(count)
    x, y = rng.random(count) * 500, rng.random(count) * 400
    for name, value in (
        ("px1", x),
        ("py1", y),
        ("px2", x + 40),
        ("py2", y + 30),
        ("gx1", x + 2),
        ("gy1", y + 1),
        ("gx2", x + 41),
        ("gy2", y + 33),
    ):
        rows[name] = value
    return rows
