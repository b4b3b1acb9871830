"""A what-if's entries as the pages show them, from the arrays: cards, crops, a cell, one image."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core import signing
from django.core.paginator import Page, Paginator
from django.http import Http404, QueryDict
from django.urls import reverse
from django.utils.http import urlencode

from projects.models import Image
from validation.analysis import whatif
from validation.models import InferenceRun, Instance
from validation.presenters.crops import crop_digest
from validation.presenters.instances import (
    INSTANCES_PER_PAGE,
    KIND_CODES,
    MAX_SELECTION,
    CellPage,
    box_rect,
    image_context,
    label_names,
)
from validation.presenters.params import parse_int
from validation.presenters.results import row_name
from validation.presenters.whatif import WhatIfState, page_url


@dataclass(frozen=True)
class MemoryInstance:
    """A what-if entry with an Instance's attribute names, for the instance card."""

    member: whatif.Member
    image: Image

    @property
    def pk(self) -> str:
        return self.member.key

    @property
    def image_id(self) -> int:
        return self.member.image_id

    @property
    def score(self) -> float | None:
        return self.member.score

    @property
    def iou(self) -> float | None:
        return self.member.iou


@dataclass(frozen=True)
class WhatIfItem:
    instance: MemoryInstance
    predicted: str | None
    actual: str | None
    kind: str
    kind_label: str
    crop_url: str
    image_url: str


# ---------------------------------------------------------------- crops, named by signed tokens


def _signer(run: InferenceRun) -> signing.Signer:
    return signing.Signer(salt=f"validation.analysis.whatif-crop.{run.pk}")


def _box_text(box: tuple[float, float, float, float] | None) -> str:
    return "n" if box is None else ",".join(f"{v:.2f}" for v in box)


def crop_token(
    run: InferenceRun, member: whatif.Member, signer: signing.Signer | None = None
) -> str:
    """A signed "image_annotation-box_prediction-box": the crop view draws nothing else."""
    value = "_".join(
        (str(member.image_id), _box_text(member.annotation_box), _box_text(member.prediction_box))
    )
    return (signer or _signer(run)).sign(value)


def read_crop_token(run: InferenceRun, token: str) -> tuple[int, tuple | None, tuple | None]:
    """(image id, annotation box, prediction box) of a token this run's pages made, else 404."""
    try:
        image, annotation, prediction = _signer(run).unsign(token).split("_")

        def box(text: str) -> tuple[float, ...] | None:
            return None if text == "n" else tuple(float(v) for v in text.split(","))

        return int(image), box(annotation), box(prediction)
    except (signing.BadSignature, ValueError) as exc:
        raise Http404("No such crop.") from exc


def crop_path(run: InferenceRun, payload: tuple) -> Path:
    """Where the crop a token names is cached."""
    digest = crop_digest(*payload)[:20]
    return Path(settings.MEDIA_ROOT) / "crops" / str(run.pk) / "whatif" / f"{digest}.png"


# ---------------------------------------------------------------- cards and a cell's page


def items_for(run: InferenceRun, found: list[whatif.Member], query: str) -> list[WhatIfItem]:
    """The cards of these entries (one query for their images; URLs built without reverse)."""
    images = Image.objects.in_bulk({m.image_id for m in found})
    crop_base = reverse("validation:run-whatif-crop", args=[run.pk, "TOKEN"])
    image_base = reverse("validation:run-whatif-image", args=[run.pk, 0])[: -len("0/")]
    signer = _signer(run)
    items = []
    for m in found:
        if m.image_id not in images:
            continue
        kind = Instance.Kind(m.kind)
        predicted, actual = label_names(run, m.row, m.actual_label)
        items.append(
            WhatIfItem(
                instance=MemoryInstance(m, images[m.image_id]),
                predicted=predicted,
                actual=actual,
                kind=KIND_CODES[kind],
                kind_label=str(kind.label),
                crop_url=crop_base.replace("TOKEN", crop_token(run, m, signer)),
                image_url=f"{image_base}{m.image_id}/?{query}&instance={m.key}",
            )
        )
    return items


def _whatif_link(
    run: InferenceRun,
    state: WhatIfState,
    open_sections: list[str],
    cell: str,
    fragment_url: str,
    **extra,
) -> dict[str, str]:
    query = {k: v for k, v in extra.items() if v not in (None, "")}
    tail = "&".join(p for p in (urlencode(query), state.query) if p)
    return {
        "href": page_url(
            run,
            {"open": ",".join(open_sections)},
            state.query,
            cell=cell,
            **{k: str(v) for k, v in query.items()},
        ),
        "fragment": fragment_url + "?" + tail,
    }


def whatif_cell(
    run: InferenceRun,
    state: WhatIfState,
    row: int,
    col: int,
    params: Mapping,
    open_sections: list[str],
) -> CellPage:
    """One page of a what-if cell's entries, built from the arrays (not in the database)."""
    assert state.result is not None
    loc = col == len(run.labels) + 1
    entries = whatif.cell(state.result, row, col)
    splits = [(i, row_name(run, i), c) for i, c in entries.splits()] if loc else []
    actual = parse_int(params.get("actual")) if loc else None
    shown = entries.only_actual(actual)
    page: Page = Paginator(shown.indices, INSTANCES_PER_PAGE).get_page(params.get("page"))
    members = whatif.members(state.result, shown, np.asarray(page.object_list))
    fragment_url = reverse("validation:run-whatif-cell", args=[run.pk, row, col])
    link = partial(_whatif_link, run, state, open_sections, f"{row}-{col}", fragment_url)
    return CellPage(page, items_for(run, members, state.query), splits, actual, link)


# ---------------------------------------------------------------- one image, the selection


def image_context_at(
    run: InferenceRun, image: Image, result: whatif.WhatIf, highlight: str
) -> dict:
    """The image with its annotations and the what-if's kept predictions on it."""
    context = image_context(run, image, None)
    context["predictions"] = [
        {
            "id": m.key,
            "label": run.labels[m.row],
            "score": m.score,
            "kind": str(Instance.Kind(m.kind).label),
            "highlight": m.key == highlight,
            **box_rect(*(m.prediction_box or (0.0, 0.0, 0.0, 0.0))),
        }
        for m in whatif.image_predictions(result, image.pk)
    ]
    chosen = whatif.members_by_key(result, [highlight]) if highlight else []
    context["highlight_annotation"] = chosen[0].annotation_id if chosen else None
    return context


def listed_keys(params: QueryDict) -> list[str]:
    """Entry keys from ?ids=p12,a34 (or repeated ids=), in the order given, a selection at most."""
    keys: list[str] = []
    for chunk in params.getlist("ids"):
        keys += [k.strip() for k in chunk.split(",") if k.strip() and k.strip() not in keys]
    return keys[:MAX_SELECTION]


def selection_items(run: InferenceRun, state: WhatIfState, params: QueryDict) -> list[WhatIfItem]:
    """The Modify dialog's what-if entries (?ids=p12,a34), in the order given."""
    found = whatif.members_by_key(state.result, listed_keys(params)) if state.result else []
    return items_for(run, found, state.query)
