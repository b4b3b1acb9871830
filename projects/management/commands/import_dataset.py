"""manage.py import_dataset PROJECT PATH --format coco|yolo [--task NAME] [--validation] …"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _

from projects.cleaning import printable, text_problem
from projects.datasets import FORMATS, import_dataset
from projects.models import Project


class Command(BaseCommand):
    help = (
        "Import a COCO or YOLO dataset (a folder or a .zip) into a new task of a project. "
        "Everything is checked first; on any error nothing is written and the report goes to "
        "stderr with a non-zero exit status."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="project name")
        parser.add_argument("path", type=Path, help="dataset folder, .zip archive or COCO .json")
        parser.add_argument("--format", dest="fmt", required=True, choices=FORMATS)
        parser.add_argument("--task", help="task name (default: the folder or archive name)")
        flags = {
            "--validation": "flag the task as validation set",
            "--append": "add the images to an existing task of that name",
            "--create-project": "create the project if it does not exist",
            "--check": "check only; write nothing",
        }
        for flag, text in flags.items():
            parser.add_argument(flag, action="store_true", help=text)

    def handle(self, *args, **options) -> None:
        for name in ("project", "task"):
            if options[name] and (problem := text_problem(options[name])):
                message = f"{name} “{printable(options[name])}”: {problem}"
                raise CommandError(message, returncode=2)
        with transaction.atomic():
            project = self._project(options["project"], options["create_project"])
            report = import_dataset(
                project,
                options["path"],
                options["fmt"],
                task_name=options["task"],
                validation=options["validation"],
                append=options["append"],
                dry_run=options["check"],
            )
            if not report.imported:
                transaction.set_rollback(True)  # a project made by --create-project goes too
        if not report.ok:
            for line in report.lines()[1:]:
                self.stderr.write(line)
            raise CommandError(report.summary(), returncode=2)
        for line in report.lines():
            self.stdout.write(line)

    def _project(self, name: str, create: bool) -> Project:
        project = Project.objects.filter(name=name).first()
        if project is not None:
            return project
        if create:
            return Project.objects.create(name=name)
        raise CommandError(
            _("Project “%(name)s” does not exist; pass --create-project to create it.")
            % {"name": name},
            returncode=2,
        )
