"""The import report: every problem found, located by file, line and field."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from projects.cleaning import printable

# A dataset with a systematic fault could yield millions of identical problems; the report keeps
# the first ones and counts the rest so that it stays readable and fits in memory.
MAX_LISTED = 500


@dataclass(frozen=True)
class Problem:
    """One error or warning, located in the dataset."""

    file: str
    message: str
    line: int | None = None
    column: int | None = None
    field: str | None = None

    @property
    def location(self) -> str:
        """Where it is: 'labels/a.txt line 4', 'annotations.json: annotations[3].bbox'."""
        where = self.file or _("dataset")
        if self.line is not None:
            where += " " + _("line %(line)d") % {"line": self.line}
            if self.column is not None:
                where += " " + _("column %(column)d") % {"column": self.column}
        if self.field:
            where += f": {self.field}"
        return where

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


def _problem(file: str, message: str, where: dict) -> Problem:
    """A Problem whose texts, taken from the dataset, cannot span lines nor fail to encode."""
    field = where.get("field")
    return Problem(
        printable(file),
        printable(message),
        line=where.get("line"),
        column=where.get("column"),
        field=printable(field) if field is not None else None,
    )


@dataclass
class ImportReport:
    """What an import found and did: problems, counts, and whether anything was written."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    errors_omitted: int = 0
    warnings_omitted: int = 0
    task_name: str = ""
    task_created: bool = False
    images: int = 0
    annotations: int = 0
    labels_created: list[str] = field(default_factory=list)
    label_counts: dict[str, int] = field(default_factory=dict)
    imported: bool = False

    @property
    def ok(self) -> bool:
        """True when no error was found."""
        return not self.errors

    @property
    def error_count(self) -> int:
        """All errors, including those not listed."""
        return len(self.errors) + self.errors_omitted

    @property
    def warning_count(self) -> int:
        """All warnings, including those not listed."""
        return len(self.warnings) + self.warnings_omitted

    def error(self, file: str, message: str, **where) -> None:
        """Record an error at file (and line / column / field)."""
        if len(self.errors) < MAX_LISTED:
            self.errors.append(_problem(file, message, where))
        else:
            self.errors_omitted += 1

    def error_first(self, file: str, message: str) -> None:
        """Record an error that explains the others, listed before them."""
        self.errors.insert(0, _problem(file, message, {}))

    def warn(self, file: str, message: str, **where) -> None:
        """Record a warning at file (and line / column / field)."""
        if len(self.warnings) < MAX_LISTED:
            self.warnings.append(_problem(file, message, where))
        else:
            self.warnings_omitted += 1

    def locate_in(self, name: str) -> None:
        """Problems of the dataset as a whole are located in the archive or folder it came in."""
        for problems in (self.errors, self.warnings):
            problems[:] = [
                replace(p, file=printable(name)) if not p.file and p.line is None else p
                for p in problems
            ]

    def summary(self) -> str:
        """One sentence: what was imported, or why nothing was."""
        if not self.ok:
            return ngettext(
                "Import refused: %(count)d error; nothing was written.",
                "Import refused: %(count)d errors; nothing was written.",
                self.error_count,
            ) % {"count": self.error_count}
        params = {"images": self.images, "annotations": self.annotations, "task": self.task_name}
        if not self.imported:
            return (
                _(
                    "Check passed: %(images)d images and %(annotations)d annotations "
                    "can be imported into task “%(task)s”."
                )
                % params
            )
        return (
            _("Imported %(images)d images and %(annotations)d annotations into task “%(task)s”.")
            % params
        )

    def lines(self) -> list[str]:
        """The whole report as lines of text, errors first."""
        out = [self.summary()]
        if self.labels_created:
            out.append(_("Labels created: %(names)s") % {"names": ", ".join(self.labels_created)})
        for title, problems, omitted in (
            (_("Errors"), self.errors, self.errors_omitted),
            (_("Warnings"), self.warnings, self.warnings_omitted),
        ):
            if problems:
                out.append(f"{title}:")
                out.extend(f"  {problem}" for problem in problems)
            if omitted:
                out.append("  " + _("… and %(count)d more") % {"count": omitted})
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())
