"""RQ entry points: run a validation (whole or one shard), probe a model.

Queued jobs name these functions by their dotted path: keep the names where they are. The
work itself lives in validation.runs (execute, shards, probes); the reconciler that the
worker runs is validation.runs.reconcile.
"""

from __future__ import annotations

from django.db import close_old_connections

from validation.runs import execute, probes, shards


def run_inference_job(run_id: int) -> dict:
    """Run the model over the project's validation images, evaluate, commit in one go."""
    close_old_connections()
    return execute.run_whole(run_id)


def run_shard_job(run_id: int, index: int) -> dict:
    """Run one slice of a large run; the last slice to finish merges and evaluates them all."""
    close_old_connections()
    return shards.run_shard(run_id, index)


def probe_model_job(model_id: int) -> dict:
    """Load a model in a worker, run it on a dummy batch, record what it is."""
    close_old_connections()
    return probes.probe_and_record(model_id)
