"""The wizard's validation rules, step by step and through validate_run_settings."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.http import QueryDict

from validation.forms.confidences import (
    ConfidenceForm,
    LabelConfidenceError,
    parse_source,
    rows_to_source,
    source_to_rows,
)
from validation.forms.whatif import WhatIfForm
from validation.forms.wizard import (
    DatasetModelForm,
    InferenceParametersForm,
    project_summary,
    run_labels,
    validate_run_settings,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("no_redis"),
]  # no live GPUs: any-gpu and cpu only
LABELS = ["scratch", "dent", "划痕", "crack"]


def step1(world, user=None, **changes) -> DatasetModelForm:
    data = {"process": world.process.pk, "model": world.model.pk, "project": world.project.pk}
    data.update(changes)
    return DatasetModelForm(data, user=user or world.owner)


def errors(form) -> dict[str, list[str]]:
    form.is_valid()
    return {k: [str(m) for m in v] for k, v in form.errors.items()}


# ---------------------------------------------------------------- step 1


def test_step1_accepts_a_passed_model_and_a_project_with_a_validation_task(world):
    form = step1(world)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["model"] == world.model


@pytest.mark.parametrize("field", ["process", "model", "project"])
def test_step1_requires_each_choice(world, field):
    message = {
        "process": "Choose a process.",
        "model": "Choose a model.",
        "project": "Choose a project.",
    }[field]
    assert errors(step1(world, **{field: ""}))[field] == [message]


def test_step1_refuses_a_model_whose_probe_is_pending(world):
    messages = errors(step1(world, model=world.pending_model.pk))["model"]
    assert messages == ["The model “pending-model” cannot be used: waiting for its probe."]


def test_step1_refuses_a_model_whose_probe_failed_with_the_reason(world):
    messages = errors(step1(world, model=world.failed_model.pk))["model"]
    assert "output shape (1, 7) not understood" in messages[0]


def test_step1_refuses_a_model_of_another_process(world):
    messages = errors(step1(world, model=world.other_model.pk))["model"]
    assert messages == ["The model “paint-model” does not belong to the process “焊接”."]


def test_step1_refuses_a_project_without_a_validation_task(world):
    messages = errors(step1(world, project=world.no_validation_project.pk))["project"]
    assert messages == ["The project “no-validation” has no task flagged as validation set."]


def test_step1_refuses_a_validation_task_without_images(world):
    world.project.validation_images().delete()
    messages = errors(step1(world))["project"]
    assert messages == ["The validation tasks of “焊接项目” have no images."]


def test_step1_refuses_a_project_the_user_is_not_a_member_of(world):
    messages = errors(step1(world, project=world.foreign_project.pk))["project"]
    assert messages == ["This project does not exist or is not yours."]


def test_step1_lets_staff_choose_any_project(world, staff):
    assert step1(world, user=staff, project=world.foreign_project.pk).is_valid()


def test_step1_refuses_unknown_ids(world):
    found = errors(step1(world, process=999999, model=999999))
    assert found["process"] == ["This process does not exist."]
    assert found["model"] == ["This model does not exist."]


def test_project_summary_counts_only_validation_tasks(world):
    assert project_summary(world.project) == {"tasks": 1, "images": 3, "annotations": 9}


def test_run_labels_are_model_labels_then_project_only_labels(world):
    assert run_labels(world.model, world.project) == LABELS


# ---------------------------------------------------------------- step 2


def step2(base="0.3", source="", tab="source", labels=LABELS, **extra) -> ConfidenceForm:
    data = {"base_confidence": base, "label_confidences": source, "tab": tab, **extra}
    return ConfidenceForm(data, labels=labels)


def test_step2_accepts_label_confidences_at_or_above_the_base():
    form = step2(source='{"scratch": 0.5, "划痕": 0.3}')
    assert form.is_valid(), form.errors
    assert form.cleaned_data["label_confidences"] == {"scratch": 0.5, "划痕": 0.3}


def test_step2_accepts_no_label_confidence():
    form = step2(source="  ")
    assert form.is_valid()
    assert form.cleaned_data["label_confidences"] == {}


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ("", "Enter the base confidence."),
        ("abc", "The base confidence must be a number between 0 and 1."),
        ("nan", "The base confidence must be a number between 0 and 1."),
        ("inf", "The base confidence must be a number between 0 and 1."),
        ("-0.1", "The base confidence must be between 0 and 1."),
        ("1.5", "The base confidence must be between 0 and 1."),
    ],
)
def test_step2_refuses_a_bad_base_confidence(base, message):
    assert errors(step2(base=base))["base_confidence"] == [message]


def test_step2_refuses_a_label_confidence_below_the_base_naming_the_label():
    messages = errors(step2(base="0.5", source='{\n  "dent": 0.6,\n  "scratch": 0.3\n}'))
    assert messages["label_confidences"] == [
        "Line 3: The confidence of “scratch” (0.3) is below the base confidence (0.5); "
        "a label confidence must be at least the base."
    ]


def test_step2_refuses_an_unknown_label_naming_it():
    messages = errors(step2(source='{"rust": 0.5}'))["label_confidences"]
    assert messages == [
        "Line 1: Unknown label “rust”: it is neither a model label nor a project label."
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("NaN", "The confidence of “dent” must be a finite number between 0 and 1."),
        ("Infinity", "The confidence of “dent” must be a finite number between 0 and 1."),
        ("-0.5", "The confidence of “dent” (-0.5) must be between 0 and 1."),
        ("1.2", "The confidence of “dent” (1.2) must be between 0 and 1."),
        ('"0.5"', "The confidence of “dent” must be a number between 0 and 1."),
        ("true", "The confidence of “dent” must be a number between 0 and 1."),
        ("null", "The confidence of “dent” must be a number between 0 and 1."),
    ],
)
def test_step2_refuses_values_that_are_not_confidences(value, message):
    messages = errors(step2(base="0", source=f'{{\n"dent": {value}\n}}'))["label_confidences"]
    assert messages == [f"Line 2: {message}"]


def test_step2_reports_json_syntax_errors_with_line_and_column():
    messages = errors(step2(source='{\n  "dent": 0.5\n  "scratch": 0.6\n}'))["label_confidences"]
    assert messages == ["Line 3, column 3: Expecting ',' delimiter"]


def test_step2_refuses_json_that_is_not_an_object():
    messages = errors(step2(source="[0.5]"))["label_confidences"]
    assert messages == [
        'Line 1: The label confidences must be a JSON object such as {"scratch": 0.5}.'
    ]


def test_step2_refuses_a_label_given_twice_on_its_second_line():
    messages = errors(step2(source='{\n"dent": 0.5,\n"dent": 0.6\n}'))["label_confidences"]
    assert messages == ["Line 3: “dent” is given twice."]


def test_step2_finds_the_line_of_an_escaped_key():
    source = '{\n"scratch": 0.5,\n"\\u5212\\u75d5": 0.1\n}'
    messages = errors(step2(base="0.2", source=source))["label_confidences"]
    assert messages[0].startswith("Line 3: The confidence of “划痕” (0.1)")


def test_step2_builder_rows_are_checked_with_row_errors():
    from django.http import QueryDict

    data = QueryDict(mutable=True)
    data.update({"base_confidence": "0.4", "tab": "builder"})
    for label, value in [("scratch", "0.2"), ("", "0.5"), ("dent", "x"), ("dent", "0.5")]:
        data.appendlist("lc_label", label)
        data.appendlist("lc_value", value)
    form = ConfidenceForm(data, labels=LABELS)
    assert not form.is_valid()
    assert form.row_errors == {
        0: [
            "The confidence of “scratch” (0.2) is below the base confidence (0.4); "
            "a label confidence must be at least the base."
        ],
        1: ["Choose a label."],
        2: ["The confidence of “dent” must be a number between 0 and 1."],
        3: ["“dent” is given twice."],
    }


def test_step2_builder_accepts_a_decimal_comma():
    from django.http import QueryDict

    data = QueryDict("base_confidence=0.2&tab=builder&lc_label=dent&lc_value=0,5")
    form = ConfidenceForm(data, labels=LABELS)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["label_confidences"] == {"dent": 0.5}


def test_source_and_builder_convert_both_ways_without_loss():
    rows = [("划痕", "0.5"), ("dent", "abc")]
    text = rows_to_source(rows)
    assert json.loads(text) == {"划痕": 0.5, "dent": "abc"}
    assert source_to_rows(text) == [("划痕", "0.5"), ("dent", "abc")]


def test_source_to_rows_raises_a_located_error():
    with pytest.raises(LabelConfidenceError) as caught:
        source_to_rows('{"a": }')
    assert str(caught.value).startswith("Line 1, column 7")


def test_parse_source_keeps_the_line_of_each_key():
    assert parse_source('{\n"a": 0.1,\n\n"b": 0.2}') == [("a", 0.1, 2), ("b", 0.2, 4)]


# ---------------------------------------------------------------- step 3


def step3(world, **changes) -> InferenceParametersForm:
    data = {
        "device": "cpu",
        "batch_size": "8",
        "image_size": "640",
        "iou_threshold": "0.5",
        "low_overlap_threshold": "0.5",
        **changes,
    }
    return InferenceParametersForm(data, model=world.model)


def test_step3_accepts_the_defaults(world):
    form = step3(world)
    assert form.is_valid(), form.errors


def test_step3_shows_defaults_and_ranges(world):
    form = InferenceParametersForm(model=world.model)
    assert form.fields["batch_size"].initial == 8
    assert form.fields["image_size"].initial == world.model.input_size
    assert form.fields["batch_size"].help_text == "Default 8; allowed 1 – 256."
    assert form.fields["image_size"].help_text == "Default 640; allowed 32 – 4096."
    assert [value for value, _name in form.fields["device"].choices] == ["any-gpu", "cpu"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("batch_size", "0", "Enter a whole number from 1 to 256."),
        ("batch_size", "257", "Enter a whole number from 1 to 256."),
        ("batch_size", "2.5", "Enter a whole number from 1 to 256."),
        ("image_size", "16", "Enter a whole number from 32 to 4096."),
        ("iou_threshold", "0", "The IoU threshold must be above 0 and at most 1."),
        ("iou_threshold", "1.1", "Must be at most 1."),
        ("iou_threshold", "x", "Enter a number between 0 and 1."),
        ("low_overlap_threshold", "1.5", "Must be at most 1."),
        (
            "low_overlap_threshold",
            "0.4",
            "The low-overlap threshold must be at least the IoU threshold (0.5).",
        ),
    ],
)
def test_step3_refuses_values_out_of_range(world, field, value, message):
    assert errors(step3(world, **{field: value}))[field] == [message]


def test_step3_refuses_a_device_that_went_away(world):
    messages = errors(step3(world, device="host-1/cuda:0"))["device"]
    assert messages == ["The device “host-1/cuda:0” is no longer available; choose another one."]


def test_step3_accepts_a_live_gpu_and_refuses_it_once_its_heartbeat_stops(
    world, settings, redis_server
):
    import redis

    from validation.runs import devices

    settings.REDIS_URL = redis_server
    connection = redis.Redis.from_url(redis_server)
    info = devices.DeviceInfo(
        key="host-1/cuda:0",
        host="host-1",
        kind="cuda",
        index=0,
        name="H100",
        memory_total=80 * 2**30,
        memory_free=70 * 2**30,
        busy=False,
        last_seen=0.0,
    )
    devices.publish(info, connection)
    try:
        form = step3(world, device="host-1/cuda:0")
        assert form.is_valid(), form.errors
        devices.withdraw(info.key, connection)
        assert "no longer available" in errors(step3(world, device="host-1/cuda:0"))["device"][0]
    finally:
        devices.withdraw(info.key, connection)


# ---------------------------------------------------------------- all steps, for the command line


def settings_dict(world, **changes) -> dict:
    return {
        "process": world.process.pk,
        "model": world.model.pk,
        "project": world.project.pk,
        "base_confidence": 0.3,
        "label_confidences": {"scratch": 0.5},
        "device": "cpu",
        **changes,
    }


def test_validate_run_settings_returns_clean_values_with_defaults(world):
    cleaned, found = validate_run_settings(settings_dict(world), world.owner)
    assert found == {}
    assert cleaned["model"] == world.model
    assert cleaned["project"] == world.project
    assert cleaned["label_confidences"] == {"scratch": 0.5}
    assert cleaned["batch_size"] == 8
    assert cleaned["image_size"] == world.model.input_size
    assert cleaned["iou_threshold"] == 0.5
    assert cleaned["low_overlap_threshold"] == 0.5
    assert "tab" not in cleaned and "submission_token" not in cleaned


def test_validate_run_settings_reports_errors_of_every_step_by_field(world):
    data = settings_dict(
        world,
        project=world.no_validation_project.pk,
        base_confidence=2,
        batch_size=0,
        low_overlap_threshold=0.2,
    )
    cleaned, found = validate_run_settings(data, world.owner)
    assert cleaned is None
    assert set(found) == {"project", "base_confidence", "batch_size", "low_overlap_threshold"}


def test_validate_run_settings_checks_labels_once_the_model_is_known(world):
    data = settings_dict(world, label_confidences={"rust": 0.5})
    _cleaned, found = validate_run_settings(data, world.owner)
    assert found["label_confidences"] == [
        "Line 1: Unknown label “rust”: it is neither a model label nor a project label."
    ]


def test_validate_run_settings_accepts_json_text_for_label_confidences(world):
    data = settings_dict(world, label_confidences='{"dent": 0.9}')
    cleaned, _found = validate_run_settings(data, world.owner)
    assert cleaned["label_confidences"] == {"dent": 0.9}


# ---------------------------------------------------------------- odd numbers and names (issue 14)


@pytest.mark.parametrize(
    "literal", ["1" + "0" * 399, "1" * 5000, "0." + "1" * 400, "1" * 400 + "e2"]
)
def test_step2_refuses_a_number_of_too_many_digits_on_its_line(literal):
    messages = errors(step2(base="0", source=f'{{\n"dent": {literal}\n}}'))["label_confidences"]
    assert len(messages) == 1
    assert messages[0].startswith("Line 2: The confidence of “dent” must be a number")
    assert "more than 30 digits" in messages[0]


def test_step2_refuses_an_overflowing_number_as_not_finite():
    messages = errors(step2(base="0", source='{"dent": 1e400}'))["label_confidences"]
    assert messages == ["Line 1: The confidence of “dent” must be a finite number between 0 and 1."]


def test_step2_refuses_a_lone_surrogate_in_a_label_name_escaped():
    messages = errors(step2(source='{"\\ud800": 0.5}'))["label_confidences"]
    assert messages == [
        "Line 1: The label name “\\ud800” contains a lone surrogate (\\ud800), "
        "which is not valid text."
    ]
    messages[0].encode("utf-8")


@pytest.mark.parametrize("name", ["a\\u0000b", "a\\nb"])
def test_step2_refuses_control_characters_in_a_label_name(name):
    messages = errors(step2(source=f'{{"{name}": 0.5}}'))["label_confidences"]
    assert "contains a control character" in messages[0]


def test_step2_accepts_a_leading_bom():
    form = step2(source='\ufeff{"dent": 0.5}')
    assert form.is_valid(), form.errors
    assert form.cleaned_data["label_confidences"] == {"dent": 0.5}


@pytest.mark.parametrize("tab", ["source", "builder"])
def test_minus_zero_is_zero_in_both_tabs(tab):
    if tab == "builder":
        data = QueryDict("base_confidence=-0&tab=builder&lc_label=dent&lc_value=-0")
        form = ConfidenceForm(data, labels=LABELS)
    else:
        form = step2(base="-0", source='{"dent": -0}')
    assert form.is_valid(), form.errors
    assert form.cleaned_data["base_confidence"] == 0.0
    assert form.cleaned_data["label_confidences"] == {"dent": 0.0}


def test_a_decimal_comma_is_read_in_the_base_confidence_as_in_the_builder():
    data = QueryDict("base_confidence=0,25&tab=builder&lc_label=dent&lc_value=0,5")
    form = ConfidenceForm(data, labels=LABELS)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["base_confidence"] == 0.25
    assert form.cleaned_data["label_confidences"] == {"dent": 0.5}


def test_step2_builder_refuses_a_number_of_too_many_digits_next_to_its_row():
    data = QueryDict("base_confidence=0&tab=builder&lc_label=dent&lc_value=" + "9" * 400)
    form = ConfidenceForm(data, labels=LABELS)
    assert not form.is_valid()
    assert "more than 30 digits" in form.row_errors[0][0]


def test_step2_refuses_a_huge_base_confidence_with_the_digit_limit():
    assert "more than 30 digits" in errors(step2(base="9" * 400))["base_confidence"][0]


def test_source_to_rows_keeps_a_too_long_number_as_its_text_for_the_builder_to_refuse():
    assert source_to_rows('{"dent": ' + "9" * 40 + "}") == [("dent", "9" * 40)]


def test_validate_refuses_a_label_given_twice_in_one_line_with_exit_2(world):
    args = ["--model", world.model.name, "--project", world.project.name, "--user", "owner"]
    args += ["--label-conf", "dent=0.5", "--label-conf", "dent=0.6"]
    with pytest.raises(CommandError) as refused:
        call_command("validate", *args)
    assert refused.value.returncode == 2
    assert str(refused.value) == "--label-conf 'dent=0.6': “dent” is given twice."


def test_validate_refuses_a_label_confidence_of_too_many_digits_with_exit_2(world):
    args = ["--model", world.model.name, "--project", world.project.name, "--user", "owner"]
    with pytest.raises(CommandError) as refused:
        call_command("validate", *args, "--label-conf", "dent=" + "1" * 5000)
    assert refused.value.returncode == 2
    assert "\n" not in str(refused.value) and "more than 30 digits" in str(refused.value)


# ---------------------------------------------------------------- what-if reads numbers alike


def whatif_form(query: str) -> WhatIfForm:
    return WhatIfForm(QueryDict(query), labels=LABELS)


def test_whatif_reads_minus_zero_and_a_decimal_comma_as_the_wizard_does():
    form = whatif_form("wi_base=-0&wi_iou=0,5&wi_low=0,6&wi_lc.dent=-0&wi_lc=scratch:0,7")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["wi_base"] == 0.0
    assert form.cleaned_data["label_confidences"] == {"dent": 0.0, "scratch": 0.7}
    assert form.cleaned_data["wi_iou"] == 0.5


@pytest.mark.parametrize("field", ["wi_base", "wi_iou", "wi_low"])
def test_whatif_refuses_a_number_of_too_many_digits_beside_its_field(field):
    query = {"wi_base": "0.2", "wi_iou": "0.5", "wi_low": "0.5", field: "9" * 5000}
    form = WhatIfForm(query, labels=LABELS)
    assert not form.is_valid()
    assert "more than 30 digits" in form.errors[field][0]


def test_whatif_refuses_a_label_confidence_of_too_many_digits_beside_its_label():
    form = whatif_form("wi_base=0.2&wi_iou=0.5&wi_low=0.5&wi_lc.dent=" + "9" * 400)
    assert not form.is_valid()
    assert "more than 30 digits" in form.label_errors["dent"][0]
