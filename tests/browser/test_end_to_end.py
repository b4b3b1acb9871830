"""The whole flow on the demo data, real worker: wizard, run, drill-down, fix, re-evaluate."""

from __future__ import annotations

import re
import time

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from projects.models import Label
from tests.browser.conftest import log_in
from tests.conftest import running_worker
from validation.models import DetectionModel, InferenceRun, Instance

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_portal(worker_env, flush_redis, settings, tmp_path):
    """The demo data (a small validation task), and a real CPU worker that probed the model."""
    settings.VAR_DIR = tmp_path / "var"
    call_command("seed_demo", val_images=30, train_images=2, verbosity=0)
    with running_worker(worker_env):
        deadline = time.monotonic() + 180
        model = DetectionModel.objects.get()
        while model.probe_status == "pending" and time.monotonic() < deadline:
            time.sleep(0.5)
            model.refresh_from_db()
        assert model.probe_status == "passed", model.probe_message
        yield model


def _relabel_target(run: InferenceRun, image_ids: list[int]):
    """An annotation on one of these images that the run found (a true positive)."""
    for image_id in image_ids:
        hit = (
            Instance.objects.filter(run=run, image_id=image_id, kind=Instance.Kind.TRUE_POSITIVE)
            .exclude(annotation=None)
            .select_related("annotation__label")
            .first()
        )
        if hit:
            return image_id, hit
    return None, None


def test_the_whole_flow_on_the_demo_data(page, live_server, demo_portal, screenshot_dir):
    log_in(page, live_server, "demo", "demo-pass-2026")
    page.click("a.button.primary")  # + Start new inference
    with page.expect_response(re.compile(r"/runs/new/models/")):
        page.select_option("#id_process", label="surface inspection")
    page.select_option("#id_model", label="demo detector v1")
    page.select_option("#id_project", label="Metal surfaces (demo)")
    expect(page.locator("#wizard-project-summary")).to_contain_text("30")
    page.click(".actions button[value=next]")
    try:
        expect(page).to_have_url(re.compile(r"/runs/new/[\w-]+/step/2/$"))
    except AssertionError:
        raise AssertionError(page.locator("#wizard-form").inner_text()) from None

    page.fill("#id_base_confidence", "0.1")
    page.click("button[name=add]")
    page.select_option("select[name=lc_label]", "dent")
    page.fill("input[name=lc_value]", "0.05")
    page.click(".actions button[value=next]")
    expect(page.locator(".builder-table .errorlist")).to_contain_text("below the base confidence")
    page.fill("input[name=lc_value]", "0.4")
    page.click(".actions button[value=next]")

    expect(page).to_have_url(re.compile(r"/runs/new/[\w-]+/step/3/$"))
    page.select_option("#id_device", "cpu")
    page.click(".actions button[value=start]")
    expect(page).to_have_url(re.compile(r"/runs/\d+/"))
    expect(page.locator("table.matrix")).to_be_visible(timeout=240_000)
    run = InferenceRun.objects.get()
    assert run.status == "completed", run.error_message
    assert run.label_threshold_map() == {"dent": 0.4}

    n = len(run.labels)
    bg_counts = [(run.matrix[r][n], r) for r in range(n)]
    count, row = max(bg_counts)
    assert count >= 3, run.matrix
    page.click(f"table.matrix a.cell-link[data-cell='{row}-{n}']")
    cards = page.locator("#run-instances .instance")
    expect(cards.first).to_be_visible()
    cards.nth(0).click()
    cards.nth(2).click(modifiers=["Shift"])
    expect(page.locator("#run-instances .instance.selected")).to_have_count(3)

    page.click("#run-instances .fullscreen-button")
    expect(page.locator("#fullscreen-dialog svg.image-svg image")).to_have_count(1)
    page.locator("#fullscreen-dialog form[method=dialog] button").click()

    page.click("#run-instances .modify-button")
    titles = page.locator("#modify-dialog a.modify-title")
    expect(titles).to_have_count(3)
    hrefs = [titles.nth(i).get_attribute("href") for i in range(3)]
    image_ids = [int(re.search(r"/images/(\d+)/edit/", h).group(1)) for h in hrefs]
    image_id, hit = _relabel_target(run, image_ids)
    assert hit is not None, "none of the three images has a found annotation to relabel"
    titles.nth(image_ids.index(image_id)).click()

    expect(page).to_have_url(re.compile(rf"/projects/images/{image_id}/edit/\?run={run.pk}"))
    annotation = hit.annotation
    old_label = annotation.label.name
    new_label = next(name for name in run.labels[:n] if name != old_label)
    order = list(annotation.image.annotations.order_by("id").values_list("id", flat=True))
    page.select_option(f"[data-box-row='{order.index(annotation.pk)}'] select", label=new_label)
    page.click("[data-action=save]")
    expect(page.locator("[data-role=status]")).to_contain_text("Saved")
    annotation.refresh_from_db()
    assert annotation.label == Label.objects.get(project=run.project, name=new_label)

    page.click("[data-role=back-to-run]")
    before = [list(r) for r in run.matrix]
    page.click("form[action$='/reevaluate/'] button")
    expect(page.locator("#run-body")).to_contain_text("Re-evaluated")
    run.refresh_from_db()
    old, new = run.labels.index(old_label), run.labels.index(new_label)
    k = hit.row
    expected = [list(r) for r in before]
    expected[k][old] -= 1
    expected[k][new] += 1  # the same prediction, now a confusion with the corrected label
    assert run.matrix == expected
    expect(page.locator("section#run-review")).to_be_visible()  # loaded by its own request
    page.screenshot(path=screenshot_dir / "validation-reevaluated.png", full_page=True)
