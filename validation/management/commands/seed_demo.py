"""Create the demo users, process, project (generated images) and model, once."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from projects.datasets.importer import import_dataset
from projects.models import Project, Task
from validation.modelfiles.importing import import_model
from validation.models import DetectionModel, Process

DEMO_PROJECT = "Metal surfaces (demo)"
SECOND_PROJECT = "Coatings (no validation set yet)"
PROCESS = "surface inspection"
ARTIFACTS = Path(settings.BASE_DIR) / "demo" / "artifacts"
USERS = [("demo", "demo-pass-2026", False), ("admin", "admin-pass-2026", True)]


class Command(BaseCommand):
    help = "Create the demo data once: users, a process, a generated project and the demo model."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--val-images", type=int, default=320)
        parser.add_argument(
            "--train-images",
            type=int,
            default=120,
            help="images in the demo project's training task (shown, not used)",
        )

    def handle(self, *args, seed: int, val_images: int, train_images: int, **options):
        users = self._users()
        if Project.objects.filter(name=DEMO_PROJECT).exists():
            self.stdout.write("Demo data already present; nothing to do.")
            return
        from demo.synth import write_dataset

        data_dir = Path(settings.VAR_DIR) / "demo-data" / f"seed-{seed}"
        if not (data_dir / "val" / "annotations.json").exists():
            self.stdout.write(f"Generating demo images into {data_dir} ...")
            write_dataset(data_dir, seed=seed, train_images=train_images, val_images=val_images)
        process, _ = Process.objects.get_or_create(
            name=PROCESS, defaults={"description": "Scratches, dents, stains and cracks on metal"}
        )
        with transaction.atomic():
            project = Project.objects.create(
                name=DEMO_PROJECT, description="Generated brushed-metal parts with defects"
            )
            project.members.add(*users)
            for split, task_name, is_val in (
                ("train", "training", False),
                ("val", "validation", True),
            ):
                report = import_dataset(
                    project,
                    data_dir / split,
                    "coco",
                    task_name=task_name,
                    validation=is_val,
                    user=users[0],
                )
                if report.errors:
                    raise CommandError(
                        "\n".join(f"{e.location}: {e.message}" for e in report.errors)
                    )
            second = Project.objects.create(name=SECOND_PROJECT)
            second.members.add(*users)
            Task.objects.create(project=second, name="incoming", is_validation=False)
        self._model(process, users[1])
        self.stdout.write(self.style.SUCCESS("Demo data created."))

    def _users(self):
        user_model = get_user_model()
        users = []
        for name, password, staff in USERS:
            user, created = user_model.objects.get_or_create(
                username=name, defaults={"is_staff": staff, "is_superuser": staff}
            )
            if created:
                user.set_password(password)
                user.save()
            users.append(user)
        return users

    def _model(self, process: Process, user) -> DetectionModel:
        meta = json.loads((ARTIFACTS / "demo_detector.json").read_text(encoding="utf-8"))
        return import_model(
            process,
            ARTIFACTS / "demo_detector.pt2",
            name="demo detector v1",
            labels=list(meta["labels"]),
            user=user,
            origin=DetectionModel.Origin.TRAINED,
            input_size=meta["input_size"],
            resize_mode=meta.get("resize_mode", "letterbox"),
            mean=meta["mean"],
            std=meta["std"],
            channel_order=meta.get("channel_order", "RGB"),
            output_format=meta.get("output_format", "auto"),
        )
