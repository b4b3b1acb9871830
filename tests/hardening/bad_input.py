"""What every bad input is checked for, and the tally printed at the end of the bad-input tests.

An input is clean when it caused no server error, wrote no file outside its folder, left no row
half-written, and (when refused) was answered with a reason located in the file, line or field.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.contrib.sessions.models import Session
from django.db import connection

# Paths a `../` climbing out of every folder would reach: checked after each input too.
ROOT_MARKERS = (Path("/pwned.txt"), Path("/tmp/pwned.txt"), Path("/tmp/abs-/pwned.txt"))


@dataclass
class Outcome:
    """What one input did."""

    kind: str  # archive, image, coco, yolo, model, form, command
    name: str
    entry: str  # the entry point: the view or command it went through
    server_error: str = ""
    outside: list[str] = field(default_factory=list)
    half_written: str = ""
    refused: bool = False
    located: bool = False
    reason: str = ""

    @property
    def clean(self) -> bool:
        located = self.located or not self.refused
        return not (self.server_error or self.outside or self.half_written) and located

    def __str__(self) -> str:
        problems = [
            f"server error: {self.server_error}" if self.server_error else "",
            f"files outside: {self.outside}" if self.outside else "",
            f"half-written: {self.half_written}" if self.half_written else "",
            "" if self.located or not self.refused else f"reason not located: {self.reason!r}",
        ]
        return f"{self.kind}/{self.name} via {self.entry}: " + "; ".join(p for p in problems if p)


RESULTS: list[Outcome] = []


def record(outcome: Outcome) -> Outcome:
    RESULTS.append(outcome)
    return outcome


def row_counts() -> dict[str, int]:
    """Rows of every table (sessions aside), in one query."""
    models = [
        m for m in apps.get_models() if m is not Session and m._meta.managed and not m._meta.proxy
    ]
    quote = connection.ops.quote_name
    counts = ", ".join(f"(SELECT COUNT(*) FROM {quote(m._meta.db_table)})" for m in models)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")  # noqa: S608 - table names from the models
        row = cursor.fetchone()
    return {m._meta.label: n for m, n in zip(models, row, strict=True)}


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()} if root.exists() else set()


class Guard:
    """Snapshot the files under tmp_path (MEDIA_ROOT and the scratch folder in it) and the rows.

    Temporary folders go to tmp_path/scratch (tempfile.tempdir), so an entry escaping from an
    extraction folder lands where the snapshot sees it.
    """

    def __init__(self, tmp_path: Path, media_root: Path) -> None:
        self.tmp_path, self.media_root = tmp_path, media_root
        self.scratch = tmp_path / "scratch"
        self.scratch.mkdir(exist_ok=True)
        tempfile.tempdir = str(self.scratch)
        self.files = files_under(tmp_path)
        self.rows = row_counts()

    def close(self) -> None:
        tempfile.tempdir = None

    def new_files(self) -> tuple[list[str], list[Path]]:
        """(files outside MEDIA_ROOT, new files in MEDIA_ROOT) since the snapshot."""
        new = files_under(self.tmp_path) - self.files
        outside = sorted(str(p) for p in new if not p.is_relative_to(self.media_root))
        outside += [str(p) for p in ROOT_MARKERS if p.exists()]
        return outside, sorted(p for p in new if p.is_relative_to(self.media_root))

    def row_changes(self) -> dict[str, int]:
        after = row_counts()
        return {k: after[k] - self.rows.get(k, 0) for k in after if after[k] != self.rows.get(k)}

    def check_refused(self, outcome: Outcome) -> None:
        """A refusal wrote nothing: no row, no file anywhere."""
        outside, media = self.new_files()
        outcome.outside = outside + [str(p) for p in media]
        if changed := self.row_changes():
            outcome.half_written = f"rows changed on refusal: {changed}"

    def reset(self) -> None:
        """Take the snapshot again (after an accepted input)."""
        self.files = files_under(self.tmp_path)
        self.rows = row_counts()


def summary() -> str:
    total = len(RESULTS)
    errors = sum(bool(o.server_error) for o in RESULTS)
    outside = sum(len(o.outside) for o in RESULTS)
    half = sum(bool(o.half_written) for o in RESULTS)
    refused = [o for o in RESULTS if o.refused]
    located = sum(o.located for o in refused)
    files = [o for o in RESULTS if not o.refused and o.kind not in ("form", "command")]
    ignored = total - len(refused) - len(files)
    kinds: dict[str, int] = {}
    for outcome in RESULTS:
        kinds[outcome.kind] = kinds.get(outcome.kind, 0) + 1
    by_kind = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
    return (
        f"{total} inputs: {errors} server errors, {outside} files outside their folder, "
        f"{half} half-written rows, {located} located reasons for {len(refused)} refusals; "
        f"{len(files)} odd but valid files imported or probed whole, {ignored} filter values "
        f"ignored without error ({by_kind})"
    )
