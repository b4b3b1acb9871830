"""metrics_rs.read_coco: the same arrays and refusals as the Python converter, errors located."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import metrics_rs
from validation.analysis.coco import BadInput, CocoRun

from .coco_reference import coco_to_arrays, read_json

IDS = st.integers(-3, 12)
NUMBER = st.one_of(
    st.integers(-5, 50),
    st.floats(-5, 1e6, allow_nan=False, allow_infinity=False),
    st.floats(-1e-300, 1e300, allow_nan=False, allow_infinity=False),
)
BBOX = st.tuples(NUMBER, NUMBER, NUMBER, NUMBER).map(list)
EXTRA = st.dictionaries(
    st.sampled_from(["iscrowd", "area", "segmentation", "note"]),
    st.one_of(
        st.none(), st.integers(0, 1), st.text(max_size=3), st.lists(st.integers(), max_size=3)
    ),
    max_size=2,
)


def _with(extra: dict, record: dict) -> dict:
    return {**extra, **record}


CATEGORY = st.builds(
    _with,
    EXTRA,
    st.fixed_dictionaries(
        {"id": IDS},
        optional={"name": st.one_of(st.sampled_from(["a", "b", "划痕", "c d"]), st.integers())},
    ),
)
IMAGE = st.builds(_with, EXTRA, st.fixed_dictionaries({"id": IDS}))
ANNOTATION = st.builds(
    _with,
    EXTRA,
    st.fixed_dictionaries({"image_id": IDS, "category_id": IDS, "bbox": BBOX}),
)
DETECTION = st.fixed_dictionaries(
    {"image_id": IDS, "category_id": IDS, "bbox": BBOX, "score": NUMBER}
)
DATASET = st.fixed_dictionaries(
    {
        "images": st.lists(IMAGE, max_size=8),
        "categories": st.lists(CATEGORY, max_size=4),
        "annotations": st.lists(ANNOTATION, max_size=20),
    },
    optional={"info": st.just({"year": 2024})},
)
RESULTS = st.lists(DETECTION, max_size=30)


def write(directory: Path, gt, pred) -> tuple[Path, Path]:
    g, p = directory / "gt.json", directory / "pred.json"
    g.write_text(gt if isinstance(gt, str) else json.dumps(gt, ensure_ascii=False))
    p.write_text(pred if isinstance(pred, str) else json.dumps(pred))
    return g, p


def rust(g: Path, p: Path) -> CocoRun:
    labels, *arrays = metrics_rs.read_coco(g, p)
    return CocoRun(labels, *arrays)


def reference(g: Path, p: Path) -> CocoRun:
    return coco_to_arrays(read_json(g), read_json(p), str(g), str(p))


def assert_same(ours: CocoRun, theirs: CocoRun) -> None:
    assert ours.labels == theirs.labels
    for name in [
        "category_ids",
        "image_ids",
        "gt_boxes",
        "gt_labels",
        "gt_offsets",
        "pred_boxes",
        "pred_labels",
        "pred_scores",
        "pred_offsets",
    ]:
        a, b = getattr(ours, name), getattr(theirs, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert np.array_equal(a, b), name


@settings(max_examples=300, deadline=None)
@given(DATASET, RESULTS)
def test_accepts_and_refuses_what_the_python_converter_does_with_the_same_arrays(gt, pred):
    with tempfile.TemporaryDirectory() as tmp:
        g, p = write(Path(tmp), gt, pred)
        try:
            theirs = reference(g, p)
        except BadInput as e:
            with pytest.raises(ValueError) as ours:
                rust(g, p)
            # Every generated value has the right type, so both meet the same COCO rule.
            assert str(ours.value) == str(e)
            return
        assert_same(rust(g, p), theirs)


@st.composite
def valid_files(draw) -> tuple[dict, list]:
    """A data set with unique ids and names, and results on its images and categories."""
    image_ids = draw(st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=10, unique=True))
    cat_ids = draw(st.lists(st.integers(-50, 50), min_size=1, max_size=5, unique=True))
    size = st.one_of(st.integers(0, 50), st.floats(0, 1e4, allow_nan=False))

    def box():
        return [draw(NUMBER), draw(NUMBER), draw(size), draw(size)]

    anns = [
        {
            "image_id": draw(st.sampled_from(image_ids)),
            "category_id": draw(st.sampled_from(cat_ids)),
            "bbox": box(),
            "iscrowd": draw(st.integers(0, 1)),
        }
        for _ in range(draw(st.integers(0, 25)))
    ]
    preds = [
        {
            "image_id": draw(st.sampled_from(image_ids)),
            "category_id": draw(st.sampled_from(cat_ids)),
            "bbox": box(),
            "score": draw(NUMBER),
        }
        for _ in range(draw(st.integers(0, 40)))
    ]
    images = [{"id": i} for i in image_ids]
    cats = [{"id": c, "name": f"label {c}"} for c in cat_ids]
    return {"images": images, "categories": cats, "annotations": anns}, preds


@settings(max_examples=200, deadline=None)
@given(valid_files())
def test_valid_files_give_the_python_converters_arrays(files):
    gt, pred = files
    with tempfile.TemporaryDirectory() as tmp:
        g, p = write(Path(tmp), gt, pred)
        assert_same(rust(g, p), reference(g, p))


def test_a_valid_data_set_with_shuffled_ids_gives_the_reference_arrays(tmp_path):
    rng = np.random.default_rng(5)
    image_ids = rng.permutation(200).tolist()
    gt = {
        "images": [{"id": i, "file_name": f"{i}.png"} for i in image_ids],
        "categories": [{"id": 7, "name": "划痕"}, {"id": 2, "name": "dent"}],
        "annotations": [
            {
                "id": k,
                "image_id": int(rng.choice(image_ids)),
                "category_id": int(rng.choice([2, 7])),
                "bbox": rng.uniform(0, 100, 4).tolist(),
                "iscrowd": k % 2,
            }
            for k in range(1000)
        ],
    }
    pred = [
        {
            "image_id": int(rng.choice(image_ids)),
            "category_id": int(rng.choice([2, 7])),
            "bbox": rng.uniform(0, 100, 4).tolist(),
            "score": float(rng.random()),
        }
        for _ in range(3000)
    ]
    g, p = write(tmp_path, gt, pred)
    assert_same(rust(g, p), reference(g, p))


GOOD_GT = {
    "images": [{"id": 1}, {"id": 2}],
    "categories": [{"id": 1, "name": "scratch"}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5]}],
}
GOOD = {"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.9}


@pytest.mark.parametrize(
    "gt,pred,message",
    [
        (GOOD_GT, json.dumps([GOOD])[:30], "pred.json: not valid JSON (EOF while parsing"),
        (GOOD_GT, "[" + json.dumps(GOOD) + ",]", "pred.json: not valid JSON (trailing comma"),
        (GOOD_GT, json.dumps([GOOD]).replace("0.9", "NaN"), "pred.json: not valid JSON ("),
        (GOOD_GT, json.dumps([GOOD]).replace("0.9", "Infinity"), "pred.json: not valid JSON ("),
        (GOOD_GT, json.dumps([GOOD]).replace("0.9", "-Infinity"), "pred.json: not valid JSON ("),
        (GOOD_GT, json.dumps([GOOD]).replace("0.9", "1e999"), "pred.json: not valid JSON ("),
        (GOOD_GT, [{**GOOD, "image_id": 1.0}], 'pred.json[0]: "image_id": invalid type: floating'),
        (GOOD_GT, [{**GOOD, "category_id": "1"}], 'pred.json[0]: "category_id": invalid type: str'),
        (GOOD_GT, [{**GOOD, "score": True}], 'pred.json[0]: "score": invalid type: boolean'),
        (GOOD_GT, [{**GOOD, "bbox": [0, 0, 5, 5, 5]}], '"bbox": invalid length 5, expected 4'),
        (GOOD_GT, [{**GOOD, "bbox": {"x": 0}}], '"bbox": invalid type: map, expected 4 numbers'),
        (GOOD_GT, [GOOD, [1, 1, [0, 0, 1, 1], 0.5]], "pred.json[1]: invalid type: sequence"),
        (GOOD_GT, [{**GOOD, "image_id": 2**64}], 'pred.json[0]: "image_id": invalid'),
        (
            {**GOOD_GT, "categories": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]},
            [],
            "gt.json: categories[1]: id 1 appears twice",
        ),
        (
            {**GOOD_GT, "images": [{"id": 1}, {"id": "2"}]},
            [],
            'gt.json: images[1]: "id": invalid type: string "2", expected an integer',
        ),
        ({**GOOD_GT, "categories": [{"id": 1}]}, [], 'gt.json: category 1 has no "name"'),
    ],
)
def test_malformed_files_are_refused_with_a_located_message(tmp_path, gt, pred, message):
    g, p = write(tmp_path, gt, pred)
    with pytest.raises(ValueError) as e:
        rust(g, p)
    assert str(e.value).startswith(str(tmp_path) + "/")
    assert message in str(e.value)
    if "not valid JSON" in message or "invalid" in message:
        assert " line 1 column " in str(e.value)


@pytest.mark.parametrize(
    "junk,message",
    [
        (
            "[" + "1," * 999_999 + "1]",
            "pred.json[0]: invalid type: integer `1`, expected an object",
        ),
        ("[" + '{"x": 1},' * 999_999 + "{}]", 'pred.json[0]: "image_id" is missing'),
        ("[" + json.dumps(GOOD) + "," + "[]," * 999_999 + "[]]", "pred.json[1]: invalid type"),
    ],
)
def test_a_million_junk_elements_are_refused_quickly(tmp_path, junk, message):
    g, p = write(tmp_path, GOOD_GT, junk)
    start = time.perf_counter()
    with pytest.raises(ValueError) as e:
        rust(g, p)
    assert time.perf_counter() - start < 2
    assert message in str(e.value)


def test_a_path_object_and_a_missing_file(tmp_path):
    g, p = write(tmp_path, GOOD_GT, [GOOD])
    assert rust(g, p).labels == ["scratch"]
    with pytest.raises(ValueError, match="none.json: cannot read the file"):
        rust(g, tmp_path / "none.json")
