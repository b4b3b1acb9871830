"""Form values of the corpus: what users (or scripts) type into every form and query.

Each value says which field its refusal must name; `None` means the page may ignore the value
(a filter falling back to "all") but must still answer without a server error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HUGE = "9" * 30
NUMBERS = {  # bad numbers for a confidence or threshold field
    "nan": "nan",
    "NaN": "NaN",
    "inf": "inf",
    "-inf": "-Infinity",
    "negative": "-0.1",
    "above-one": "1.5",
    "huge": "1e309",
    "empty": "",
    "word": "abc",
    "hex": "0x10",
    "comma": "0,5,5",
    "digits-400": "9" * 400,  # more digits than the parser reads
    "digits-5000": "1" * 5000,  # more than Python converts to an int at all
}
WHOLE = {  # bad whole numbers for batch and image size
    "zero": "0",
    "negative": "-1",
    "huge": HUGE,
    "nan": "nan",
    "fraction": "2.5",
    "word": "eight",
    "empty": "",
}


@dataclass(frozen=True)
class FormCase:
    entry: str  # which form or query (see test_bad_input_forms.ENTRIES)
    name: str
    data: dict = field(default_factory=dict)
    field: str | None = None  # the field the refusal must name; None: may be ignored
    body: str | bytes | None = None  # a raw request body (the editor's JSON)


def _label_json(text: str, name: str, field_name: str = "label_confidences") -> FormCase:
    return FormCase("wizard-2", f"label-json-{name}", {"label_confidences": text}, field_name)


def _one_field(entry: str, rows: list[tuple[str, str, object]]) -> list[FormCase]:
    """A case per (name, field, value): that one field sent, its refusal naming it."""
    return [FormCase(entry, name, {field: value}, field) for name, field, value in rows]


def wizard_cases() -> list[FormCase]:
    cases = [
        FormCase("wizard-2", f"base-{n}", {"base_confidence": v}, "base_confidence")
        for n, v in NUMBERS.items()
    ]
    cases += [
        _label_json('{"scratch": NaN}', "nan"),
        _label_json('{"scratch": Infinity}', "infinity"),
        _label_json('{"scratch": -1}', "negative"),
        _label_json('{"scratch": 1e400}', "overflow"),
        _label_json('{"scratch": 0.1}', "below-base"),
        _label_json('{"scratch": 0.25}', "equal-to-base-is-fine", None),
        _label_json('{"no such label": 0.5}', "unknown-label"),
        _label_json('{"<script>x</script>": 0.5}', "markup-label"),
        _label_json('{"scratch": "0.5"}', "string-value"),
        _label_json('{"scratch": true}', "boolean"),
        _label_json('{"scratch": null}', "null"),
        _label_json('{"scratch": {"a": 1}}', "nested-object"),
        _label_json('{"scratch": 0.5, "scratch": 0.6}', "duplicate-key"),
        _label_json("[0.5]", "list"),
        _label_json('{"scratch": 0.5', "truncated"),
        _label_json("{\n  'scratch': 0.5\n}", "single-quotes"),
        _label_json("[" * 50_000 + "]" * 50_000, "nested-too-deep"),
        _label_json("x" * 100_001, "too-long"),
        _label_json('{"": 0.5}', "empty-label"),
        _label_json('{"scratch": ' + "1" * 400 + "}", "digits-400"),
        _label_json('{"scratch": ' + "1" * 5000 + "}", "digits-5000"),
        _label_json('{"scratch": 0.' + "1" * 400 + "}", "fraction-digits-400"),
        _label_json('{"\\ud800": 0.5}', "surrogate-label"),
        _label_json('{"a\\u0000b": 0.5}', "nul-label"),
        _label_json('{"a\\nb": 0.5}', "newline-label"),
        _label_json('\ufeff{"scratch": 0.5}', "bom-is-fine", None),
        _label_json('{"scratch": -0}', "minus-zero-is-fine", None),
    ]
    builder = [
        ("nan", ["scratch"], ["nan"]),
        ("below-base", ["dent"], ["0.01"]),
        ("unknown", ["ghost"], ["0.5"]),
        ("empty-label", [""], ["0.5"]),
        ("empty-value", ["scratch"], [""]),
        ("twice", ["scratch", "scratch"], ["0.5", "0.6"]),
        ("word", ["scratch"], ["high"]),
        ("digits-400", ["scratch"], ["9" * 400]),
        ("nul", ["a\x00b"], ["0.5"]),
        ("newline", ["a\nb"], ["0.5"]),
    ]
    cases += [
        FormCase(
            "wizard-2",
            f"builder-{n}",
            {"tab": "builder", "lc_label": labels, "lc_value": values},
            "label_confidences",
        )
        for n, labels, values in builder
    ]
    for name in ("iou_threshold", "low_overlap_threshold"):
        cases += [FormCase("wizard-3", f"{name}-{n}", {name: v}, name) for n, v in NUMBERS.items()]
    cases.append(FormCase("wizard-3", "iou-zero", {"iou_threshold": "0"}, "iou_threshold"))
    cases.append(
        FormCase(
            "wizard-3",
            "low-below-iou",
            {"iou_threshold": "0.7", "low_overlap_threshold": "0.6"},
            "low_overlap_threshold",
        )
    )
    for name in ("batch_size", "image_size"):
        cases += [FormCase("wizard-3", f"{name}-{n}", {name: v}, name) for n, v in WHOLE.items()]
    cases += [
        *_one_field(
            "wizard-3",
            [
                ("batch-too-large", "batch_size", "257"),
                ("image-too-small", "image_size", "31"),
                ("image-too-large", "image_size", "4097"),
                ("device-vanished", "device", "gpu-box-2/cuda:3"),
                ("device-unknown", "device", "tpu:0"),
                ("device-path", "device", "../../etc/passwd"),
                ("device-empty", "device", ""),
            ],
        ),
        *_one_field(
            "wizard-1",
            [
                ("process-word", "process", "abc"),
                ("process-huge", "process", HUGE),
                ("model-of-another-process", "model", "OTHER_MODEL"),
                ("model-probe-failed", "model", "FAILED_MODEL"),
                ("project-not-mine", "project", "FOREIGN_PROJECT"),
                ("project-huge", "project", HUGE),
                ("project-negative", "project", "-1"),
            ],
        ),
    ]
    return cases


def whatif_cases() -> list[FormCase]:
    cases = [
        FormCase("whatif", f"base-{n}", {"wi_base": v}, "wi_base") for n, v in NUMBERS.items() if v
    ]
    cases += [
        FormCase("whatif", f"iou-{n}", {"wi_iou": v}, "wi_iou") for n, v in NUMBERS.items() if v
    ]
    cases += [
        FormCase("whatif", "low-below-iou", {"wi_iou": "0.7", "wi_low": "0.6"}, "wi_low"),
        FormCase(
            "whatif", "label-below-base", {"wi_base": "0.5", "wi_lc.scratch": "0.2"}, "scratch"
        ),
        FormCase("whatif", "label-nan", {"wi_lc.scratch": "nan"}, "scratch"),
        FormCase("whatif", "label-unknown", {"wi_lc": "ghost:0.5"}, "ghost"),
        FormCase("whatif", "label-no-colon", {"wi_lc": "scratch"}, None),
        FormCase("whatif", "label-digits-400", {"wi_lc.scratch": "9" * 400}, "scratch"),
        FormCase("whatif", "minus-zero-is-fine", {"wi_base": "-0", "wi_lc.scratch": "-0"}, None),
        FormCase("whatif-save", "save-nan", {"wi_base": "nan"}, "wi_base"),
        FormCase(
            "whatif-save", "save-label-below-base", {"wi_base": "0.5", "wi_lc.dent": "0.1"}, "dent"
        ),
    ]
    return cases


def _box(**changes) -> dict:
    return {"id": None, "label": "LABEL", "x1": 1, "y1": 1, "x2": 10, "y2": 10, **changes}


def _raw_box(x1: str, y1: str, x2: str, y2: str) -> str:
    """One new box with the coordinates spelled as given (NaN and Infinity are not JSON)."""
    x2 = "Infinity" if x2 == "Inf" else x2
    box = f'"x1": {x1}, "y1": {y1}, "x2": {x2}, "y2": {y2}'
    return '{"boxes": [{"id": null, "label": LABEL, ' + box + "}]}"


def editor_cases() -> list[FormCase]:
    def boxes(*items, name: str, fld: str) -> FormCase:
        import json

        return FormCase("editor", name, field=fld, body=json.dumps({"boxes": list(items)}))

    return [
        FormCase("editor", "nan-literal", field="x1", body=_raw_box("NaN", "1", "5", "5")),
        FormCase("editor", "infinity-literal", field="x2", body=_raw_box("1", "1", "Inf", "5")),
        FormCase("editor", "overflow", field="y2", body=_raw_box("1", "1", "5", "1e999")),
        boxes(_box(x1=-50), name="negative", fld="x1"),
        boxes(_box(x2=1e12), name="huge", fld="x2"),
        boxes(_box(x1=20, x2=10), name="inverted", fld="x2"),
        boxes(_box(x1="1"), name="string-coordinate", fld="x1"),
        boxes(_box(x1=True), name="boolean-coordinate", fld="x1"),
        boxes(_box(label=999999), name="unknown-label", fld="label"),
        boxes(_box(label="FOREIGN_LABEL"), name="label-of-another-project", fld="label"),
        boxes(_box(label="scratch"), name="label-by-name", fld="label"),
        boxes(_box(id="FOREIGN_ANNOTATION"), name="annotation-of-another-image", fld="id"),
        boxes(_box(id="1"), name="id-string", fld="id"),
        boxes(_box(id="OWN_ANNOTATION"), _box(id="OWN_ANNOTATION"), name="id-twice", fld="id"),
        boxes(*[_box()] * 5001, name="too-many-boxes", fld="boxes"),
        boxes(7, name="box-not-object", fld="box"),
        FormCase("editor", "boxes-not-list", field="boxes", body='{"boxes": {"a": 1}}'),
        FormCase("editor", "top-level-list", field="boxes", body="[]"),
        FormCase("editor", "not-json", field="body", body="boxes=1"),
        FormCase("editor", "not-utf8", field="body", body=b"\xff\xfe{}"),
        FormCase("editor", "empty-body", field="body", body=""),
        FormCase("editor", "nested-too-deep", field="body", body="[" * 100_000 + "]" * 100_000),
    ]


def other_form_cases() -> list[FormCase]:
    return [
        *_one_field(
            "review",
            [
                ("status-unknown", "review_status", "shipped"),
                ("status-empty", "review_status", ""),
                ("notes-too-long", "review_notes", "x" * 5001),
                ("notes-nul", "review_notes", "a\x00b"),
            ],
        ),
        *_one_field(
            "upload",
            [
                ("task-name-blank", "task_name", "   "),
                ("task-name-too-long", "task_name", "t" * 201),
                ("task-name-taken", "task_name", "TAKEN_TASK"),
                ("task-name-nul", "task_name", "a\x00b"),
                ("task-name-newline", "task_name", "a\nb"),
                ("format-unknown", "format", "voc"),
                ("no-file", "archive", None),
            ],
        ),
        *_one_field(
            "model-upload",
            [
                ("input-size-nan", "input_size", "nan"),
                ("input-size-huge", "input_size", HUGE),
                ("input-size-negative", "input_size", "-640"),
                ("labels-duplicate", "labels", "a,b,a"),
                ("label-too-long", "labels", "a," + "b" * 101),
                ("name-too-long", "name", "m" * 201),
                ("name-blank", "name", "  "),
                ("process-unknown", "process", HUGE),
                ("output-format-unknown", "output_format", "onnx"),
            ],
        ),
        *_one_field(
            "token",
            [
                ("name-blank", "name", ""),
                ("name-too-long", "name", "n" * 101),
                ("name-nul", "name", "a\x00"),
            ],
        ),
        *_one_field(
            "worst",
            [
                ("label-word", "label", "scratch"),
                ("label-huge", "label", HUGE),
                ("kind-unknown", "kind", "fatal"),
            ],
        ),
        FormCase("worst", "page-word", {"page": "last-ish"}, None),
        FormCase("worst", "page-huge", {"page": HUGE}, None),
        *_one_field(
            "curves",
            [
                ("precision-nan", "precision", "nan"),
                ("precision-above-one", "precision", "2"),
            ],
        ),
        *_one_field(
            "api",
            [
                ("limit-negative", "limit", "-1"),
                ("limit-huge", "limit", HUGE),
                ("offset-word", "offset", "ten"),
                ("status-unknown", "status", "exploded"),
            ],
        ),
        FormCase("api", "project-huge", {"project": HUGE}, None),
        FormCase("runs", "filters-huge", {"project": HUGE, "model": HUGE, "process": HUGE}, None),
        FormCase("runs", "page-word", {"page": "x", "status": "weird"}, None),
        FormCase("cell", "page-and-actual-words", {"page": "x", "actual": "y"}, None),
        FormCase("cell", "actual-huge", {"actual": HUGE}, None),
        FormCase("selection", "ids-huge-and-words", {"ids": f"{HUGE},abc,-5,,1"}, None),
        FormCase(
            "detail", "cell-and-open-garbage", {"cell": "9-x", "open": "<b>", "sort": "-"}, None
        ),
        FormCase("compare", "a-word", {"a": "first"}, "a"),
        FormCase("compare", "b-huge", {"a": "RUN", "b": HUGE}, None),
        FormCase("image", "instance-huge", {"instance": HUGE}, None),
        FormCase("editor-page", "run-huge", {"run": HUGE}, None),
    ]


def command_cases() -> list[FormCase]:
    base = ["--model", "MODEL", "--project", "PROJECT", "--user", "owner"]
    return [
        FormCase("validate", "conf-nan", {"args": [*base, "--conf", "nan"]}, "base_confidence"),
        FormCase("validate", "conf-negative", {"args": [*base, "--conf", "-1"]}, "base_confidence"),
        FormCase("validate", "iou-inf", {"args": [*base, "--iou", "inf"]}, "iou_threshold"),
        FormCase(
            "validate",
            "low-below-iou",
            {"args": [*base, "--iou", "0.8", "--low", "0.5"]},
            "low_overlap_threshold",
        ),
        FormCase(
            "validate",
            "label-below-base",
            {"args": [*base, "--conf", "0.5", "--label-conf", "scratch=0.1"]},
            "label_confidences",
        ),
        FormCase(
            "validate",
            "label-unknown",
            {"args": [*base, "--label-conf", "ghost=0.5"]},
            "label_confidences",
        ),
        FormCase(
            "validate",
            "label-no-equals",
            {"args": [*base, "--label-conf", "scratch"]},
            "--label-conf",
        ),
        FormCase(
            "validate",
            "label-twice",
            {"args": [*base, "--label-conf", "scratch=0.5", "--label-conf", "scratch=0.6"]},
            "--label-conf",
        ),
        FormCase(
            "validate",
            "label-digits-5000",
            {"args": [*base, "--label-conf", "scratch=" + "1" * 5000]},
            "--label-conf",
        ),
        FormCase(
            "validate", "conf-digits-400", {"args": [*base, "--conf", "9" * 400]}, "base_confidence"
        ),
        FormCase("validate", "batch-zero", {"args": [*base, "--batch", "0"]}, "batch_size"),
        FormCase(
            "validate", "image-size-huge", {"args": [*base, "--image-size", HUGE]}, "image_size"
        ),
        FormCase(
            "validate", "device-vanished", {"args": [*base, "--device", "box/cuda:9"]}, "device"
        ),
        FormCase(
            "validate",
            "project-not-visible",
            {"args": ["--model", "MODEL", "--project", "FOREIGN", "--user", "owner"]},
            "project",
        ),
        FormCase("import-model", "spec-json-broken", {"spec": "{broken"}, "spec"),
        FormCase("import-model", "spec-json-list", {"spec": "[1, 2]"}, "spec"),
        FormCase("import-model", "spec-mean-nan", {"spec": '{"mean": [NaN, 0, 0]}'}, "mean"),
        FormCase("import-model", "spec-std-zero", {"spec": '{"std": [0, 1, 1]}'}, "std"),
        FormCase(
            "import-model", "spec-input-size-huge", {"spec": '{"input_size": 99999}'}, "input_size"
        ),
        FormCase(
            "import-model",
            "spec-labels-not-strings",
            {"spec": '{"labels": [1, {"a": 2}]}'},
            "Label",
        ),
        FormCase("import-model", "nms-iou-above-one", {"args": ["--nms-iou", "5"]}, "nms_iou"),
    ]


def all_form_cases() -> list[FormCase]:
    return [
        *wizard_cases(),
        *whatif_cases(),
        *editor_cases(),
        *other_form_cases(),
        *command_cases(),
    ]
