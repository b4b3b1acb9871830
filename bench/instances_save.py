"""Saving 100,000 instances on SQLite: the portal's executemany path versus Django's bulk_create."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._portal import setup_django, synthetic_run  # noqa: E402

COUNT = 100_000
REPEATS = 5


def main() -> None:
    setup_django()
    from django.db import connection, transaction

    from validation.analysis.evaluation import write_instances
    from validation.models import InferenceRun, Instance

    run, _user, rows, dtype = synthetic_run(images=2000, instances=COUNT)

    def fresh_run():
        copy = InferenceRun.objects.get(pk=run.pk)
        copy.pk = None
        copy.save()
        return copy

    def in_one_transaction(write) -> float:
        """Seconds `write()` takes, in one transaction."""
        start = time.perf_counter()
        with transaction.atomic():
            write()
        return time.perf_counter() - start

    def ours() -> float:
        """A run's first commit: its instances into an empty run."""
        target = fresh_run()
        return in_one_transaction(lambda: write_instances(target.pk, rows))

    def replace() -> None:
        """Re-evaluation: the run's instances deleted and written again."""
        Instance.objects.filter(run=run).delete()
        write_instances(run.pk, rows)

    def orm_replace() -> None:
        Instance.objects.filter(run=run).delete()
        Instance.objects.bulk_create(
            (
                Instance(
                    run_id=run.pk,
                    image_id=int(r["image_id"]),
                    row=int(r["row"]),
                    col=int(r["col"]),
                    kind=int(r["kind"]),
                    actual_label=None if r["actual_label"] < 0 else int(r["actual_label"]),
                    prediction_index=int(r["prediction_index"]),
                    score=float(r["score"]),
                    iou=float(r["iou"]),
                    px1=float(r["px1"]),
                    py1=float(r["py1"]),
                    px2=float(r["px2"]),
                    py2=float(r["py2"]),
                    gx1=float(r["gx1"]),
                    gy1=float(r["gy1"]),
                    gx2=float(r["gx2"]),
                    gy2=float(r["gy2"]),
                )
                for r in rows
            ),
            batch_size=1000,
        )

    ours_times = [ours() for _ in range(REPEATS)]
    replace_times = [in_one_transaction(replace) for _ in range(REPEATS)]
    orm_times = [in_one_transaction(orm_replace) for _ in range(REPEATS)]
    assert Instance.objects.filter(run=run).count() == COUNT
    a, b = statistics.median(ours_times), statistics.median(orm_times)
    c = statistics.median(replace_times)
    print(f"SQLite {connection.Database.sqlite_version}; {COUNT:,} instances, median of {REPEATS}")
    print(f"  portal, a run's first save (executemany):     {a:.2f} s  (target <= 2 s)")
    print(f"  portal, re-evaluation (delete + executemany): {c:.2f} s")
    print(f"  Django bulk_create (delete + batch 1000):     {b:.2f} s")
    print(f"  ratio, replace vs bulk_create: {b / c:.1f}x faster")


if __name__ == "__main__":
    main()
