"""What became of each annotation in two runs: its state in each, and the transitions between them.

Annotations are followed across runs by their id (Instance.annotation); the comparison page
drills into a transition group ("found → missed") or into the instances of deleted annotations.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from validation.models import InferenceRun, Instance

Kind = Instance.Kind
# Instances that stand for one annotation: each annotation of a run is in exactly one of them.
ANNOTATION_KINDS = (Kind.TRUE_POSITIVE, Kind.CONFUSION, Kind.LOC, Kind.MISSED)
STATE_OF_KIND: dict[int, str] = {
    Kind.TRUE_POSITIVE: "tp",
    Kind.CONFUSION: "confusion",
    Kind.LOC: "loc",
    Kind.DUPLICATE: "duplicate",
    Kind.BACKGROUND: "background",
    Kind.MISSED: "missed",
}
# What became of an annotation in a run; "absent": it was not part of that run at all.
STATES = ("tp", "confusion", "loc", "missed", "absent")
# Higher is better; a change between equal ranks (confused ↔ LOC) is neither.
STATE_RANK = {"tp": 2, "confusion": 1, "loc": 1, "missed": 0}


@dataclass
class Outcomes:
    """What became of each annotation in one run."""

    by_annotation: dict[int, tuple[str, int]]  # annotation id → (state, instance id)
    deleted: int  # annotation-side instances whose annotation has been deleted since

    def state(self, annotation_id: int) -> str:
        return self.by_annotation.get(annotation_id, ("absent", 0))[0]


def annotation_outcomes(run: InferenceRun) -> Outcomes:
    """One query: every annotation-side instance of the run, by annotation id."""
    rows = Instance.objects.filter(run=run, kind__in=ANNOTATION_KINDS).values_list(
        "annotation_id", "kind", "id"
    )
    by_annotation: dict[int, tuple[str, int]] = {}
    deleted = 0
    for annotation_id, kind, pk in rows.order_by().iterator(chunk_size=10_000):
        if annotation_id is None:
            deleted += 1
        else:
            by_annotation[annotation_id] = (STATE_OF_KIND[kind], pk)
    return Outcomes(by_annotation, deleted)


@dataclass(frozen=True)
class Group:
    """A set of changes the page can drill into: an annotation transition, or deleted ones."""

    key: str
    before: str = ""
    after: str = ""
    deleted_in: str = ""  # "a" or "b" for the instances whose annotation was deleted

    @property
    def direction(self) -> str:
        if self.deleted_in or "absent" in (self.before, self.after):
            return ""
        rank_a, rank_b = STATE_RANK[self.before], STATE_RANK[self.after]
        return "same" if rank_a == rank_b else ("better" if rank_b > rank_a else "worse")


FOUND_TO_MISSED = Group("tp-missed", "tp", "missed")
MISSED_TO_FOUND = Group("missed-tp", "missed", "tp")


def parse_group(value: str | None) -> Group | None:
    """A group from its key: "<state a>-<state b>" with two different states, or "deleted-a|b"."""
    if not value:
        return None
    if value in ("deleted-a", "deleted-b"):
        return Group(value, deleted_in=value[-1])
    before, sep, after = value.partition("-")
    if sep and before in STATES and after in STATES and before != after:
        return Group(value, before, after)
    return None


@dataclass
class Transitions:
    """How many annotations went from each state in run a to each state in run b."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    deleted_a: int = 0
    deleted_b: int = 0

    def count(self, before: str, after: str) -> int:
        return self.counts.get((before, after), 0)

    def group_count(self, group: Group) -> int:
        if group.deleted_in == "a":
            return self.deleted_a
        if group.deleted_in == "b":
            return self.deleted_b
        return self.count(group.before, group.after)

    @property
    def changed(self) -> int:
        return sum(n for (sa, sb), n in self.counts.items() if sa != sb)


def transitions(oa: Outcomes, ob: Outcomes) -> Transitions:
    """Count annotations by (state in a, state in b), over the annotations of either run."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for annotation_id in oa.by_annotation.keys() | ob.by_annotation.keys():
        counts[(oa.state(annotation_id), ob.state(annotation_id))] += 1
    return Transitions(dict(counts), oa.deleted, ob.deleted)


def group_annotation_ids(oa: Outcomes, ob: Outcomes, group: Group) -> list[int]:
    """The annotations of a transition group, in id order."""
    ids = oa.by_annotation.keys() | ob.by_annotation.keys()
    return sorted(i for i in ids if oa.state(i) == group.before and ob.state(i) == group.after)


def deleted_instance_ids(run: InferenceRun) -> list[int]:
    """Annotation-side instances whose annotation has been deleted since the run."""
    rows = Instance.objects.filter(run=run, kind__in=ANNOTATION_KINDS, annotation__isnull=True)
    return list(rows.order_by("id").values_list("id", flat=True))
