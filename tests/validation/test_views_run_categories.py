"""The category overview's F1 (SPEC §5): 0 for a label never predicted, shown as a number."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.clients import HTMX
from tests.validation.export_world import make_known_run, make_run_without_predictions

pytestmark = pytest.mark.django_db


def cells(html: str, row: str) -> list[str]:
    """Precision, recall, F1, AP50, AP50-95, annotations, predictions of one table row."""
    after = html.split(f'<th scope="row">{row}</th>')[1].split("</tr>")[0]
    return re.findall(r'<td class="num">([^<]*)</td>', after)


def categories(client, run) -> str:
    url = reverse("validation:run-categories", args=[run.pk])
    return client.get(url, **HTMX).content.decode()


def test_never_predicted_and_never_annotated_labels_show_f1_zero(member_client, world):
    run = make_known_run(world.project, world.model, world.owner)
    html = categories(member_client, run)
    assert cells(html, "crack")[:3] == ["—", "0.000", "0.000"]  # annotations, no prediction
    assert cells(html, "划痕")[:3] == ["0.000", "—", "0.000"]  # predictions, no annotation


def test_macro_f1_counts_the_zeros_and_stays_below_micro(member_client, world):
    run = make_known_run(world.project, world.model, world.owner)
    html = categories(member_client, run)
    # Precision and recall macro-average the defined values; F1 all four labels.
    assert cells(html, "Macro average")[:3] == ["0.333", "0.222", "0.200"]
    assert cells(html, "All labels (micro)")[:3] == ["0.333", "0.222", "0.267"]


def test_a_run_that_predicts_nothing_shows_f1_zero(member_client, world):
    run = make_run_without_predictions(world.project, world.model, world.owner)
    page = member_client.get(run.get_absolute_url()).content.decode()
    f1_tile = page.split("F1 score</span>")[1].split("</div>")[0]
    assert '<span class="tile-value">0.000</span>' in f1_tile
    html = categories(member_client, run)
    assert cells(html, "All labels (micro)")[:3] == ["—", "0.000", "0.000"]
    assert cells(html, "划痕")[:3] == ["—", "—", "—"]  # neither: undefined


def test_run_list_shows_f1_zero_of_a_run_that_predicts_nothing(member_client, world):
    run = make_run_without_predictions(world.project, world.model, world.owner)
    html = member_client.get(reverse("validation:run-list")).content.decode()
    row = html.split(f'href="{run.get_absolute_url()}"', 1)[1].split("</tr>")[0]
    assert '<td class="num">0.000</td>' in row


def test_the_overview_says_how_f1_treats_labels_never_predicted(member_client, world):
    run = make_known_run(world.project, world.model, world.owner)
    assert "0 for a label never predicted or never annotated" in categories(member_client, run)
