"""Relative paths inside a dataset: normalised, and never climbing out of it."""

from __future__ import annotations

import re
from pathlib import Path

from django.utils.translation import gettext as _

from projects.cleaning import MAX_FILE_NAME_BYTES, printable, text_problem

_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_NAME_LENGTH = 500  # Image.name


def normalise(raw: str) -> tuple[str, str | None]:
    """The POSIX form of a dataset-relative path, or ('', reason) when it is unsafe."""
    if not raw or not raw.strip():
        return "", _("empty path")
    if "\x00" in raw:
        return "", _("path contains a NUL character")
    path = raw.replace("\\", "/")
    if path.startswith("/"):
        return "", _("absolute path “%(path)s” is not allowed") % {"path": raw}
    if _DRIVE.match(path):
        return "", _("path “%(path)s” starts with a drive letter") % {"path": raw}
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        return "", _("path “%(path)s” climbs out of the dataset with “..”") % {"path": raw}
    if not parts:
        return "", _("empty path")
    if problem := text_problem(raw):
        return "", _("path “%(path)s” %(problem)s") % {"path": printable(raw), "problem": problem}
    for part in parts:
        if len(part.encode()) > MAX_FILE_NAME_BYTES:
            return "", _("the name “%(part)s…” is longer than %(limit)d bytes") % {
                "part": part[:40],
                "limit": MAX_FILE_NAME_BYTES,
            }
    return "/".join(parts), None


def inside(root: Path, path: Path) -> bool:
    """True when path, with every symbolic link followed, lies inside root."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):
        return False


def display(root: Path, path: Path) -> str:
    """Path relative to root in POSIX form, for messages."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name
