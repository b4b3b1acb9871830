"""What-if, curves and recommended confidences in a real browser, in English and Chinese."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.validation.run_world import make_five_per_image_run
from validation.analysis import whatif
from validation.models import InferenceRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def evaluated_run(world) -> InferenceRun:
    whatif.clear_cache()
    return make_five_per_image_run(world.project, world.model, world.owner)


def test_whatif_recomputes_without_a_reload_and_saves_a_new_run(
    page, live_server, world, evaluated_run, screenshot_dir
):
    run = evaluated_run
    n = len(run.labels)
    log_in(page, live_server, "owner", "owner-pass-123")
    page.goto(f"{live_server.url}{run.get_absolute_url()}?open=whatif,details")
    matrix = page.locator("#run-matrix table.matrix")
    # Saved run: the dent predicted on the scratch row is counted in cell scratch/dent.
    expect(matrix.locator("a.cell-link[data-cell='0-1']")).to_have_text("3")
    expect(page.locator("#run-matrix .whatif-banner")).to_have_count(0)
    page.evaluate("window.__sameDocument = true")

    page.fill("#wi-base", "0.85")  # only the 0.95 scratch predictions stay
    expect(page.locator("#run-matrix .whatif-banner")).to_be_visible()
    expect(matrix.locator("td:has(a.cell-link[data-cell='0-0']) .delta")).to_have_count(0)
    expect(page.locator("#run-matrix td .delta-worse").first).to_be_visible()  # more missed
    expect(matrix.locator(f"a.cell-link[data-cell='{n}-1']")).to_have_text("3")  # dents missed
    expect(page).to_have_url(re.compile(r"[?&]wi_base=0\.85(&|$)"))
    assert page.evaluate("window.__sameDocument") is True  # no page load happened
    expect(page.locator("#whatif-status .whatif-headline")).to_contain_text("+")

    matrix.locator(f"a.cell-link[data-cell='{n}-1']").click()
    expect(page).to_have_url(re.compile(rf"[?&]cell={n}-1(&|$)"))
    cards = page.locator("#run-instances .instance")
    expect(cards).to_have_count(3)
    expect(cards.first.locator(".kind")).to_have_text("missed")
    page.locator("#run-instances img").last.scroll_into_view_if_needed()
    page.wait_for_function(
        "[...document.querySelectorAll('#run-instances img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    assert page.evaluate("window.__sameDocument") is True

    page.click("details.whatif-labels > summary")
    page.fill("#wi-lc-1", "0.1")  # below the base: refused next to the "dent" input
    expect(page.locator("#wi-err-lc-1")).to_contain_text("below the base confidence")
    expect(page.locator("#whatif-status .form-error")).to_be_visible()
    page.fill("#wi-lc-1", "")
    expect(page.locator("#wi-err-lc-1")).to_be_empty()
    expect(page.locator("#whatif-status .whatif-headline")).to_be_visible()
    page.locator("#whatif-form").scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "whatif.png", full_page=True)

    page.go_back()  # Back returns to the previous what-if state, the URL says which
    expect(page).to_have_url(re.compile(r"wi_lc=dent%3A0\.1|wi_lc\.dent=0\.1|cell="))
    page.go_forward()

    page.locator("#whatif-status button.primary").click()
    expect(page.locator(".derived-note")).to_contain_text(f"run #{run.pk}")
    new = InferenceRun.objects.get(derived_from=run)
    expect(page).to_have_url(re.compile(rf"/runs/{new.pk}/(\?open=[a-z,]*)?$"))
    expect(page.locator("h1")).to_contain_text(f"#{new.pk}")
    assert new.base_confidence == 0.85
    run.refresh_from_db()
    assert run.base_confidence == 0.25


def test_curves_show_values_on_hover_and_fill_the_wizard(
    page, live_server, world, evaluated_run, screenshot_dir
):
    run = evaluated_run
    log_in(page, live_server, "owner", "owner-pass-123")
    page.goto(f"{live_server.url}{run.get_absolute_url()}")
    page.click("details[data-section=curves] > summary")
    expect(page).to_have_url(re.compile(r"open=[^&]*curves"))
    cards = page.locator("#run-curves .curve-card")
    expect(cards).to_have_count(len(run.labels))
    scratch = page.locator("#run-curves .curve-card[data-label=scratch]")
    expect(scratch.locator("svg")).to_have_count(2)
    point = scratch.locator("svg.f1-chart circle.op")
    point.hover()
    expect(point.locator("title")).to_contain_text("operating point · confidence 0.25")
    expect(scratch.locator("svg.pr-chart circle.pt title").first).to_contain_text("precision")

    table = page.locator("#run-recommended")
    # scratch: 0.95 always right, 0.80 on a dent; precision 1 needs 0.95, 0.5 allows 0.80.
    expect(table.locator("tr[data-label=scratch] td[data-basis=precision]")).to_have_text("0.94")
    expect(table.locator("tr[data-label=dent]")).to_contain_text("not reachable")
    page.fill("#min-precision", "0.5")
    expect(table.locator("tr[data-label=scratch] td[data-basis=precision]")).to_have_text("0.8")
    page.fill("#min-precision", "2")
    expect(table.locator(".errorlist")).to_contain_text("between 0 and 1")
    page.fill("#min-precision", "0.5")
    expect(table.locator(".errorlist")).to_have_count(0)
    page.locator("#run-curves").scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "curves.png", full_page=True)

    table.locator(".recommend-action").first.locator("button").click()
    expect(page).to_have_url(re.compile(r"/runs/new/[\w-]+/step/2/$"))
    expect(page.locator("#id_base_confidence")).to_have_value(re.compile(r"^0\.\d+$"))


def test_whatif_and_curves_in_chinese(page, live_server, world, evaluated_run, screenshot_dir):
    run = evaluated_run
    log_in(page, live_server, "owner", "owner-pass-123")
    page.context.add_cookies(
        [{"name": "django_language", "value": "zh-hans", "url": live_server.url}]
    )
    n = len(run.labels)
    page.goto(
        f"{live_server.url}{run.get_absolute_url()}"
        f"?open=whatif,details&wi_base=0.5&wi_iou=0.3&wi_low=0.5&cell=0-{n}"
    )
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("#run-matrix .whatif-banner")).to_be_visible()
    page.locator("#whatif-form").scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "whatif-zh.png", full_page=True)
    page.click("details[data-section=curves] > summary")
    expect(page.locator("#run-curves .curve-card")).to_have_count(n)
    page.locator("#run-curves").scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "curves-zh.png", full_page=True)
