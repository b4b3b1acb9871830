"""One number parser and one text cleaner for every field, file and command.

Numbers: finite, at most MAX_DIGITS digits (Python would otherwise spend its time on, or refuse
with a traceback, a 5,000-digit literal); a form takes "0,5" as 0.5, a file does not. Names: no
control characters, no lone surrogates (they cannot be written as UTF-8). File names: at most
255 bytes of UTF-8, with room left for a suffix the storage may add, keeping the extension.
"""

from __future__ import annotations

import json
import math
import unicodedata
from typing import Any

from django import forms
from django.utils.translation import gettext as _

MAX_DIGITS = 30
MAX_FILE_NAME_BYTES = 255
# Django's storage adds "_" and 7 random characters to a name that is taken.
FILE_NAME_RESERVE = 16
_REFUSED_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}  # controls, surrogates, line/paragraph breaks
BOM = "\ufeff"


class NumberError(ValueError):
    """A number that is refused; `code` is digits, finite or invalid."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _shown(text: str) -> str:
    return shorten(printable(text), 20)


def _digits_error(text: str) -> NumberError:
    return NumberError(
        _("“%(value)s” has more than %(limit)d digits.")
        % {"value": _shown(text), "limit": MAX_DIGITS},
        "digits",
    )


def parse_number(text: str, *, decimal_comma: bool = True) -> float:
    """A finite float from text ("0.5", "0,5", " 1e-3 ", "-0" → 0.0); raises NumberError.

    A form accepts one decimal comma in place of the point, as people type it; a file follows
    its format and does not (decimal_comma=False).
    """
    text = str(text).strip()
    if sum(char.isdigit() for char in text) > MAX_DIGITS:
        raise _digits_error(text)
    spelled = text
    if decimal_comma and text.count(",") == 1 and "." not in text:
        spelled = text.replace(",", ".")
    try:
        if "_" in spelled or "," in spelled:  # float() reads "1_0" as 10
            raise ValueError(text)
        value = float(spelled)
    except ValueError:
        raise NumberError(
            _("“%(value)s” is not a number.") % {"value": _shown(text)}, "invalid"
        ) from None
    if not math.isfinite(value):
        raise NumberError(
            _("“%(value)s” is not a finite number.") % {"value": _shown(text)}, "finite"
        )
    return value + 0.0  # -0.0 becomes 0.0


def parse_whole(text: str) -> int:
    """An integer from text, at most MAX_DIGITS digits; raises NumberError."""
    text = str(text).strip()
    if sum(char.isdigit() for char in text) > MAX_DIGITS:
        raise _digits_error(text)
    try:
        if "_" in text:
            raise ValueError(text)
        return int(text)
    except ValueError:
        raise NumberError(
            _("“%(value)s” is not a whole number.") % {"value": _shown(text)}, "invalid"
        ) from None


class BadNumber:
    """A JSON number literal that was refused; it stands in the parsed document at its place."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason

    def __repr__(self) -> str:
        return _shown(self.text)

    __str__ = __repr__


def _json_int(text: str) -> int | BadNumber:
    try:
        return parse_whole(text)
    except NumberError as exc:
        return BadNumber(text, exc.message)


def _json_float(text: str) -> float | BadNumber:
    # 1e400 stays inf, as Python reads it: the caller's finite check names the field.
    if sum(char.isdigit() for char in text) > MAX_DIGITS:
        return BadNumber(text, _digits_error(text).message)
    return float(text)


def loads(text: str, **options: Any) -> Any:
    """json.loads with a leading BOM skipped and a number of too many digits a BadNumber."""
    return json.loads(
        text.removeprefix(BOM), parse_int=_json_int, parse_float=_json_float, **options
    )


def json_default(value: Any) -> str:
    """For json.dumps(default=…): a BadNumber written as its literal text."""
    if isinstance(value, BadNumber):
        return str(value)
    raise TypeError(type(value).__name__)


# ---------------------------------------------------------------- text


def shorten(text: str, limit: int) -> str:
    """text cut to limit characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """text with control characters and lone surrogates escaped, safe to show and to encode."""
    if not any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in text):
        return text
    return "".join(
        _escaped(char) if unicodedata.category(char) in _REFUSED_CATEGORIES else char
        for char in text
    )


def text_problem(text: str) -> str | None:
    """Why text cannot be a name or a path: a control character or a lone surrogate; else None."""
    for char in text:
        category = unicodedata.category(char)
        if category == "Cs":
            return _("contains a lone surrogate (%(char)s), which is not valid text") % {
                "char": _escaped(char)
            }
        if category in _REFUSED_CATEGORIES:
            return _("contains a control character (%(char)s)") % {"char": _escaped(char)}
    return None


def clean_name(raw: object, max_length: int) -> str:
    """A name (label, task): stripped, not empty, clean, at most max_length; else ValueError."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(_("must be a non-empty name"))
    name = raw.strip()
    problem = text_problem(name)
    if problem:
        raise ValueError(problem)
    if len(name) > max_length:
        raise ValueError(_("longer than %(limit)d characters") % {"limit": max_length})
    return name


def shorten_file_name(
    name: str, max_bytes: int = MAX_FILE_NAME_BYTES - FILE_NAME_RESERVE, default: str = "file"
) -> str:
    """A file name of at most max_bytes of UTF-8, its extension kept, with unsafe text replaced."""
    name = "".join("_" if text_problem(char) else char for char in name.replace("/", "_"))
    if not name.strip(". "):
        name = default
    if len(name.encode()) <= max_bytes:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem or len(suffix.encode()) > 16:
        stem, suffix = name, ""
    suffix = f".{suffix}" if suffix else ""
    budget = max_bytes - len(suffix.encode())
    cut = stem.encode()[:budget].decode("utf-8", errors="ignore")
    return (cut or default) + suffix


# ---------------------------------------------------------------- forms


class NumberField(forms.FloatField):
    """A FloatField that parses with parse_number: finite, bounded digits, one decimal comma."""

    def to_python(self, value: Any) -> float | None:  # type: ignore[override]  # stubs say int
        if value in self.empty_values:
            return None
        if isinstance(value, float | int) and not isinstance(value, bool):
            value = repr(value)
        try:
            return parse_number(str(value))
        except NumberError as exc:
            if exc.code == "digits":
                raise forms.ValidationError(exc.message, code="invalid") from None
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
