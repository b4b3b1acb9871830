"""Bad annotation files of the corpus: COCO documents and YOLO label and names files."""

from __future__ import annotations

import json

from tests.hardening.corpus import (
    Case,
    base_images,
    coco_document,
    coco_entries,
    yolo_entries,
    zipped,
)

J = "annotations.json"


def _coco(document) -> object:
    return zipped("coco.zip", lambda: coco_entries(document))


def _annotation(**changes) -> dict:
    """The base document with its first annotation changed."""
    document = coco_document()
    document["annotations"][0].update(changes)
    return document


def _image(**changes) -> dict:
    document = coco_document()
    document["images"][0].update(changes)
    return document


def _bbox_text(text: str) -> str:
    """The base document with the first bbox spelled exactly as given (NaN, 1e999…)."""
    return json.dumps(_annotation(bbox="BBOX")).replace('"BBOX"', text)


def coco_cases() -> list[Case]:
    base = json.dumps(coco_document())
    nested = "[" * 100_000 + "]" * 100_000
    cases = [
        Case("json-truncated", _coco(base[: len(base) // 2]), J),
        Case("json-trailing-comma", _coco(base[:-1] + ",}"), J),
        Case("json-single-quotes", _coco(base.replace('"', "'")), J),
        Case("json-empty", _coco(""), J),
        Case("json-list", _coco("[]"), J),
        Case("json-string", _coco('"annotations"'), J),
        Case("json-null", _coco("null"), J),
        Case("json-not-utf8", _coco(base.encode("utf-16")), J),
        Case("json-latin1-bytes", _coco(base.replace("dent", "d\xe9nt").encode("latin-1")), J),
        Case("json-nested-too-deep", _coco(nested), J),
        Case("json-nul-bytes", _coco(b"\x00" * 64), J),
        Case("bbox-nan", _coco(_bbox_text("[NaN, 2, 10, 8]")), J),
        Case("bbox-infinity", _coco(_bbox_text("[2, 2, Infinity, 8]")), J),
        Case("bbox-overflow", _coco(_bbox_text("[2, 2, 1e999, 8]")), J),
        Case("bbox-negative-size", _coco(_annotation(bbox=[10, 8, -5, -4])), J),
        Case("bbox-zero-area", _coco(_annotation(bbox=[2, 2, 0, 0])), J),
        Case("bbox-outside", _coco(_annotation(bbox=[100, 100, 10, 10])), J),
        Case("bbox-negative-origin", _coco(_annotation(bbox=[-20, -20, 10, 10])), J),
        Case("bbox-huge", _coco(_annotation(bbox=[0, 0, 1e300, 1e300])), J),
        Case("bbox-three-numbers", _coco(_annotation(bbox=[1, 2, 3])), J),
        Case("bbox-strings", _coco(_annotation(bbox=["1", "2", "3", "4"])), J),
        Case("bbox-null", _coco(_annotation(bbox=None)), J),
        Case("bbox-object", _coco(_annotation(bbox={"x": 1})), J),
        Case("bbox-booleans", _coco(_annotation(bbox=[True, True, True, True])), J),
        Case("bbox-missing", _coco(_annotation(bbox=None) | {"annotations": [{"id": 1}]}), J),
        Case("unknown-category", _coco(_annotation(category_id=99)), J),
        Case("category-id-string", _coco(_annotation(category_id="1")), J),
        Case("dangling-image-id", _coco(_annotation(image_id=42)), J),
        Case("image-id-float", _coco(_annotation(image_id=1.5)), J),
        Case("image-id-bool", _coco(_annotation(image_id=True)), J),
        Case("duplicate-image-id", _coco(_image(id=2)), J),
        Case(
            "duplicate-annotation-id",
            _coco(
                coco_document(
                    annotations=[
                        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 8]},
                        {"id": 1, "image_id": 2, "category_id": 2, "bbox": [1, 1, 5, 5]},
                    ]
                )
            ),
            J,
        ),
        Case(
            "duplicate-category-id",
            _coco(coco_document(categories=[{"id": 1, "name": "a"}, {"id": 1, "name": "b"}])),
            J,
        ),
        Case(
            "duplicate-category-name",
            _coco(coco_document(categories=[{"id": 1, "name": "a"}, {"id": 2, "name": "a"}])),
            J,
        ),
        Case(
            "category-name-empty",
            _coco(coco_document(categories=[{"id": 1, "name": " "}, {"id": 2, "name": "dent"}])),
            J,
        ),
        Case(
            "category-name-too-long",
            _coco(
                coco_document(categories=[{"id": 1, "name": "划" * 150}, {"id": 2, "name": "dent"}])
            ),
            J,
        ),
        Case(
            "category-name-number",
            _coco(coco_document(categories=[{"id": 1, "name": 7}, {"id": 2, "name": "dent"}])),
            J,
        ),
        Case("file-name-climbs-out", _coco(_image(file_name="../../../etc/passwd")), J),
        Case("file-name-absolute", _coco(_image(file_name="/etc/hostname")), J),
        Case("file-name-drive", _coco(_image(file_name="C:\\images\\a.jpg")), J),
        Case("file-name-missing-file", _coco(_image(file_name="nowhere.jpg")), J),
        Case("file-name-null", _coco(_image(file_name=None)), J),
        Case("file-name-folder", _coco(_image(file_name="")), J),
        Case("file-name-nul", _coco(_image(file_name="a.jpg\x00.png")), J),
        Case("width-string", _coco(_image(width="wide")), J),
        Case("width-negative", _coco(_image(width=-32)), J),
        Case(
            "images-missing", _coco({k: v for k, v in coco_document().items() if k != "images"}), J
        ),
        Case(
            "categories-missing",
            _coco({k: v for k, v in coco_document().items() if k != "categories"}),
            J,
        ),
        Case("annotations-not-a-list", _coco(coco_document(annotations={"id": 1})), J),
        Case("images-not-objects", _coco(coco_document(images=[1, 2])), J),
        Case(
            "two-annotation-files",
            zipped(
                "coco.zip",
                lambda: [*coco_entries(), ("more.json", json.dumps(coco_document()).encode())],
            ),
            None,
            either=True,
        ),
        # Odd but valid: imported whole (crowd boxes and stray keys are reported as warnings).
        Case("json-with-bom", _coco(b"\xef\xbb\xbf" + base.encode()), None),
        Case("extra-keys", _coco(coco_document(info={"year": 2024}, licenses=[])), None),
        Case("crowd-annotation", _coco(_annotation(iscrowd=1)), None, either=True),
        Case("backslash-file-name", _coco(_image(file_name="..\\images\\a.jpg")), J),
        Case("chinese-names", zipped("coco.zip", _chinese), None),
        *_odd_number_and_name_cases(),
    ]
    return cases


def _categories(name: str) -> str:
    """The base document with the first category named so (escaped: JSON carries surrogates)."""
    return json.dumps(
        coco_document(categories=[{"id": 1, "name": name}, {"id": 2, "name": "dent"}])
    )


def _many_boxes(count: int) -> dict:
    box = {"image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 8]}
    return coco_document(annotations=[{"id": i + 1, **box} for i in range(count)])


def _odd_number_and_name_cases() -> list[Case]:
    """Huge and surrogate numbers and names, the box cap, and formats that are not COCO."""
    labelme = {"version": "5.0.1", "flags": {}, "shapes": [], "imagePath": "a.jpg"}
    voc = b"<annotation><object><bndbox><xmin>1</xmin></bndbox></object></annotation>"
    huge_id = json.dumps(coco_document()).replace('"id": 1,', '"id": ' + "1" * 5000 + ",", 1)
    return [
        Case("bbox-400-digits", _coco(_bbox_text("[1" + "0" * 399 + ", 2, 10, 8]")), J),
        Case("bbox-5000-digits", _coco(_bbox_text("[2, 2, " + "9" * 5000 + ", 8]")), J),
        Case("bbox-1e309-digits", _coco(_bbox_text("[2, 2, 1" + "0" * 309 + ", 8]")), J),
        Case("image-id-5000-digits", _coco(huge_id), J),
        Case("category-name-surrogate", _coco(_categories("\ud800")), J),
        Case("category-name-nul", _coco(_categories("a\x00b")), J),
        Case("category-name-newline", _coco(_categories("two\nlines")), J),
        Case("file-name-surrogate", _coco(json.dumps(_image(file_name="a\ud800.jpg"))), J),
        Case("too-many-boxes", _coco(_many_boxes(5001)), "annotations[5000].bbox"),
        Case(
            "labelme-as-coco",
            zipped("lm.zip", lambda: [*base_images(), ("a.json", json.dumps(labelme).encode())]),
            "LabelMe",
        ),
        Case(
            "voc-as-coco",
            zipped("voc.zip", lambda: [*base_images(), ("Annotations/a.xml", voc)]),
            "Pascal VOC",
        ),
    ]


def _chinese():
    document = coco_document(categories=[{"id": 1, "name": "划痕"}, {"id": 2, "name": "凹坑"}])
    document["images"][0]["file_name"] = "图像 一.jpg"
    entries = coco_entries(document)
    entries[0] = ("images/图像 一.jpg", entries[0][1])
    return entries


# ---------------------------------------------------------------- YOLO


def _yolo(lines: str | bytes, names=None):
    return zipped("yolo.zip", lambda: yolo_entries({"a.txt": lines}, names))


LINE = "0 0.5 0.5 0.2 0.2\n"  # a valid label line, beside a names file under test
AT = "labels/a.txt line"


def _yolo_rows(rows) -> list[Case]:
    """A case per row: (name, labels/a.txt, data.yaml or None for the base one, where)."""
    return [
        Case(name, _yolo(lines, names), where, fmt="yolo") for name, lines, names, where in rows
    ]


def yolo_cases() -> list[Case]:
    """YOLO label and names files that are broken, or odd but valid."""
    nested = "names: " + "[" * 5000 + "]" * 5000 + "\n"
    many = "names: [" + ", ".join(f"c{i}" for i in range(10_000)) + "]\n"
    boxes = "".join(f"0 0.5 0.5 0.2 0.{i:04d}1\n" for i in range(5001))
    rows = [
        ("yolo-four-columns", "0 0.5 0.5 0.25\n", None, f"{AT} 1"),
        ("yolo-one-column", "0\n", None, f"{AT} 1"),
        ("yolo-seven-columns", "0 0.5 0.5 0.2 0.2 0.1 0.1\n", None, f"{AT} 1"),
        ("yolo-class-out-of-range", "2 0.5 0.5 0.2 0.2\n", None, f"{AT} 1"),
        ("yolo-class-huge", "99999999999999999999 0.5 0.5 0.2 0.2\n", None, f"{AT} 1"),
        ("yolo-class-negative", "-1 0.5 0.5 0.2 0.2\n", None, f"{AT} 1"),
        ("yolo-class-fraction", "0.5 0.5 0.5 0.2 0.2\n", None, f"{AT} 1"),
        ("yolo-class-word", "scratch 0.5 0.5 0.2 0.2\n", None, f"{AT} 1"),
        ("yolo-nan", "0 nan 0.5 0.2 0.2\n", None, f"{AT} 1"),
        ("yolo-inf", "0 0.5 inf 0.2 0.2\n", None, f"{AT} 1"),
        ("yolo-overflow", "0 0.5 0.5 1e999 0.2\n", None, f"{AT} 1"),
        ("yolo-negative-size", "0 0.5 0.5 -0.2 0.2\n", None, f"{AT} 1"),
        ("yolo-zero-size", "0 0.5 0.5 0 0\n", None, f"{AT} 1"),
        ("yolo-outside", "0 3.5 3.5 0.2 0.2\n", None, f"{AT} 1"),
        ("yolo-hex", "0 0x1p-1 0.5 0.2 0.2\n", None, f"{AT} 1"),
        ("yolo-commas", "0,0.5,0.5,0.2,0.2\n", None, f"{AT} 1"),
        ("yolo-bad-second-line", LINE + "1 0.5 oops 0.2 0.2\n", None, f"{AT} 2"),
        ("yolo-not-utf8", b"0 0.5 0.5 0.2 0.2\n\xff\xfe\n", None, "labels/a.txt"),
        ("yolo-binary", bytes(range(256)), None, "labels/a.txt"),
        ("yolo-long-line", "0 " + "0.5 " * 50_000 + "\n", None, f"{AT} 1"),
        ("yolo-names-broken-yaml", LINE, "names: [a, b\n", "data.yaml"),
        ("yolo-names-not-a-list", LINE, "names: 7\n", "data.yaml"),
        ("yolo-names-gap", LINE, "names:\n  0: a\n  2: b\n", "data.yaml"),
        ("yolo-names-count-mismatch", LINE, "nc: 3\nnames: [a, b]\n", "data.yaml"),
        ("yolo-names-empty", LINE, "names: []\n", "data.yaml"),
        ("yolo-names-duplicate", LINE, "names: [a, a]\n", "data.yaml"),
        ("yolo-names-too-long", LINE, f"names: [{'a' * 150}, b]\n", "data.yaml"),
        ("yolo-names-nested-deep", LINE, nested, "data.yaml"),
        ("yolo-names-not-utf8", LINE, b"names: [\xff]\n", "data.yaml"),
        ("yolo-no-names", LINE, b"", "class names"),
    ]
    cases = [
        Case(name, _yolo(lines, names), where, fmt="yolo") for name, lines, names, where in rows
    ]
    ghost = lambda: yolo_entries({"ghost.txt": LINE})  # noqa: E731
    cases.append(
        Case("yolo-label-without-image", zipped("yolo.zip", ghost), None, fmt="yolo", either=True)
    )
    rows = [
        ("yolo-names-surrogate", LINE, 'names: ["\\ud800", dent]\n', "data.yaml line 1"),
        ("yolo-names-nul", LINE, 'names: ["a\\u0000b", dent]\n', "data.yaml line 1"),
        ("yolo-names-newline", LINE, 'names:\n  - scratch\n  - "a\\nb"\n', "data.yaml line 3"),
        ("yolo-names-10000", LINE, many, "data.yaml"),
        (
            "yolo-nc-5000-digits",
            LINE,
            f"nc: {'9' * 5000}\nnames: [scratch, dent]\n",
            "data.yaml line 1",
        ),
        ("yolo-digits-400", "0 0.5 0.5 0." + "1" * 400 + " 0.2\n", None, f"{AT} 1"),
        ("yolo-too-many-boxes", boxes, None, f"{AT} 5001"),
    ]
    cases += [
        *_yolo_rows(rows),
        Case("coco-as-yolo", zipped("coco.zip", coco_entries), "COCO", fmt="yolo"),
    ]
    # Odd but valid: imported whole.
    rows = [
        ("yolo-duplicate-lines", "0 0.5 0.5 0.25 0.5\n" * 3, None, None),
        ("yolo-crlf", "0 0.5 0.5 0.25 0.5\r\n", None, None),
        ("yolo-bom", b"\xef\xbb\xbf0 0.5 0.5 0.25 0.5\n", None, None),
        ("yolo-blank-lines-and-spaces", "\n  0   0.5 0.5 0.25 0.5  \n\n", None, None),
        ("yolo-tabs", "0\t0.5\t0.5\t0.25\t0.5\n", None, None),
        ("yolo-empty-label-file", "", None, None),
        ("yolo-names-dict", LINE, "names:\n  0: 划痕\n  1: 凹坑\n", None),
    ]
    return cases + _yolo_rows(rows)
