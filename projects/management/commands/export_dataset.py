"""manage.py export_dataset PROJECT OUT.json [--task NAME] [--with-images OUT_DIR]"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from projects.datasets import copy_images, export_coco
from projects.models import Project, Task


class Command(BaseCommand):
    help = "Export a project, or one of its tasks, as a COCO JSON file (and optionally its images)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project name")
        parser.add_argument("out", help="output .json file, or - for standard output")
        parser.add_argument("--task", help="export only this task")
        parser.add_argument(
            "--with-images",
            type=Path,
            metavar="OUT_DIR",
            help="also copy the images into this folder, under their file_name",
        )

    def handle(self, *args, **options) -> None:
        name = options["project"]
        project = Project.objects.filter(name=name).first()
        if project is None:
            raise CommandError(_("Project “%(name)s” does not exist.") % {"name": name})
        task = None
        if options["task"] is not None:
            task = Task.objects.filter(project=project, name=options["task"]).first()
            if task is None:
                raise CommandError(
                    _("Task “%(task)s” does not exist in project “%(project)s”.")
                    % {"task": options["task"], "project": project.name}
                )
        data = export_coco(project, task)
        text = json.dumps(data, ensure_ascii=False, indent=1)
        if options["out"] == "-":
            self.stdout.write(text)
        else:
            Path(options["out"]).write_text(text + "\n", encoding="utf-8")
        copied = 0
        if options["with_images"] is not None:
            copied = copy_images(project, task, options["with_images"])
        summary = _("Exported %(images)d images and %(annotations)d annotations.") % {
            "images": len(data["images"]),
            "annotations": len(data["annotations"]),
        }
        if copied:
            summary += " " + ngettext(
                "Copied %(count)d image file.", "Copied %(count)d image files.", copied
            ) % {"count": copied}
        (self.stderr if options["out"] == "-" else self.stdout).write(summary)
