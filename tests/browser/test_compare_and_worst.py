"""Compare two runs and worst images first, in a real browser, in English and Chinese."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.validation.compare_world import B_PREDICTIONS, evaluated_run, model_b, run_pair
from validation.analysis import comparison as cmp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_for_images(page, selector: str) -> None:
    """Every image under the selector was served and decoded (crops and thumbnails)."""
    page.locator(selector).last.scroll_into_view_if_needed()
    page.wait_for_function(
        f"[...document.querySelectorAll({selector!r})]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )


def in_chinese(page, live_server) -> None:
    page.context.add_cookies(
        [{"name": "django_language", "value": "zh-hans", "url": live_server.url}]
    )


def test_compare_picks_a_run_and_drills_into_changes(page, live_server, world, screenshot_dir):
    a, b = run_pair(world)
    log_in(page, live_server, "owner", "owner-pass-123")
    page.goto(f"{live_server.url}{reverse('validation:run-compare')}?a={a.pk}")
    page.click(f".compare-picker a[href$='b={b.pk}']")
    expect(page).to_have_url(re.compile(rf"\?a={a.pk}&b={b.pk}$"))
    expect(page.locator("[data-metric=f1] .delta")).to_have_class(re.compile("delta-worse"))

    page.click("a[data-group=tp-missed]")
    expect(page).to_have_url(re.compile(r"[?&]group=tp-missed(&|$)"))
    cards = page.locator("#compare-instances .change-card")
    expect(cards).to_have_count(1)
    expect(cards.first.locator(".state-tp")).to_have_count(1)
    expect(cards.first.locator(".state-missed")).to_have_count(1)
    expect(page.locator("h1")).to_contain_text(f"#{a.pk}")  # no reload: still the same page
    wait_for_images(page, "#compare-instances img")
    page.screenshot(path=screenshot_dir / "compare.png", full_page=True)

    labels = cmp.union_labels(a.labels, b.labels)
    s, m = labels.index("scratch"), len(labels)
    page.click(f"a.diff-link[data-cell='{labels.index('dent')}-{m}']")  # a new false alarm
    expect(page).to_have_url(re.compile(rf"[?&]cell={labels.index('dent')}-{m}(&|$)"))
    expect(cards).to_have_count(1)
    expect(cards.first.locator(".state-background")).to_have_count(1)
    expect(cards.first.locator(".state-none")).to_have_count(1)

    page.click(f"a.diff-link[data-cell='{s}-{s}']")
    expect(page.locator("#compare-matrix td.selected a")).to_have_attribute("data-cell", f"{s}-{s}")
    expect(page.locator(".change-tabs a[aria-current]")).to_contain_text(f"#{a.pk}")
    page.click(".change-tabs a[data-side=b]")
    expect(page.locator("#compare-instances")).to_contain_text("Nothing changed here.")
    page.click(".change-tabs a[data-side=a]")
    expect(cards).to_have_count(1)
    wait_for_images(page, "#compare-instances img")
    page.screenshot(path=screenshot_dir / "compare-cell.png", full_page=True)

    page.go_back()
    page.go_back()
    expect(page).to_have_url(re.compile(rf"[?&]cell={s}-{s}(&|$)"))
    expect(page.locator("#compare-instances .change-tabs a[aria-current]")).to_contain_text(
        f"#{a.pk}"
    )

    with page.expect_navigation():
        cards.first.locator("a.fullscreen-link").click()
    expect(page.locator("svg.image-svg .box.annotation")).to_have_count(3)


def test_worst_images_filter_and_full_screen(page, live_server, world, screenshot_dir):
    run = evaluated_run(world, model_b(world), B_PREDICTIONS)
    log_in(page, live_server, "owner", "owner-pass-123")
    page.goto(f"{live_server.url}{reverse('validation:worst-images', args=[run.pk])}")
    tiles = page.locator("#worst-gallery .worst-image")
    expect(tiles).to_have_count(3)
    expect(tiles.first).to_have_attribute("data-errors", "3")
    expect(tiles.first.locator(".image-name")).to_have_text("图像_01.png")
    wait_for_images(page, "#worst-gallery img")
    page.screenshot(path=screenshot_dir / "worst-images.png", full_page=True)

    page.uncheck("input[name=kind][value=missed]")
    expect(page).to_have_url(re.compile(r"kind=false_alarm"))
    expect(page).not_to_have_url(re.compile(r"kind=missed"))
    expect(tiles).to_have_count(2)  # image 2 had only a missed crack
    expect(tiles.first.locator("[data-kind=missed]")).to_have_count(0)
    expect(tiles.first).to_have_attribute("data-errors", "2")

    page.select_option("select[name=label]", label="dent")
    expect(page).to_have_url(re.compile(rf"label={run.labels.index('dent')}"))
    expect(tiles).to_have_count(1)
    wait_for_images(page, "#worst-gallery img")
    page.screenshot(path=screenshot_dir / "worst-images-filtered.png", full_page=True)

    with page.expect_navigation():
        tiles.first.locator("a.fullscreen-link").click()
    expect(page.locator("svg.image-svg image")).to_have_count(1)
    expect(page.locator("svg.image-svg .box.prediction")).to_have_count(3)
    page.go_back()
    expect(tiles).to_have_count(1)
    editor = tiles.first.locator("a.editor-link")
    expect(editor).to_have_attribute("href", re.compile(rf"/edit/\?run={run.pk}$"))


def test_both_pages_in_chinese(page, live_server, world, screenshot_dir):
    from django.utils import translation
    from django.utils.translation import gettext

    a, b = run_pair(world)
    in_chinese(page, live_server)
    log_in(page, live_server, "owner", "owner-pass-123")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    with translation.override("zh-hans"):
        metrics, full_screen = gettext("Metrics"), gettext("Full screen")
    page.goto(f"{live_server.url}{reverse('validation:run-compare')}?a={a.pk}&b={b.pk}")
    expect(page.locator("main")).to_contain_text(metrics)
    page.click("a[data-group=missed-tp]")
    expect(page.locator("#compare-instances .change-card")).to_have_count(2)
    wait_for_images(page, "#compare-instances img")
    page.screenshot(path=screenshot_dir / "compare-zh.png", full_page=True)

    page.goto(f"{live_server.url}{reverse('validation:worst-images', args=[b.pk])}")
    expect(page.locator("#worst-gallery .worst-image")).to_have_count(3)
    expect(page.locator("#worst-gallery .fullscreen-link").first).to_have_text(full_screen)
    wait_for_images(page, "#worst-gallery img")
    page.screenshot(path=screenshot_dir / "worst-images-zh.png", full_page=True)
