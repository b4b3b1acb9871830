"""The wizard: three steps, each validated on the server, values kept between steps."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests.clients import HTMX
from tests.validation.device_world import publish_device
from validation.models import InferenceRun
from validation.views import wizard_state

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_redis")]
LEGACY = {n: reverse(f"validation:wizard-step{n}") for n in (1, 2, 3)}  # id-less: the newest


def start_wizard(client) -> dict[int, str]:
    """The + button: a new wizard; its three step URLs."""
    response = client.get(reverse("validation:wizard-start"))
    assert response.status_code == 302
    wizard = response.url.split("/")[-4]
    return {n: reverse(f"validation:wizard-step{n}", args=[wizard]) for n in (1, 2, 3)}


@pytest.fixture
def wizard_client(owner_client, world):
    """The owner's client with a new wizard open: its step URLs in `.steps`."""
    owner_client.steps = start_wizard(owner_client)
    return owner_client


def step1_data(world) -> dict:
    return {"process": world.process.pk, "model": world.model.pk, "project": world.project.pk}


def fill_step1(client, world, **changes) -> None:
    response = client.post(client.steps[1], {**step1_data(world), **changes})
    assert response.status_code == 302, response.content.decode()


def fill_step2(client, source='{"scratch": 0.5}', base="0.3") -> None:
    data = {"base_confidence": base, "tab": "source", "label_confidences": source, "action": "next"}
    response = client.post(client.steps[2], data)
    assert response.status_code == 302, response.content.decode()


def step3_data(**changes) -> dict:
    return {
        "device": "cpu",
        "batch_size": "8",
        "image_size": "640",
        "iou_threshold": "0.5",
        "low_overlap_threshold": "0.5",
        "submission_token": "tok-1",
        "action": "start",
        **changes,
    }


# ---------------------------------------------------------------- start and step 1


def test_plus_button_starts_a_fresh_wizard_beside_the_open_one(wizard_client, world):
    fill_step1(wizard_client, world)
    first = wizard_client.steps
    second = start_wizard(wizard_client)
    assert second[1] != first[1]
    assert wizard_state.load(wizard_client.session, 1) == {}  # the newest wizard is empty
    assert 'value="next"' in wizard_client.get(second[1]).content.decode()
    assert wizard_client.get(first[2]).status_code == 200  # the first one is still open


def test_the_session_keeps_the_newest_wizards_only(wizard_client, world):
    fill_step1(wizard_client, world)
    for _ in range(wizard_state.MAX_WIZARDS):
        start_wizard(wizard_client)
    response = wizard_client.get(wizard_client.steps[2])
    html = response.content.decode()
    assert response.status_code == 404
    assert "This wizard is no longer open" in html
    assert reverse("validation:wizard-start") in html


@pytest.mark.parametrize("step", [1, 2, 3])
def test_an_unknown_wizard_id_gets_a_clear_page_never_a_500(wizard_client, step):
    url = reverse(f"validation:wizard-step{step}", args=["no-such-wizard"])
    page = wizard_client.get(url)
    posted = wizard_client.post(url, {"action": "next"}, **HTMX)
    assert page.status_code == 404 and "This wizard is no longer open" in page.content.decode()
    assert posted.status_code == 404
    assert posted.content.decode().lstrip().startswith('<div id="wizard-form"')


@pytest.mark.parametrize("step", [1, 2, 3])
def test_an_id_less_step_url_opens_the_newest_wizard(wizard_client, step):
    response = wizard_client.get(LEGACY[step])
    assert response.status_code == 302
    assert response.url == wizard_client.steps[step]


def test_step1_page_offers_processes_and_marks_unusable_projects(wizard_client, world):
    response = wizard_client.get(wizard_client.steps[1])
    html = response.content.decode()
    assert response.status_code == 200
    assert world.process.name in html
    assert "no-validation (no task is flagged as validation set)" in html
    assert "foreign" not in html  # not a member


def test_step1_valid_goes_to_step2(wizard_client, world):
    response = wizard_client.post(wizard_client.steps[1], step1_data(world))
    assert response.status_code == 302 and response.url == wizard_client.steps[2]


def test_step1_valid_with_htmx_answers_hx_redirect(wizard_client, world):
    response = wizard_client.post(wizard_client.steps[1], step1_data(world), **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == wizard_client.steps[2]


def test_step1_errors_are_422_next_to_the_fields_and_values_kept(wizard_client, world):
    data = {**step1_data(world), "model": world.pending_model.pk}
    response = wizard_client.post(wizard_client.steps[1], data, **HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    assert html.lstrip().startswith('<form id="wizard-form"')
    assert "cannot be used: waiting for its probe" in html
    assert f'value="{world.project.pk}"  selected' in html or "selected" in html
    assert wizard_state.load(wizard_client.session, 1)["model"] == str(world.pending_model.pk)


def test_step1_without_htmx_renders_the_whole_page_with_errors(wizard_client, world):
    response = wizard_client.post(wizard_client.steps[1], {})
    assert response.status_code == 422
    html = response.content.decode()
    assert "<html" in html
    for message in ("Choose a process.", "Choose a model.", "Choose a project."):
        assert message in html


def test_step1_keeps_values_when_coming_back(wizard_client, world):
    fill_step1(wizard_client, world)
    html = wizard_client.get(wizard_client.steps[1]).content.decode()
    assert f'<option value="{world.model.pk}"  selected>' in html
    assert "Validation set: 1 tasks, 3 images, 9 annotations." in html


def test_models_fragment_lists_the_process_models_and_disables_unprobed(wizard_client, world):
    url = reverse("validation:wizard-models")
    html = wizard_client.get(url, {"process": world.process.pk}, **HTMX).content.decode()
    assert html.lstrip().startswith('<div id="wizard-models">')
    assert world.model.name in html
    assert "paint-model" not in html
    assert "disabled" in html and "probe failed: output shape (1, 7) not understood" in html


def test_models_fragment_for_an_unknown_process_is_empty(wizard_client, world):
    url = reverse("validation:wizard-models")
    html = wizard_client.get(url, {"process": "x"}, **HTMX).content.decode()
    assert "<optgroup" in html  # all processes, for use without JavaScript
    assert wizard_client.get(url, {"process": 99999}, **HTMX).status_code == 200


def test_project_summary_fragment_counts_the_validation_set(wizard_client, world):
    url = reverse("validation:wizard-project-summary")
    response = wizard_client.get(url, {"project": world.project.pk}, **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="wizard-project-summary"')
    assert "1 tasks, 3 images, 9 annotations" in html


def test_project_summary_of_someone_elses_project_is_404(wizard_client, world):
    url = reverse("validation:wizard-project-summary")
    assert wizard_client.get(url, {"project": world.foreign_project.pk}).status_code == 404


def test_project_summary_without_a_project_is_empty(wizard_client, world):
    url = reverse("validation:wizard-project-summary")
    response = wizard_client.get(url, {"project": ""})
    assert response.status_code == 200
    assert "tasks" not in response.content.decode()


# ---------------------------------------------------------------- step 2


def test_step2_needs_step1_first(wizard_client):
    response = wizard_client.get(wizard_client.steps[2])
    assert response.status_code == 302 and response.url == wizard_client.steps[1]


def test_step2_shows_the_run_labels_and_the_default_base(wizard_client, world):
    fill_step1(wizard_client, world)
    html = wizard_client.get(wizard_client.steps[2]).content.decode()
    assert 'value="0.25"' in html
    assert "<code>crack</code>" in html  # project-only labels are offered too


def test_step2_label_confidence_below_base_is_refused_naming_the_label(wizard_client, world):
    fill_step1(wizard_client, world)
    data = {
        "base_confidence": "0.5",
        "tab": "builder",
        "lc_label": "scratch",
        "lc_value": "0.3",
        "action": "next",
    }
    response = wizard_client.post(wizard_client.steps[2], data, **HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    assert "The confidence of “scratch” (0.3) is below the base confidence (0.5)" in html
    assert 'name="lc_value" value="0.3"' in html


def test_step2_source_errors_show_line_and_column(wizard_client, world):
    fill_step1(wizard_client, world)
    data = {
        "base_confidence": "0.5",
        "tab": "source",
        "label_confidences": '{\n"dent": }',
        "action": "next",
    }
    response = wizard_client.post(wizard_client.steps[2], data, **HTMX)
    assert response.status_code == 422
    assert "Line 2, column 9: Expecting value" in response.content.decode()


def test_step2_add_row_then_remove_it(wizard_client, world):
    fill_step1(wizard_client, world)
    base = {"base_confidence": "0.4", "tab": "builder"}
    added = wizard_client.post(wizard_client.steps[2], {**base, "add": "1"}, **HTMX)
    assert added.status_code == 200
    assert added.content.decode().count('name="lc_label"') == 1
    data = {**base, "lc_label": ["dent", "scratch"], "lc_value": ["0.5", "0.6"], "remove": "0"}
    html = wizard_client.post(wizard_client.steps[2], data, **HTMX).content.decode()
    assert html.count('name="lc_label"') == 1
    assert 'value="0.6"' in html
    assert 'value="0.4"' in html  # the base is kept


def test_step2_label_picker_offers_each_label_once(wizard_client, world):
    fill_step1(wizard_client, world)
    data = {
        "base_confidence": "0.4",
        "tab": "builder",
        "lc_label": "dent",
        "lc_value": "0.5",
        "add": "1",
    }
    html = wizard_client.post(wizard_client.steps[2], data, **HTMX).content.decode()
    second_row = html.split('name="lc_label"')[2]
    assert '<option value="dent"' not in second_row.split("</select>")[0]


def test_step2_switching_tabs_keeps_the_data(wizard_client, world):
    fill_step1(wizard_client, world)
    data = {
        "base_confidence": "0.4",
        "tab": "builder",
        "lc_label": "划痕",
        "lc_value": "0.7",
        "switch_tab": "source",
    }
    html = wizard_client.post(wizard_client.steps[2], data, **HTMX).content.decode()
    assert "&quot;划痕&quot;: 0.7" in html
    back = {
        "base_confidence": "0.4",
        "tab": "source",
        "label_confidences": '{"划痕": 0.8, "dent": 0.5}',
        "switch_tab": "builder",
    }
    html = wizard_client.post(wizard_client.steps[2], back, **HTMX).content.decode()
    assert 'name="lc_value" value="0.8"' in html and 'name="lc_value" value="0.5"' in html


def test_step2_switching_to_builder_with_broken_json_stays_on_source(wizard_client, world):
    fill_step1(wizard_client, world)
    data = {
        "base_confidence": "0.4",
        "tab": "source",
        "label_confidences": '{"dent": 0.5',
        "switch_tab": "builder",
    }
    html = wizard_client.post(wizard_client.steps[2], data, **HTMX).content.decode()
    assert 'name="label_confidences"' in html
    assert "{&quot;dent&quot;: 0.5" in html
    assert "Line 1, column" in html


def test_step2_back_keeps_what_was_typed_even_if_invalid(wizard_client, world):
    fill_step1(wizard_client, world)
    data = {
        "base_confidence": "7",
        "tab": "source",
        "label_confidences": '{"dent": 0.5}',
        "action": "back",
    }
    response = wizard_client.post(wizard_client.steps[2], data)
    assert response.status_code == 302 and response.url == wizard_client.steps[1]
    html = wizard_client.get(wizard_client.steps[2]).content.decode()
    assert 'value="7"' in html
    assert "{&quot;dent&quot;: 0.5}</textarea>" in html


def test_step2_valid_goes_to_step3(wizard_client, world):
    fill_step1(wizard_client, world)
    fill_step2(wizard_client)
    saved = wizard_state.load(wizard_client.session, 2)
    assert json.loads(saved["label_confidences"]) == {"scratch": 0.5}


# ---------------------------------------------------------------- step 3


def test_step3_needs_the_earlier_steps(wizard_client, world):
    assert wizard_client.get(wizard_client.steps[3]).url == wizard_client.steps[1]
    fill_step1(wizard_client, world)
    assert wizard_client.get(wizard_client.steps[3]).url == wizard_client.steps[2]


def test_step3_shows_defaults_ranges_and_a_fresh_token(wizard_client, world):
    fill_step1(wizard_client, world)
    fill_step2(wizard_client)
    first = wizard_client.get(wizard_client.steps[3])
    html = first.content.decode()
    assert 'name="batch_size" value="8"' in html
    assert 'name="image_size" value="640"' in html
    assert "Default 8; allowed 1 – 256." in html
    assert "Any GPU" in html
    token = first.context["submission_token"]
    assert token and token != wizard_client.get(wizard_client.steps[3]).context["submission_token"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("batch_size", "0", "Enter a whole number from 1 to 256."),
        ("image_size", "99999", "Enter a whole number from 32 to 4096."),
        ("iou_threshold", "0", "The IoU threshold must be above 0 and at most 1."),
        (
            "low_overlap_threshold",
            "0.3",
            "The low-overlap threshold must be at least the IoU threshold (0.5).",
        ),
        (
            "device",
            "gone-host/cuda:3",
            "The device “gone-host/cuda:3” is no longer available; choose another one.",
        ),
    ],
)
def test_step3_errors_are_422_with_values_kept(wizard_client, world, field, value, message):
    fill_step1(wizard_client, world)
    fill_step2(wizard_client)
    response = wizard_client.post(wizard_client.steps[3], step3_data(**{field: value}), **HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    assert message in html
    assert 'name="submission_token" value="tok-1"' in html
    assert not InferenceRun.objects.exists()


def test_step3_queue_unavailable_shows_the_message_and_keeps_the_values(wizard_client, world):
    fill_step1(wizard_client, world)
    fill_step2(wizard_client)
    response = wizard_client.post(wizard_client.steps[3], step3_data(batch_size="16"), **HTMX)
    html = response.content.decode()
    assert response.status_code == 503
    assert 'class="form-error"' in html and "Redis" in html
    assert 'name="batch_size" value="16"' in html
    assert not InferenceRun.objects.exists()


def test_step3_starts_the_run_once_for_a_double_click(wizard_client, world, settings, redis_server):
    settings.REDIS_URL = redis_server
    fill_step1(wizard_client, world)
    fill_step2(wizard_client)
    first = wizard_client.post(wizard_client.steps[3], step3_data(), **HTMX)
    run = InferenceRun.objects.get()
    assert first["HX-Redirect"] == run.get_absolute_url()
    assert run.created_by == world.owner
    assert run.label_threshold_map() == {"scratch": 0.5}
    assert (run.base_confidence, run.batch_size, run.device) == (0.3, 8, "cpu")
    second = wizard_client.post(wizard_client.steps[3], step3_data(), **HTMX)
    assert second["HX-Redirect"] == run.get_absolute_url()
    assert InferenceRun.objects.count() == 1
    assert wizard_state.load(wizard_client.session, 1) == {}  # the wizard was cleared


def test_step3_without_htmx_redirects_to_the_run(wizard_client, world, settings, redis_server):
    settings.REDIS_URL = redis_server
    fill_step1(wizard_client, world)
    fill_step2(wizard_client)
    response = wizard_client.post(wizard_client.steps[3], step3_data())
    assert response.status_code == 302
    assert response.url == InferenceRun.objects.get().get_absolute_url()


def test_step3_back_keeps_the_parameters(wizard_client, world):
    fill_step1(wizard_client, world)
    fill_step2(wizard_client)
    wizard_client.post(wizard_client.steps[3], step3_data(batch_size="32", action="back"))
    assert (
        'name="batch_size" value="32"' in wizard_client.get(wizard_client.steps[3]).content.decode()
    )


def test_another_users_token_does_not_open_their_run(client, world, settings, redis_server):
    settings.REDIS_URL = redis_server
    client.force_login(world.owner)
    client.steps = start_wizard(client)
    fill_step1(client, world)
    fill_step2(client)
    client.post(client.steps[3], step3_data())
    run = InferenceRun.objects.get()
    client.force_login(world.member)
    response = client.post(client.steps[3], step3_data())
    assert response.status_code == 404  # the owner's wizard is not the member's
    assert run.get_absolute_url() not in response.content.decode()
    response = client.post(LEGACY[3], step3_data())
    member_wizard = wizard_state.current(client.session)
    assert response.status_code == 302
    assert response.url == reverse("validation:wizard-step1", args=[member_wizard])
    assert InferenceRun.objects.count() == 1


# ---------------------------------------------------------------- methods and access


@pytest.mark.parametrize("name", ["wizard-start", "wizard-models", "wizard-project-summary"])
def test_get_only_views_refuse_post(wizard_client, name):
    assert wizard_client.post(reverse(f"validation:{name}")).status_code == 405


@pytest.mark.parametrize("step", [1, 2, 3])
def test_steps_refuse_other_methods(wizard_client, step):
    assert wizard_client.put(wizard_client.steps[step]).status_code == 405


@pytest.mark.parametrize("step", [1, 2, 3])
@pytest.mark.parametrize("wizard", [None, "some-wizard-id"])
def test_anonymous_goes_to_login(client, step, wizard):
    url = reverse(f"validation:wizard-step{step}", args=[wizard] if wizard else [])
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


# ---------------------------------------------------------------- devices and image size


@pytest.fixture
def live_redis(settings, redis_server, flush_redis) -> str:
    settings.REDIS_URL = redis_server
    return redis_server


def test_step3_without_a_live_gpu_disables_any_gpu_and_defaults_to_cpu(wizard_client, world):
    fill_step1(wizard_client, world)
    fill_step2(wizard_client)
    html = wizard_client.get(wizard_client.steps[3]).content.decode()
    assert '<option value="any-gpu" disabled>Any GPU (no GPU worker is live)</option>' in html
    assert '<option value="cpu" selected>' in html


def test_step3_with_a_live_gpu_offers_it_and_defaults_to_a_gpu(wizard_client, world, live_redis):
    publish_device(live_redis, "box-1/cuda:0", "cuda")
    publish_device(live_redis, "box-1/cpu", "cpu")
    fill_step1(wizard_client, world)
    fill_step2(wizard_client)
    html = wizard_client.get(wizard_client.steps[3]).content.decode()
    assert '<option value="any-gpu" selected>Any GPU</option>' in html
    assert '<option value="box-1/cuda:0" >box-1/cuda:0 · H100 · idle</option>' in html
    assert "CPU (box-1)" in html


def test_step3_refuses_any_gpu_without_a_live_gpu_worker(wizard_client, world):
    fill_step1(wizard_client, world)
    fill_step2(wizard_client)
    response = wizard_client.post(wizard_client.steps[3], step3_data(device="any-gpu"), **HTMX)
    assert response.status_code == 422
    message = "No live worker serves the queue of “any-gpu”, so the run cannot start. "
    assert message in response.content.decode()
    assert "manage.py inference_worker --device cuda:0" in response.content.decode()
    assert not InferenceRun.objects.exists()


def fix_input_size(model, size: int) -> None:
    """What the probe records for a file whose graph takes one input size only."""
    model.probe_info = {"dynamic_size": False, "fixed_size": size, "fixed_shape": [size, size]}
    model.save(update_fields=["probe_info"])


def test_step3_defaults_to_the_size_the_model_file_fixes(wizard_client, world):
    fix_input_size(world.model, 320)
    fill_step1(wizard_client, world)
    fill_step2(wizard_client)
    html = wizard_client.get(wizard_client.steps[3]).content.decode()
    assert 'name="image_size" value="320"' in html
    assert "The model&#x27;s file fixes its input size: 320 only." in html


def test_step3_refuses_a_size_the_model_file_cannot_take_next_to_the_field(wizard_client, world):
    fix_input_size(world.model, 320)
    fill_step1(wizard_client, world)
    fill_step2(wizard_client)
    response = wizard_client.post(wizard_client.steps[3], step3_data(image_size="640"), **HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    message = "fixes its input size to 320; it cannot run at 640. Enter 320."
    assert message in html.split('name="image_size"')[1].split('class="field"')[0]
    assert not InferenceRun.objects.exists()


def test_step3_drops_a_saved_size_another_model_allowed(wizard_client, world):
    fill_step1(wizard_client, world)
    fill_step2(wizard_client)
    wizard_client.post(wizard_client.steps[3], step3_data(image_size="640", action="back"))
    fix_input_size(world.model, 320)
    html = wizard_client.get(wizard_client.steps[3]).content.decode()
    assert 'name="image_size" value="320"' in html
