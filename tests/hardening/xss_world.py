"""A project whose every name carries HTML or script, with two evaluated runs, for the XSS tests.

Shared by tests/hardening/test_access_xss.py (responses) and tests/browser/test_xss.py (Chromium).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from projects.models import Annotation, Image, Label, Project, Task
from tests.run_builders import evaluated_run
from tests.validation.run_world import add_image
from validation.api.tokens import create_token
from validation.models import DetectionModel, InferenceRun, Instance, Process

SCRIPT = '"><script>window.__xss=1</script>'
IMG = "<img src=x onerror=alert(1)>"
SVG = "<svg onload=alert(2)>"
QUOTE = "';window.__xss=3;'"
LABELS = [IMG, f"划痕{SCRIPT}", SVG]
# What must never appear raw in an HTML response: the start of each injected element.
RAW = ("<script>window.__xss", "<img src=x", "<svg onload")
# What must appear instead, on the pages that show the names as text.
ESCAPED = ("&lt;img src=x onerror=alert(1)&gt;", "&lt;script&gt;window.__xss=1&lt;/script&gt;")


@dataclass
class XssWorld:
    project: Project
    task: Task
    images: list[Image]
    labels: list[Label]
    model: DetectionModel
    run: InferenceRun
    other_run: InferenceRun
    instance: Instance


def build_xss_world(owner, member) -> XssWorld:
    """Project, task, labels, image names, process, model, token and notes all carry markup."""
    project = Project.objects.create(name=f"项目{SCRIPT}", description=IMG)
    project.members.add(owner, member)
    labels = [Label.objects.create(project=project, name=n, order=i) for i, n in enumerate(LABELS)]
    task = Task.objects.create(project=project, name=f"task {SVG}", is_validation=True)
    images = [add_image(task, f"{IMG}{i}.png", seed=i) for i in range(2)]
    for image in images:
        Annotation.objects.create(image=image, label=labels[0], x1=20, y1=20, x2=80, y2=70)
        Annotation.objects.create(image=image, label=labels[1], x1=150, y1=100, x2=200, y2=160)
    process = Process.objects.create(name=f"工序{SCRIPT}")
    model = DetectionModel.objects.create(
        process=process,
        name=f"model {IMG}",
        file="models/none.pt2",
        format=DetectionModel.Format.EXPORT,
        label_names=LABELS,
        probe_status=DetectionModel.ProbeStatus.PASSED,
        probe_message=f"probe {SVG}",
    )
    first = [((21, 21, 79, 71), 0, 0.95), ((150, 100, 200, 160), 0, 0.9), ((5, 5, 15, 15), 2, 0.6)]
    second = [((21, 21, 79, 71), 1, 0.95), ((150, 100, 200, 160), 1, 0.9)]
    notes = {"review_notes": f"notes {SCRIPT} {IMG}"}
    run = evaluated_run(project, model, owner, [first] * len(images), **notes)
    other = evaluated_run(project, model, owner, [second] * len(images), **notes)
    create_token(owner, f"token {SCRIPT}")
    instance = Instance.objects.filter(run=run).order_by("row", "col", "id").first()
    assert instance is not None
    return XssWorld(project, task, images, labels, model, run, other, instance)


def pages(w: XssWorld) -> dict[str, str]:
    """Every page (and fragment) that shows these names, by what it is."""
    run, image, instance = w.run, w.images[0], w.instance
    cell = reverse("validation:run-cell", args=[run.pk, instance.row, instance.col])
    return {
        "project list": reverse("projects:project-list"),
        "project": reverse("projects:project-detail", args=[w.project.pk]),
        "task": reverse("projects:task-detail", args=[w.task.pk]),
        "editor": reverse("projects:image-editor", args=[image.pk]) + f"?run={run.pk}",
        "run list": reverse("validation:run-list"),
        "run (matrix)": reverse("validation:run-detail", args=[run.pk]),
        "run with a cell open": reverse("validation:run-detail", args=[run.pk])
        + f"?cell={instance.row}-{instance.col}",
        "drill-down fragment": cell,
        "category overview": reverse("validation:run-categories", args=[run.pk]),
        "full screen image": reverse("validation:image-view", args=[run.pk, image.pk])
        + f"?instance={instance.pk}",
        "modify list": reverse("validation:instance-selection", args=[run.pk])
        + f"?ids={instance.pk}",
        "compare": reverse("validation:run-compare") + f"?a={run.pk}&b={w.other_run.pk}",
        "compare picker": reverse("validation:run-compare") + f"?a={run.pk}",
        "worst images": reverse("validation:worst-images", args=[run.pk]),
        "review": reverse("validation:run-review", args=[run.pk]),
        "what-if": reverse("validation:run-detail", args=[run.pk])
        + f"?wi_base=0.5&wi_lc.{LABELS[0]}=0.6",
        "curves": reverse("validation:run-curves", args=[run.pk]),
        "model library": reverse("validation:model-library"),
        "wizard step 1": reverse("validation:wizard-step1"),
        "API tokens": reverse("validation:api-tokens"),
    }


def admin_pages(w: XssWorld) -> dict[str, str]:
    """The admin's lists and forms of the same objects."""
    return {
        "admin projects": reverse("admin:projects_project_changelist"),
        "admin project": reverse("admin:projects_project_change", args=[w.project.pk]),
        "admin labels": reverse("admin:projects_label_changelist"),
        "admin tasks": reverse("admin:projects_task_changelist"),
        "admin images": reverse("admin:projects_image_changelist"),
        "admin image": reverse("admin:projects_image_change", args=[w.images[0].pk]),
        "admin annotations": reverse("admin:projects_annotation_changelist"),
        "admin runs": reverse("admin:validation_inferencerun_changelist"),
        "admin run": reverse("admin:validation_inferencerun_change", args=[w.run.pk]),
        "admin models": reverse("admin:validation_detectionmodel_changelist"),
        "admin model": reverse("admin:validation_detectionmodel_change", args=[w.model.pk]),
        "admin processes": reverse("admin:validation_process_changelist"),
        "admin instances": reverse("admin:validation_instance_changelist"),
    }
