"""Write one run's results: the run JSON (as the API), a CSV, or its predictions as COCO results."""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.core.management.base import BaseCommand, CommandError

from validation.analysis import exports
from validation.models import InferenceRun

FORMATS = ("json", "matrix-csv", "per-label-csv", "instances-csv", "coco")


def export_chunks(run: InferenceRun, fmt: str) -> Iterator[str]:
    """The export's text in pieces (CSV without the byte-order mark)."""
    if fmt == "json":
        yield json.dumps(exports.run_document(run), ensure_ascii=False, indent=2) + "\n"
    elif fmt == "matrix-csv":
        yield exports.matrix_csv(run)
    elif fmt == "per-label-csv":
        yield exports.per_label_csv(run)
    elif fmt == "instances-csv":
        yield from exports.instance_csv_chunks(run)
    else:
        yield from exports.coco_results(run)


class Command(BaseCommand):
    help = (
        "Export a run: json (the API's run document), matrix-csv, per-label-csv, "
        "instances-csv or coco (all stored predictions as COCO results). "
        "--out writes the file exactly as the download (CSV with a UTF-8 byte-order mark)."
    )

    def add_arguments(self, parser):
        parser.add_argument("run_id", type=int)
        parser.add_argument("--format", choices=FORMATS, default="json")
        parser.add_argument("--out", metavar="FILE", help="write here instead of stdout")

    def handle(self, *args, **options):
        run = exports.run_queryset().filter(pk=options["run_id"]).first()
        if run is None:
            raise CommandError(f"run {options['run_id']}: not found")
        chunks = export_chunks(run, options["format"])
        try:
            first = next(chunks)  # raises NoResults before anything is written
            if options["out"]:
                self._write_file(options["out"], options["format"], first, chunks)
            else:
                self.stdout.write(first, ending="")
                for chunk in chunks:
                    self.stdout.write(chunk, ending="")
        except exports.NoResults as exc:
            raise CommandError(str(exc)) from None

    def _write_file(self, path: str, fmt: str, first: str, chunks: Iterator[str]) -> None:
        try:
            with open(path, "w", encoding="utf-8", newline="") as out:
                if fmt.endswith("csv"):
                    out.write(exports.BOM)
                out.write(first)
                for chunk in chunks:
                    out.write(chunk)
        except OSError as exc:
            raise CommandError(f"--out {path}: {exc.strerror or exc}") from None
        self.stderr.write(f"written to {path}")
