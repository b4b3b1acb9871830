"""The compare page's change cards: each instance with what became of it in the other run."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy

from validation.analysis.outcomes import ANNOTATION_KINDS, STATE_OF_KIND, STATE_RANK, Group
from validation.models import InferenceRun, Instance

STATE_NAMES = {
    "tp": gettext_lazy("found"),
    "confusion": gettext_lazy("confused"),
    "loc": gettext_lazy("poorly localised"),
    "missed": gettext_lazy("missed"),
    "absent": gettext_lazy("not in the run"),
    "duplicate": gettext_lazy("duplicate"),
    "background": gettext_lazy("background"),
    "none": gettext_lazy("no such prediction"),
}


@dataclass(frozen=True)
class Side:
    """One run's side of a change: its instance (None when it has none) and its state."""

    run: InferenceRun
    instance: Instance | None
    state: str

    @property
    def state_name(self) -> str:
        return str(STATE_NAMES[self.state])

    @property
    def predicted(self) -> str | None:
        return predicted_name(self.run, self.instance) if self.instance else None

    @property
    def actual(self) -> str | None:
        return label_name(self.run, self.instance) if self.instance else None


@dataclass(frozen=True)
class ChangeItem:
    a: Side
    b: Side

    @property
    def sides(self) -> tuple[Side, Side]:
        return (self.a, self.b)

    @property
    def shown(self) -> Side:
        """The side whose instance the full-screen view highlights: run b's when it has one."""
        return self.b if self.b.instance is not None else self.a

    @property
    def image(self):
        return self.shown.instance.image

    @property
    def direction(self) -> str:
        if self.a.state in STATE_RANK and self.b.state in STATE_RANK:
            return Group("", self.a.state, self.b.state).direction
        return ""

    @property
    def annotation_edited(self) -> bool:
        """The annotation's box or label changed between the two runs."""
        ia, ib = self.a.instance, self.b.instance
        if ia is None or ib is None or ia.annotation_id is None or ia.kind not in ANNOTATION_KINDS:
            return False
        box_a, box_b = (ia.gx1, ia.gy1, ia.gx2, ia.gy2), (ib.gx1, ib.gy1, ib.gx2, ib.gy2)
        return box_a != box_b or label_name(self.a.run, ia) != label_name(self.b.run, ib)


def label_name(run: InferenceRun, instance: Instance) -> str | None:
    index = instance.actual_label
    return run.labels[index] if index is not None and index < len(run.labels) else None


def predicted_name(run: InferenceRun, instance: Instance) -> str | None:
    return run.labels[instance.row] if instance.row < len(run.labels) else None


def _side(run: InferenceRun, instance: Instance | None, missing: str = "absent") -> Side:
    state = STATE_OF_KIND[Instance.Kind(instance.kind)] if instance else missing
    return Side(run, instance, state)


def annotation_items(a: InferenceRun, b: InferenceRun, annotation_ids: list[int]):
    """Each annotation's instance in run a and in run b (one query for both runs)."""
    found = Instance.objects.filter(
        run__in=[a.pk, b.pk], annotation_id__in=annotation_ids, kind__in=ANNOTATION_KINDS
    ).select_related("image")
    by_key = {(inst.run_id, inst.annotation_id): inst for inst in found}
    return [
        ChangeItem(_side(a, by_key.get((a.pk, i))), _side(b, by_key.get((b.pk, i))))
        for i in annotation_ids
        if (a.pk, i) in by_key or (b.pk, i) in by_key
    ]


def instance_items(run: InferenceRun, other: InferenceRun, ids: list[int], side: str):
    """Instances of one run with, where they carry an annotation, its instance in the other run."""
    instances = Instance.objects.filter(run=run, pk__in=ids).select_related("image")
    by_id = {inst.pk: inst for inst in instances}
    annotated = [i.annotation_id for i in by_id.values() if i.annotation_id is not None]
    counterparts = {
        inst.annotation_id: inst
        for inst in Instance.objects.filter(
            run=other, annotation_id__in=annotated, kind__in=ANNOTATION_KINDS
        ).select_related("image")
    }
    items = []
    for pk in ids:
        inst = by_id.get(pk)
        if inst is None:
            continue
        mine = _side(run, inst)
        if inst.annotation_id is not None:
            theirs = _side(other, counterparts.get(inst.annotation_id))
        else:  # a false alarm, or an annotation deleted since: nothing to follow by id
            missing = "absent" if inst.kind in ANNOTATION_KINDS else "none"
            theirs = _side(other, None, missing=missing)
        items.append(ChangeItem(mine, theirs) if side == "a" else ChangeItem(theirs, mine))
    return items
