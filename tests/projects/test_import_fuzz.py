"""Arbitrary input to the parsers: always a report, never an exception."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from projects.datasets.coco import parse_coco
from projects.datasets.names import NamesError, parse_yaml_names
from projects.datasets.report import ImportReport
from projects.datasets.yolo import read_label_file

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
ids = st.integers(-2, 3) | st.text(max_size=2) | st.none()
coco_documents = st.fixed_dictionaries(
    {
        "images": st.lists(
            st.fixed_dictionaries(
                {"id": ids, "file_name": st.text(max_size=12) | json_values},
                optional={"width": json_values, "height": st.integers(-1, 5)},
            ),
            max_size=4,
        )
        | json_values,
        "categories": st.lists(
            st.fixed_dictionaries({"id": ids, "name": st.text(max_size=4) | json_values}),
            max_size=3,
        ),
        "annotations": st.lists(
            st.fixed_dictionaries(
                {"image_id": ids, "category_id": ids},
                optional={
                    "bbox": st.lists(st.floats() | st.integers(), max_size=5) | json_values,
                    "id": ids,
                    "iscrowd": json_values,
                },
            ),
            max_size=5,
        ),
    }
)


@settings(max_examples=60, deadline=None)
@given(coco_documents)
def test_any_coco_document_gives_a_report(document):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "annotations.json").write_text(json.dumps(document), encoding="utf-8")
        report = ImportReport()

        draft = parse_coco(root, report)

    assert draft is not None or not report.ok
    assert all(problem.location and problem.message for problem in report.errors)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_label_file_gives_a_report(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.txt"
        path.write_bytes(content)
        report = ImportReport()

        boxes = read_label_file(path, "labels/a.txt", 3, report)

    assert all(0 <= box.label < 3 and box.coords[2] > 0 and box.coords[3] > 0 for box in boxes)
    assert all(problem.location.startswith("labels/a.txt") for problem in report.errors)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("names:nc-[]{}'\"#, 0123ab凹\n "), max_size=60))
def test_any_yaml_text_gives_names_or_a_located_error(text):
    try:
        names = parse_yaml_names(text)
    except NamesError as exc:
        assert 1 <= exc.line <= max(1, len(text.splitlines()))
        assert exc.message
    else:
        assert names is None or all(isinstance(name, str) for _line, name in names)
