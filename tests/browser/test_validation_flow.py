"""The validation pages in a real browser: list, run details, drill-down, wizard, Chinese."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_for_crops(page) -> None:
    """Every crop on the page was served and decoded (they are drawn by the server)."""
    page.locator("#run-instances img").last.scroll_into_view_if_needed()
    page.wait_for_function(
        "[...document.querySelectorAll('#run-instances img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )


def test_drill_down_from_list_to_the_editor_link(
    page, live_server, world, completed_run, screenshot_dir
):
    log_in(page, live_server, "owner", "owner-pass-123")
    expect(page.locator("#run-table")).to_contain_text(world.model.name)
    page.screenshot(path=screenshot_dir / "validation-list.png", full_page=True)

    page.click(f"#run-table a[href='{completed_run.get_absolute_url()}'] >> nth=0")
    expect(page.locator("h1")).to_contain_text(f"#{completed_run.pk}")
    matrix = page.locator("table.matrix")
    expect(matrix.locator("thead th.corner")).to_contain_text("Predicted ↓")
    expect(matrix.locator("thead th.corner")).to_contain_text("Actual →")

    n = len(completed_run.labels)
    bg = matrix.locator(f"a.cell-link[data-cell='1-{n}']")  # "dent" predicted, no annotation
    bg.click()
    expect(page).to_have_url(re.compile(rf"[?&]cell=1-{n}(&|$)"))
    cards = page.locator("#run-instances .instance")
    expect(cards).to_have_count(3)
    expect(page.locator("#run-instances .cell-title")).to_contain_text("BG")

    cards.nth(0).click()
    cards.nth(2).click(modifiers=["Shift"])
    expect(page.locator("#run-instances .instance.selected")).to_have_count(3)
    expect(page.locator("#run-instances .selection-count")).to_have_text("3 selected")
    wait_for_crops(page)
    page.screenshot(path=screenshot_dir / "validation-details.png", full_page=True)

    page.click("#run-instances .fullscreen-button")
    dialog = page.locator("#fullscreen-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("svg.image-svg image")).to_have_count(1)
    expect(dialog.locator("svg .box.annotation")).to_have_count(3)
    expect(dialog.locator("svg .box.prediction.highlight")).to_have_count(1)
    dialog.locator("[data-zoom=in]").click()
    expect(dialog.locator("svg.image-svg")).to_have_attribute("data-zoom", "125")
    page.screenshot(path=screenshot_dir / "validation-fullscreen.png")
    dialog.locator("form[method=dialog] button").click()

    page.click("#run-instances .modify-button")
    modify = page.locator("#modify-dialog")
    expect(modify).to_be_visible()
    titles = modify.locator("a.modify-title")
    expect(titles).to_have_count(3)
    last = completed_run.instances.filter(row=1, col=n).order_by("id").first()
    editor = reverse("projects:image-editor", args=[last.image_id]) + f"?run={completed_run.pk}"
    expect(titles.first).to_have_attribute("href", editor)
    modify.locator("form[method=dialog] button").click()

    page.click("details[data-section=metrics] > summary")
    page.click("details[data-section=categories] > summary")
    expect(page).to_have_url(re.compile(r"open=metrics%2Ccategories%2Cdetails"))
    page.click("#run-categories th a >> text=F1")
    expect(page).to_have_url(re.compile(r"sort=f1"))
    expect(page.locator("#run-categories th[aria-sort=ascending]")).to_contain_text("F1")
    page.locator("details[data-section=metrics]").scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "validation-metrics.png", full_page=True)
    page.reload()
    expect(page.locator("details[data-section=categories]")).to_have_attribute("open", "")


def test_wizard_refuses_a_label_confidence_below_the_base(
    page, live_server, world, settings, screenshot_dir
):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens: the queue is unavailable
    log_in(page, live_server, "owner", "owner-pass-123")
    page.click("a.button.primary")  # + Start new inference
    expect(page).to_have_url(re.compile(r"/runs/new/[\w-]+/step/1/$"))
    with page.expect_response(re.compile(r"/runs/new/models/")):
        page.select_option("#id_process", label=world.process.name)
    expect(page.locator("#id_model option", has_text="pending-model")).to_be_disabled()
    page.select_option("#id_model", label=world.model.name)
    expect(page.locator("#id_project option", has_text="no-validation")).to_be_disabled()
    page.select_option("#id_project", label=world.project.name)
    expect(page.locator("#wizard-project-summary")).to_contain_text("3 images")
    page.screenshot(path=screenshot_dir / "validation-wizard-1.png", full_page=True)
    page.click(".actions button[value=next]")

    expect(page).to_have_url(re.compile(r"/runs/new/[\w-]+/step/2/$"))
    page.fill("#id_base_confidence", "0.5")
    page.click("button[name=add]")
    page.select_option("select[name=lc_label]", "scratch")
    page.fill("input[name=lc_value]", "0.3")
    page.click(".actions button[value=next]")
    error = page.locator(".builder-table .errorlist")
    expect(error).to_contain_text("scratch")
    expect(error).to_contain_text("below the base confidence")
    expect(page).to_have_url(re.compile(r"/runs/new/[\w-]+/step/2/$"))
    page.screenshot(path=screenshot_dir / "validation-wizard-2.png", full_page=True)

    page.click("button[name=switch_tab][value=source]")
    source = page.locator("#id_label_confidences")
    expect(source).to_have_value(re.compile(r'"scratch": 0\.3'))
    source.fill('{\n  "scratch": 0.6\n}')
    page.click("button[name=switch_tab][value=builder]")
    expect(page.locator("input[name=lc_value]")).to_have_value("0.6")
    page.click(".actions button[value=next]")

    expect(page).to_have_url(re.compile(r"/runs/new/[\w-]+/step/3/$"))
    expect(page.locator("#id_batch_size")).to_have_value("8")
    expect(page.locator("#id_image_size")).to_have_value(str(world.model.input_size))
    expect(page.locator(".run-summary")).to_contain_text(world.project.name)
    expect(page.locator(".run-summary")).to_contain_text("scratch: 0.6")
    expect(page.locator("#id_device option[value=any-gpu]")).to_be_disabled()
    page.screenshot(path=screenshot_dir / "validation-wizard-3.png", full_page=True)
    page.click(".actions button[value=start]")
    expect(page.locator("#wizard-form .form-error")).to_contain_text("Redis")
    expect(page.locator("#id_batch_size")).to_have_value("8")

    page.click(".actions button[value=back]")
    expect(page).to_have_url(re.compile(r"/runs/new/[\w-]+/step/2/$"))
    expect(page.locator("#id_base_confidence")).to_have_value("0.5")
    expect(page.locator("input[name=lc_value]")).to_have_value("0.6")


def test_first_steps_in_chinese(page, live_server, world, completed_run, screenshot_dir):
    from django.utils import translation
    from django.utils.translation import gettext

    page.context.add_cookies(
        [{"name": "django_language", "value": "zh-hans", "url": live_server.url}]
    )
    log_in(page, live_server, "owner", "owner-pass-123")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    with translation.override("zh-hans"):
        start, step1, details = (
            gettext("Start new inference"),
            gettext("Choose dataset and model"),
            gettext("Inference details"),
        )
    expect(page.locator("a.button.primary")).to_contain_text(start)
    page.screenshot(path=screenshot_dir / "validation-list-zh.png", full_page=True)
    page.click("a.button.primary")
    expect(page.locator(".stepper")).to_contain_text(step1)
    with page.expect_response(re.compile(r"/runs/new/models/")):
        page.select_option("#id_process", label=world.process.name)
    page.select_option("#id_model", label=world.model.name)
    page.select_option("#id_project", label=world.project.name)
    expect(page.locator("#wizard-project-summary")).to_contain_text("3")
    page.screenshot(path=screenshot_dir / "validation-wizard-1-zh.png", full_page=True)

    n = len(completed_run.labels)
    page.goto(f"{live_server.url}{completed_run.get_absolute_url()}?cell=2-{n}")
    expect(page.locator("details[data-section=details] summary")).to_contain_text(details)
    expect(page.locator("#run-instances .instance")).to_have_count(3)
    wait_for_crops(page)
    page.screenshot(path=screenshot_dir / "validation-details-zh.png", full_page=True)


def test_progress_updates_live_and_the_results_appear_without_a_reload(
    page, live_server, world, completed_run
):
    from validation.models import InferenceRun

    InferenceRun.objects.filter(pk=completed_run.pk).update(
        status=InferenceRun.Status.RUNNING, images_done=1, images_per_second=3.0, seconds_left=2
    )
    log_in(page, live_server, "owner", "owner-pass-123")
    page.goto(f"{live_server.url}{completed_run.get_absolute_url()}")
    expect(page.locator("#run-progress")).to_contain_text("1 / 3")
    page.evaluate("window.notReloaded = true")
    InferenceRun.objects.filter(pk=completed_run.pk).update(images_done=2)
    expect(page.locator("#run-progress")).to_contain_text("2 / 3")
    InferenceRun.objects.filter(pk=completed_run.pk).update(
        status=InferenceRun.Status.COMPLETED, images_done=3
    )
    expect(page.locator("table.matrix")).to_be_visible(timeout=10_000)
    expect(page.locator("#run-progress")).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True


def test_reevaluate_shows_what_a_fixed_annotation_changed(page, live_server, world):
    from projects.models import Annotation, Label
    from tests.validation.run_world import make_five_per_image_run

    run = make_five_per_image_run(world.project, world.model, world.owner)
    log_in(page, live_server, "owner", "owner-pass-123")
    page.goto(f"{live_server.url}{run.get_absolute_url()}")
    expect(page.locator("a.cell-link[data-cell='0-0']")).to_have_text("3")
    image = run.project.validation_images().order_by("id").first()
    Annotation.objects.filter(image=image, label__name="dent").update(
        label=Label.objects.get(project=world.project, name="scratch")
    )  # what the annotation editor saves
    page.click("button:has-text('Re-evaluate')")
    changes = page.locator(".reevaluation")
    expect(changes).to_contain_text("Predicted scratch / actual scratch: 3 → 4")
    expect(changes).to_contain_text("Predicted scratch / actual dent: 3 → 2")
    expect(changes.locator(".changed-cells li")).to_have_count(2)
    expect(page.locator("a.cell-link[data-cell='0-0']")).to_have_text("4")
