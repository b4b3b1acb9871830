"""The confusion matrix of a run with many labels: the page grows with the filled cells only."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.validation.run_world import World, make_completed_run
from validation.models import InferenceRun

pytestmark = pytest.mark.django_db
MEGABYTE = 1_000_000


def many_label_run(world: World, labels: int, seed: int = 0) -> InferenceRun:
    """A completed run: each label found on the diagonal, confused with 5 others, BG and LOC."""
    run = make_completed_run(world.project, world.model, world.owner)
    rng = np.random.default_rng(seed)
    n = labels
    matrix = np.zeros((n + 1, n + 2), dtype=int)
    for r in range(n):
        matrix[r, r] = rng.integers(5, 50)
        matrix[r, rng.choice(n, 5, replace=False)] += rng.integers(1, 4, 5)
        matrix[r, n] = rng.integers(1, 5)
        matrix[r, n + 1] = rng.integers(1, 3)
    matrix[n, :n] = rng.integers(0, 6, n)
    run.labels = [f"label-{i:03d}" for i in range(n)]
    run.matrix = matrix.tolist()
    run.per_label = {
        name: {"precision": 0.5, "recall": 0.5, "f1": 0.5, "annotations": 9, "predictions": 9}
        for name in run.labels
    }
    run.save()
    return run


def matrix_rows(html: str) -> list[str]:
    body = html.split('<section id="run-matrix"')[1].split("<tbody>")[1].split("</tbody>")[0]
    return body.split("</tr>")[:-1]


def page(client, world: World, run: InferenceRun, **query) -> str:
    client.force_login(world.member)
    response = client.get(run.get_absolute_url(), query)
    assert response.status_code == 200
    return response.content.decode()


def test_a_300_label_run_page_is_well_under_a_megabyte(client, world):
    run = many_label_run(world, 300)

    html = page(client, world, run)

    assert len(html.encode()) < 0.7 * MEGABYTE  # 6.4 MB when every empty cell had its <td>


def test_the_page_grows_with_the_filled_cells_not_the_square_of_the_labels(client, world):
    small = len(page(client, world, many_label_run(world, 100)).encode())
    large = len(page(client, world, many_label_run(world, 300)).encode())

    assert large < 3.5 * small  # 3× the labels and filled cells; the square would be 9×


def test_every_row_still_spans_every_column_and_links_each_filled_cell(client, world):
    run = many_label_run(world, 300)
    n = len(run.labels)

    rows = matrix_rows(page(client, world, run))

    assert len(rows) == n + 1
    for r, row in enumerate(rows):
        cells = re.findall(r'<td(?: colspan="(\d+)")?(?: class="([^"]*)")?[ >]', row)
        assert sum(int(span or 1) for span, classes in cells if classes != "total") == n + 2
        filled = [c for c, count in enumerate(run.matrix[r]) if count]
        linked = [int(c) for c in re.findall(rf'data-cell="{r}-(\d+)"', row)]
        assert linked == filled
        for c in filled:
            assert f'data-cell="{r}-{c}">{run.matrix[r][c]}</a>' in row


def test_empty_cells_of_a_large_matrix_are_blank_but_the_diagonal_shows_its_zero(client, world):
    run = many_label_run(world, 300)
    run.matrix[7][7] = 0  # a label never found
    run.save()

    rows = matrix_rows(page(client, world, run))

    assert re.search(r'<td class="diag"[^>]*><span class="zero">0</span></td>', rows[7])
    assert "".join(rows).count('<span class="zero">') == 1
    assert len(re.findall(r'<td class="diag[ "]', "".join(rows))) == len(run.labels)


def test_an_empty_cell_chosen_in_the_url_is_marked_selected(client, world):
    run = many_label_run(world, 60)
    empty = next(c for c, count in enumerate(run.matrix[3]) if not count and c != 3)

    rows = matrix_rows(page(client, world, run, cell=f"3-{empty}"))

    assert re.search(r'<td class="selected"[^>]*><span class="zero">0</span></td>', rows[3])


def test_a_small_matrix_keeps_every_cell(client, world):
    run = many_label_run(world, 20)

    rows = matrix_rows(page(client, world, run))

    assert "colspan" not in "".join(rows)
    assert all(len(re.findall(r"<td[ >]", row)) == len(run.labels) + 3 for row in rows)
