"""Reading a JSON annotation file, with located errors, and describing its values."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from projects.cleaning import BadNumber, json_default, loads, printable
from projects.datasets.report import ImportReport

MAX_JSON_BYTES = 512 * 1024 * 1024


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | BadNumber):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def as_int(value: Any) -> int | None:
    """An integer (or an integral float such as 640.0), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def load_json(path: Path, where: str, report: ImportReport) -> Any:
    """The parsed file, or None after a located error."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            limit = {"limit": MAX_JSON_BYTES}
            report.error(where, _("file is larger than %(limit)d bytes") % limit)
            return None
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        report.error(where, _("not UTF-8 text (byte %(pos)d)") % {"pos": exc.start})
        return None
    except OSError as exc:
        report.error(where, _("cannot read the file (%(reason)s)") % {"reason": exc.strerror})
        return None
    try:
        return loads(text)  # a refused number stays in place, as a BadNumber
    except json.JSONDecodeError as exc:
        report.error(
            where,
            _("invalid JSON: %(reason)s") % {"reason": exc.msg},
            line=exc.lineno,
            column=exc.colno,
        )
    except RecursionError:
        report.error(where, _("invalid JSON: nested too deeply"))
    return None


def shown(value: Any) -> str:
    """A JSON value, shortened for a message."""
    text = printable(json.dumps(value, ensure_ascii=False, default=json_default))
    return text if len(text) <= 40 else text[:37] + "…"
