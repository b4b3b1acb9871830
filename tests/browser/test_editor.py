"""The project pages and the annotation editor in a real browser (Debian's Chromium, headless)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFilter
from playwright.sync_api import Page, expect

from projects.editing import save_annotations
from projects.models import Annotation, Image, Label, Project, Task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "editor-pass-123"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
THUMBNAILS_LOADED = (
    "[...document.querySelectorAll('#task-gallery img')].every(i => i.complete && i.naturalWidth)"
)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def metal_image(seed: int, size: tuple[int, int], defects: list[tuple[str, tuple]]) -> bytes:
    """A brushed-metal texture with the given defects painted on, as PNG bytes."""
    rng = np.random.default_rng(seed)
    w, h = size
    grain = rng.normal(0, 1, (h, w)).cumsum(axis=1) * 0.6
    grain -= grain.mean(axis=1, keepdims=True)
    base = 150 + 25 * np.linspace(-1, 1, w)[None, :] + grain + rng.normal(0, 4, (h, w))
    image = PILImage.fromarray(np.clip(base, 0, 255).astype(np.uint8), "L").convert("RGB")
    draw = ImageDraw.Draw(image)
    for kind, (x1, y1, x2, y2) in defects:
        if kind == "划痕":
            draw.line([(x1 + 3, y1 + 3), (x2 - 3, y2 - 3)], fill=(235, 235, 240), width=3)
        elif kind == "凹坑":
            draw.ellipse([x1 + 4, y1 + 4, x2 - 4, y2 - 4], fill=(70, 72, 78))
        else:
            draw.ellipse([x1 + 2, y1 + 6, x2 - 6, y2 - 2], fill=(120, 96, 60))
    out = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(0.6)).save(out, "PNG")
    return out.getvalue()


@dataclass
class EditorWorld:
    project: Project
    task: Task
    image: Image
    labels: dict[str, Label]
    boxes: list[Annotation]


@pytest.fixture
def editor_world(django_user_model) -> EditorWorld:
    """A project with Chinese label and task names, realistic images and a few annotations."""
    user = django_user_model.objects.create_user("inspector", password=PASSWORD)
    project = Project.objects.create(name="表面检测 · 3号线", description="Stamped panels, line 3")
    project.members.add(user)
    Project.objects.create(name="Not mine")
    labels = {
        name: Label.objects.create(project=project, name=name, order=i)
        for i, name in enumerate(["划痕", "凹坑", "污渍", "裂纹"])
    }
    task = Task.objects.create(project=project, name="验证集 2024-06", is_validation=True)
    Task.objects.create(project=project, name="训练集")
    rng = np.random.default_rng(7)
    first = None
    for i in range(9):
        w, h = (800, 500) if i % 3 else (640, 480)
        defects = []
        for kind in ["划痕", "凹坑", "污渍"][: i % 4]:
            x, y = int(rng.integers(20, w - 200)), int(rng.integers(20, h - 160))
            dw, dh = int(rng.integers(60, 180)), int(rng.integers(40, 140))
            defects.append((kind, (x, y, x + dw, y + dh)))
        if i == 0:
            defects = [("划痕", (120, 90, 420, 220)), ("凹坑", (520, 300, 610, 380))]
        image = Image(task=task, name=f"panel-{i:03d}.png", width=w, height=h, checksum=f"{i:064d}")
        image.file.save(image.name, ContentFile(metal_image(i, (w, h), defects)), save=False)
        image.save()
        for kind, (x1, y1, x2, y2) in defects:
            Annotation.objects.create(image=image, label=labels[kind], x1=x1, y1=y1, x2=x2, y2=y2)
        first = first or image
    boxes = list(Annotation.objects.filter(image=first).order_by("id"))
    return EditorWorld(project=project, task=task, image=first, labels=labels, boxes=boxes)


def log_in(page: Page, live_server) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "inspector")
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()


def open_editor(page: Page, live_server, image: Image, query: str = "") -> None:
    page.goto(live_server.url + reverse("projects:image-editor", args=[image.pk]) + query)
    expect(page.locator("[data-layer=boxes] g.box")).to_have_count(
        Annotation.objects.filter(image=image).count()
    )
    page.wait_for_function("document.querySelector('.editor-stage image').getBBox().width > 0")


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, full_page=False)


def drag(page: Page, selector: str, dx: float, dy: float, at: str = "center") -> None:
    """Drag an element's centre (or top-left corner) by dx, dy screen pixels."""
    box = page.locator(selector).bounding_box()
    assert box is not None
    x = box["x"] + (box["width"] / 2 if at == "center" else 0)
    y = box["y"] + (box["height"] / 2 if at == "center" else 0)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y + dy / 2, steps=4)
    page.mouse.move(x + dx, y + dy, steps=4)
    page.mouse.up()


def test_relabel_and_move_a_box_then_save(page: Page, live_server, editor_world):
    first, second = editor_world.boxes
    log_in(page, live_server)

    page.goto(live_server.url + reverse("projects:project-list"))
    expect(page.locator("#project-table")).to_contain_text("表面检测 · 3号线")
    expect(page.locator("#project-table")).not_to_contain_text("Not mine")
    shoot(page, "projects-list.png")
    page.click("#project-table a")
    expect(page.locator("#project-tasks")).to_contain_text("验证集 2024-06")
    shoot(page, "projects-detail.png")
    page.click("#project-tasks a >> text=验证集 2024-06")
    expect(page.locator("#task-gallery img")).to_have_count(9)
    page.wait_for_function(THUMBNAILS_LOADED)
    shoot(page, "projects-task.png")

    page.click(f"#task-gallery a[href$='/images/{editor_world.image.pk}/edit/']")
    expect(page.locator("[data-layer=boxes] g.box")).to_have_count(2)
    page.wait_for_function("document.querySelector('.editor-stage image').getBBox().width > 0")
    page.select_option("[data-box-row='0'] select", label="污渍")
    scale = page.evaluate("document.querySelector('.annotation-editor').editor.scale")
    drag(page, "[data-layer=boxes] g.box[data-index='1'] > rect", -60, -30)
    expect(page.locator("[data-box-row='1']")).to_have_class("box-row selected")
    shoot(page, "editor.png")
    page.click("[data-action=save]")

    expect(page.locator("[data-role=status]")).to_contain_text("Saved")
    relabelled = Annotation.objects.get(pk=first.pk)
    moved = Annotation.objects.get(pk=second.pk)
    assert relabelled.label == editor_world.labels["污渍"]
    assert (relabelled.x1, relabelled.y1, relabelled.x2, relabelled.y2) == (
        first.x1,
        first.y1,
        first.x2,
        first.y2,
    )
    assert relabelled.updated_by.username == "inspector"
    assert moved.label == second.label
    assert moved.x1 - second.x1 == pytest.approx(-60 / scale, abs=0.6)
    assert moved.y1 - second.y1 == pytest.approx(-30 / scale, abs=0.6)
    assert moved.x2 - moved.x1 == pytest.approx(second.x2 - second.x1, abs=0.11)
    assert moved.updated_by.username == "inspector"
    assert Annotation.objects.filter(image=editor_world.image).count() == 2


def test_draw_resize_delete_and_refused_save(page: Page, live_server, editor_world):
    first, second = editor_world.boxes
    log_in(page, live_server)
    open_editor(page, live_server, editor_world.image)

    page.click("[data-action=mode-draw]")
    page.select_option("[data-role=new-label]", label="裂纹")
    stage = page.locator(".editor-stage svg").bounding_box()
    page.mouse.move(stage["x"] + 20, stage["y"] + 300)
    page.mouse.down()
    page.mouse.move(stage["x"] + 90, stage["y"] + 360, steps=5)
    page.mouse.up()
    expect(page.locator("[data-layer=boxes] g.box")).to_have_count(3)
    page.click("[data-action=mode-select]")
    page.click("[data-layer=boxes] g.box[data-index='0'] > rect")
    drag(page, "[data-handle=se]", 25, 15)
    page.click("[data-layer=boxes] g.box[data-index='1'] > rect")
    page.keyboard.press("Delete")
    expect(page.locator("[data-layer=boxes] g.box")).to_have_count(2)
    page.keyboard.press("Control+s")
    expect(page.locator("[data-role=status]")).to_contain_text("Saved")

    rows = list(Annotation.objects.filter(image=editor_world.image).order_by("id"))
    assert [r.pk for r in rows][0] == first.pk
    assert not Annotation.objects.filter(pk=second.pk).exists()
    assert rows[0].x2 > first.x2 and rows[0].y2 > first.y2
    assert rows[1].label == editor_world.labels["裂纹"]
    assert rows[1].x2 - rows[1].x1 > 10

    # A box the server refuses is marked and nothing changes.
    page.evaluate(
        "(() => { const e = document.querySelector('.annotation-editor').editor;"
        " e.boxes[1].label = 999999; e.markDirty(); })()"
    )
    page.click("[data-action=save]")
    expect(page.locator("[data-box-row='1'].has-error")).to_contain_text("label")
    assert list(Annotation.objects.filter(image=editor_world.image).order_by("id")) == rows


def test_a_stale_save_shows_the_message_and_reloads(
    page: Page, live_server, editor_world, django_user_model
):
    first, second = editor_world.boxes
    log_in(page, live_server)
    open_editor(page, live_server, editor_world.image)
    # Meanwhile a colleague, who opened the image too, deletes the first box and saves.
    colleague = django_user_model.objects.create_user("colleague", password=PASSWORD)
    kept = {"id": second.pk, "label": second.label_id, "x1": second.x1, "y1": second.y1}
    kept.update(x2=second.x2, y2=second.y2)
    save_annotations(editor_world.image, {"version": 0, "boxes": [kept]}, colleague)

    drag(page, "[data-layer=boxes] g.box[data-index='1'] > rect", 30, 20)
    page.click("[data-action=save]")

    expect(page.locator("[data-role=status]")).to_contain_text("Someone else saved")
    expect(page.locator("[data-action=reload]")).to_be_visible()
    shoot(page, "editor-stale-save.png")
    assert list(Annotation.objects.filter(image=editor_world.image).values_list("pk", "x1")) == [
        (second.pk, second.x1)
    ]
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-action=reload]")
    expect(page.locator("[data-layer=boxes] g.box")).to_have_count(1)
    expect(page.locator("[data-action=reload]")).to_be_hidden()
    page.click("[data-layer=boxes] g.box[data-index='0'] > rect")
    page.keyboard.press("ArrowRight")
    page.click("[data-action=save]")
    expect(page.locator("[data-role=status]")).to_contain_text("Saved")
    assert Annotation.objects.get(pk=second.pk).x1 == second.x1 + 1


def test_accept_a_run_prediction_as_annotation(page: Page, live_server, editor_world):
    image = editor_world.image
    # The shape validation:image-predictions answers: kept predictions, best score first.
    predictions = [
        {"label": "污渍", "score": 0.91, "box": [300.0, 330.0, 380.0, 400.0], "kind": "background"},
        {"label": "划痕", "score": 0.62, "box": [118, 92, 425, 215], "kind": "true_positive"},
        {"label": "not-a-project-label", "score": 0.4, "box": [1, 1, 9, 9], "kind": "background"},
    ]
    page.route(
        f"**/runs/77/images/{image.pk}/predictions.json",
        lambda route: route.fulfill(
            status=200, content_type="application/json", body=json.dumps(predictions)
        ),
    )
    log_in(page, live_server)
    open_editor(page, live_server, image, "?run=77")

    expect(page.locator("[data-layer=predictions] g.prediction")).to_have_count(3)
    expect(page.locator("[data-prediction-row='1']")).to_contain_text("true positive")
    expect(page.locator("[data-role=back-to-run]")).to_have_attribute("href", "/runs/77/")
    shoot(page, "editor-run.png")
    page.click("[data-prediction-row='0'] button")
    page.click("[data-prediction-row='2'] button")
    expect(page.locator("[data-role=status]")).to_contain_text("not-a-project-label")
    page.click("[data-action=save]")
    expect(page.locator("[data-role=status]")).to_contain_text("Saved")

    accepted = Annotation.objects.filter(image=image).order_by("-id").first()
    assert accepted.label == editor_world.labels["污渍"]
    assert (accepted.x1, accepted.y1, accepted.x2, accepted.y2) == (300, 330, 380, 400)
    assert Annotation.objects.filter(image=image).count() == 3


def test_pages_in_chinese(page: Page, live_server, editor_world):
    page.context.add_cookies(
        [{"name": "django_language", "value": "zh-hans", "url": live_server.url}]
    )
    log_in(page, live_server)

    page.goto(live_server.url + reverse("projects:project-detail", args=[editor_world.project.pk]))
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    shoot(page, "projects-detail-zh.png")
    page.goto(live_server.url + reverse("projects:task-detail", args=[editor_world.task.pk]))
    page.wait_for_function(THUMBNAILS_LOADED)
    shoot(page, "projects-task-zh.png")
    open_editor(page, live_server, editor_world.image)
    page.click("[data-layer=boxes] g.box[data-index='0'] > rect")
    shoot(page, "editor-zh.png")


def coco_zip(path: Path) -> Path:
    """A valid two-image COCO dataset as a zip."""
    import zipfile

    images = [
        {"id": 1, "file_name": "up-1.png", "width": 320, "height": 200},
        {"id": 2, "file_name": "up-2.png", "width": 320, "height": 200},
    ]
    document = {
        "images": images,
        "categories": [{"id": 1, "name": "划痕"}, {"id": 2, "name": "气泡"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 2, "bbox": [10, 10, 50, 40], "iscrowd": 0},
        ],
    }
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("annotations.json", json.dumps(document, ensure_ascii=False))
        for i, image in enumerate(images):
            zf.writestr(f"images/{image['file_name']}", metal_image(50 + i, (320, 200), []))
    return path


def test_toggle_paging_and_upload_through_htmx(page: Page, live_server, editor_world, tmp_path):
    log_in(page, live_server)
    page.goto(live_server.url + reverse("projects:task-detail", args=[editor_world.task.pk]))

    page.click("#task-validation button[role=switch]")
    expect(page.locator("#task-validation button[role=switch]")).to_have_attribute(
        "aria-checked", "false"
    )
    assert not Task.objects.get(pk=editor_world.task.pk).is_validation
    page.click("#task-validation button[role=switch]")
    expect(page.locator("#task-validation button[role=switch]")).to_have_attribute(
        "aria-checked", "true"
    )
    assert Task.objects.get(pk=editor_world.task.pk).is_validation

    page.goto(live_server.url + reverse("projects:project-detail", args=[editor_world.project.pk]))
    page.set_input_files("#id_archive", str(coco_zip(tmp_path / "新数据.zip")))
    page.fill("#id_task_name", "上传批次")
    page.check("#id_validation")
    page.click("#dataset-upload button[type=submit]")
    expect(page.locator("#dataset-upload .import-report.ok")).to_contain_text("上传批次")
    expect(page.locator("#project-tasks")).to_contain_text("上传批次")  # swapped out of band
    expect(page.locator("#project-labels")).to_contain_text("气泡")
    task = Task.objects.get(project=editor_world.project, name="上传批次")
    assert task.is_validation and task.images.count() == 2

    page.set_input_files("#id_archive", str(coco_zip(tmp_path / "again.zip")))
    page.fill("#id_task_name", "上传批次")
    page.click("#dataset-upload button[type=submit]")
    expect(page.locator("#dataset-upload .has-error")).to_contain_text("上传批次")
    shoot(page, "projects-upload-error.png")
