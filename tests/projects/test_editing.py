"""Saving an image's annotations: in place, who/when only on changed rows, all or nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from projects.editing import AnnotationsInvalid, AnnotationsStale, save_annotations
from projects.models import Annotation, Image
from tests.projects.view_world import boxes_of, edit

pytestmark = pytest.mark.django_db


def snapshot(image) -> list[tuple]:
    return list(
        Annotation.objects.filter(image=image)
        .order_by("id")
        .values_list("id", "label_id", "x1", "y1", "x2", "y2", "updated_by_id", "updated_at")
    )


def age_annotations(image) -> None:
    """Push every row's updated_at into the past so that a new write is visible."""
    past = Annotation.objects.first().updated_at - timedelta(days=3)
    Annotation.objects.filter(image=image).update(updated_at=past, updated_by=None)


def test_unchanged_boxes_keep_their_who_and_when(world, member):
    age_annotations(world.image)
    before = snapshot(world.image)

    result = save_annotations(world.image, edit(world.image, boxes_of(world.image)), member)

    assert snapshot(world.image) == before
    assert (result.created, result.updated, result.deleted, result.unchanged) == (0, 0, 0, 2)


def test_moving_one_box_updates_it_in_place_and_records_only_that_row(world, member):
    age_annotations(world.image)
    boxes = boxes_of(world.image)
    untouched_before = snapshot(world.image)[1]
    boxes[0].update(x1=20, x2=60, y1=15, y2=45)

    result = save_annotations(world.image, edit(world.image, boxes), member)

    moved = Annotation.objects.get(pk=boxes[0]["id"])
    assert (moved.x1, moved.y1, moved.x2, moved.y2) == (20, 15, 60, 45)
    assert moved.updated_by == member
    assert moved.updated_at > untouched_before[-1] + timedelta(days=1)
    assert snapshot(world.image)[1] == untouched_before
    assert (result.updated, result.unchanged) == (1, 1)


def test_relabelling_records_who_changed_it(world, member):
    age_annotations(world.image)
    boxes = boxes_of(world.image)
    boxes[1]["label"] = world.labels["污渍"].pk

    save_annotations(world.image, edit(world.image, boxes), member)

    relabelled = Annotation.objects.get(pk=boxes[1]["id"])
    assert relabelled.label == world.labels["污渍"]
    assert relabelled.updated_by == member
    assert Annotation.objects.get(pk=boxes[0]["id"]).updated_by is None


def test_a_box_left_out_is_deleted_and_the_others_keep_their_ids(world, member):
    boxes = boxes_of(world.image)

    result = save_annotations(world.image, edit(world.image, boxes[1:]), member)

    assert [a.pk for a in result.annotations] == [boxes[1]["id"]]
    assert not Annotation.objects.filter(pk=boxes[0]["id"]).exists()
    assert result.deleted == 1


def test_a_box_without_id_is_created_with_its_author(world, member):
    boxes = boxes_of(world.image)
    boxes.append({"id": None, "label": world.labels["凹坑"].pk, "x1": 1, "y1": 2, "x2": 3, "y2": 4})

    result = save_annotations(world.image, edit(world.image, boxes), member)

    created = Annotation.objects.filter(image=world.image).exclude(
        pk__in=[b["id"] for b in boxes[:2]]
    )
    assert created.count() == 1
    assert created.get().updated_by == member
    assert (created.get().x1, created.get().y2) == (1, 4)
    assert result.created == 1
    assert [a.pk for a in result.annotations][:2] == [b["id"] for b in boxes[:2]]


def test_an_overhang_within_one_pixel_is_clipped(world, member):
    boxes = [{"label": world.labels["划痕"].pk, "x1": -0.6, "y1": 0, "x2": 200.9, "y2": 100.4}]

    result = save_annotations(world.image, edit(world.image, boxes), member)

    saved = result.annotations[0]
    assert (saved.x1, saved.y1, saved.x2, saved.y2) == (0, 0, 200, 100)


def assert_refused(world, member, payload, expected: set[tuple]) -> None:
    """The payload is refused with exactly these (index, field) errors, and nothing changed."""
    before = snapshot(world.image)
    with pytest.raises(AnnotationsInvalid) as caught:
        save_annotations(world.image, payload, member)
    assert {(e.index, e.field) for e in caught.value.errors} == expected
    assert all(e.message for e in caught.value.errors)
    assert snapshot(world.image) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"x1": 160}, "x2"),  # x1 > x2
        ({"y2": 10}, "y2"),  # y1 == y2
        ({"x2": 202}, "x2"),  # more than 1px outside
        ({"y1": -1.5}, "y1"),
        ({"x1": float("nan")}, "x1"),
        ({"y2": float("inf")}, "y2"),
        ({"x1": "10"}, "x1"),
        ({"x1": True}, "x1"),
        ({"y1": None}, "y1"),
        ({"label": 999999}, "label"),
        ({"label": "划痕"}, "label"),
        ({"id": 999999}, "id"),
        ({"id": "1"}, "id"),
    ],
)
def test_an_invalid_box_is_refused_with_its_index_and_field(world, member, change, field):
    boxes = boxes_of(world.image)
    boxes[0]["x1"] += 1  # a valid change that must not be written either
    boxes[1].update(change)

    assert_refused(world, member, edit(world.image, boxes), {(1, field)})


def test_a_label_of_another_project_is_refused(world, member):
    boxes = boxes_of(world.image)
    boxes[0]["label"] = world.other_label.pk

    assert_refused(world, member, edit(world.image, boxes), {(0, "label")})


def test_an_annotation_of_another_image_cannot_be_taken_over(world, member):
    boxes = boxes_of(world.image)
    boxes.append({**boxes_of(world.second_image)[0], "x1": 2})

    assert_refused(world, member, edit(world.image, boxes), {(2, "id")})
    assert Annotation.objects.filter(image=world.second_image).count() == 1


def test_the_same_id_twice_is_refused(world, member):
    boxes = boxes_of(world.image)
    boxes.append(dict(boxes[0]))

    assert_refused(world, member, edit(world.image, boxes), {(2, "id")})


def test_every_bad_box_is_reported_not_just_the_first(world, member):
    boxes = boxes_of(world.image)
    boxes[0]["x2"] = 5  # < x1 = 10
    boxes[1]["label"] = world.other_label.pk
    boxes.append("not a box")

    assert_refused(world, member, edit(world.image, boxes), {(0, "x2"), (1, "label"), (2, "box")})


@pytest.mark.parametrize("payload", [[], {"boxes": "all"}, {"box": []}, None, "text"])
def test_a_payload_without_a_list_of_boxes_is_refused(world, member, payload):
    assert_refused(world, member, payload, {(None, "boxes")})


# ---- versions: a save read at an older version of the image saves nothing ------------------


def test_a_save_bumps_the_image_version_and_returns_it(world, member):
    before = Image.objects.get(pk=world.image.pk).version

    result = save_annotations(world.image, edit(world.image, boxes_of(world.image)), member)

    assert result.version == before + 1
    assert Image.objects.get(pk=world.image.pk).version == before + 1


def test_a_save_read_at_an_older_version_is_stale_and_changes_nothing(world, member, owner):
    stale = edit(world.image, boxes_of(world.image))
    first = boxes_of(world.image)
    first[0].update(x1=20, x2=60)
    save_annotations(world.image, edit(world.image, first), owner)
    before = snapshot(world.image)
    version = Image.objects.get(pk=world.image.pk).version

    with pytest.raises(AnnotationsStale) as caught:
        save_annotations(world.image, {**stale, "boxes": stale["boxes"][1:]}, member)

    assert caught.value.current == version
    assert snapshot(world.image) == before
    assert Image.objects.get(pk=world.image.pk).version == version


def test_a_stale_list_naming_a_box_deleted_meanwhile_is_stale_not_invalid(world, member, owner):
    stale = edit(world.image, boxes_of(world.image))
    save_annotations(world.image, edit(world.image, boxes_of(world.image)[1:]), owner)

    with pytest.raises(AnnotationsStale):
        save_annotations(world.image, stale, member)

    assert len(boxes_of(world.image)) == 1


@pytest.mark.parametrize("version", [None, "abc", -1, True, 1.5, 2**31, "9" * 400])
def test_a_save_without_a_valid_version_is_refused(world, member, version):
    assert_refused(
        world, member, {"version": version, "boxes": boxes_of(world.image)}, {(None, "version")}
    )


def test_bad_boxes_are_reported_before_a_missing_version(world, member):
    boxes = boxes_of(world.image)
    boxes[0]["x2"] = 5

    assert_refused(world, member, {"boxes": boxes}, {(0, "x2")})


# ---- degenerate boxes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("box", "field"),
    [
        ({"x1": 10, "y1": 10, "x2": 10.0000001, "y2": 20}, "x2"),
        ({"x1": 10, "y1": 10, "x2": 20, "y2": 10.5}, "y2"),
        ({"x1": 199.5, "y1": 10, "x2": 200.9, "y2": 20}, "x2"),  # 0.5 px once clipped
    ],
)
def test_a_new_box_under_one_pixel_is_refused(world, member, box, field):
    boxes = [*boxes_of(world.image), {"id": None, "label": world.labels["划痕"].pk, **box}]

    assert_refused(world, member, edit(world.image, boxes), {(2, field)})


def test_a_box_resized_under_one_pixel_is_refused(world, member):
    boxes = boxes_of(world.image)
    boxes[0]["x2"] = boxes[0]["x1"] + 1e-7

    assert_refused(world, member, edit(world.image, boxes), {(0, "x2")})


def test_a_one_pixel_box_is_kept(world, member):
    box = {"id": None, "label": world.labels["划痕"].pk, "x1": 0.1, "y1": 3, "x2": 1.1, "y2": 4}

    result = save_annotations(world.image, edit(world.image, [box]), member)

    assert result.created == 1


def test_a_stored_sub_pixel_box_left_as_it_is_does_not_block_the_save(world, member):
    tiny = Annotation.objects.filter(image=world.image).order_by("id").first()
    Annotation.objects.filter(pk=tiny.pk).update(x2=tiny.x1 + 0.2)  # as an importer kept it
    boxes = boxes_of(world.image)

    result = save_annotations(world.image, edit(world.image, boxes[:1]), member)

    assert (result.unchanged, result.deleted) == (1, 1)
