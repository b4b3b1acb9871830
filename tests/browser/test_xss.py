"""Names carrying script, opened in Chromium: no script of theirs runs, on no page or fragment."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.hardening.xss_world import admin_pages, build_xss_world, pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _watch(page) -> list[str]:
    """Every dialog (alert, confirm) the page opens, dismissed and recorded."""
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return dialogs


def _no_script_ran(page, where: str, dialogs: list[str]) -> None:
    page.wait_for_load_state("load")
    page.wait_for_timeout(150)  # an onerror/onload handler fires right after the load
    assert page.evaluate("window.__xss") is None, where
    assert dialogs == [], where


def test_no_injected_script_runs_on_any_page(page, live_server, owner, member):
    xss = build_xss_world(owner, member)
    dialogs = _watch(page)
    log_in(page, live_server, "owner", "owner-pass-123")
    for what, url in pages(xss).items():
        page.goto(live_server.url + url)
        _no_script_ran(page, what, dialogs)


def test_no_injected_script_runs_in_swapped_fragments(page, live_server, owner, member):
    """The drill-down and the full-screen view come in through htmx and fetch()."""
    xss = build_xss_world(owner, member)
    dialogs = _watch(page)
    log_in(page, live_server, "owner", "owner-pass-123")
    page.goto(live_server.url + pages(xss)["run (matrix)"])
    cell = f"{xss.instance.row}-{xss.instance.col}"
    page.click(f"#run-matrix a.cell-link[data-cell='{cell}']")
    expect(page.locator("#run-instances img").first).to_be_visible()
    _no_script_ran(page, "drill-down", dialogs)

    page.goto(live_server.url + pages(xss)["editor"])
    expect(page.locator("#editor-config")).to_be_attached()
    page.wait_for_timeout(300)  # the editor builds its label list and boxes from the JSON
    _no_script_ran(page, "editor", dialogs)


def test_no_injected_script_runs_in_the_admin(page, live_server, owner, member, django_user_model):
    xss = build_xss_world(owner, member)
    django_user_model.objects.create_superuser("root", password="root-pass-123")
    dialogs = _watch(page)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "root-pass-123")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    for what, url in admin_pages(xss).items():
        page.goto(live_server.url + url)
        _no_script_ran(page, what, dialogs)
