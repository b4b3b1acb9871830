"""Read the metadata trainers embed in TorchScript files (never eval, never pickle)."""

from __future__ import annotations

import ast
import json
from typing import Any

# Ultralytics writes "config.txt" (JSON); the others are common alternatives.
EXTRA_FILE_NAMES = ("config.txt", "metadata.json", "config.json", "config.yaml")
MAX_METADATA_CHARS = 1_000_000


def parse_metadata_text(raw: bytes | str) -> dict[str, Any]:
    """Parse JSON, a Python literal, or flat `key: value` lines into a dict ({} when unreadable)."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = text.strip()
    if not text or len(text) > MAX_METADATA_CHARS:
        return {}
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
    return _parse_key_value_lines(text)


def _parse_key_value_lines(text: str) -> dict[str, Any]:
    """Flat yaml-ish `key: value` lines; values parsed as literals when possible."""
    result: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or line.startswith((" ", "\t")):
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        value = value.strip()
        try:
            result[key.strip()] = ast.literal_eval(value) if value else None
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            result[key.strip()] = value
    return result


def read_extra_files(files: dict[str, bytes | str]) -> dict[str, Any]:
    """Merge every readable extra file into one metadata dict."""
    merged: dict[str, Any] = {}
    for name in EXTRA_FILE_NAMES:
        raw = files.get(name)
        if raw:
            merged.update(parse_metadata_text(raw))
    return merged


def label_names_from(metadata: dict[str, Any]) -> tuple[str, ...]:
    """Class names from metadata["names"] (a list, or a dict keyed by index), in index order."""
    names = metadata.get("names")
    if isinstance(names, (list, tuple)):
        return tuple(str(n) for n in names)
    if isinstance(names, dict):
        try:
            indexed = sorted((int(k), str(v)) for k, v in names.items())
        except (TypeError, ValueError):
            return ()
        if [i for i, _ in indexed] == list(range(len(indexed))):
            return tuple(v for _, v in indexed)
    return ()


def int_from(metadata: dict[str, Any], key: str) -> int | None:
    """An int setting such as stride (a list takes its largest element), or None."""
    value = metadata.get(key)
    if isinstance(value, (list, tuple)) and value:
        value = max(value) if all(isinstance(v, (int, float)) for v in value) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if value > 0 else None


def image_shape_from(metadata: dict[str, Any]) -> tuple[int, int] | None:
    """(h, w) from metadata["imgsz"] (an int or [h, w]), or None."""
    value = metadata.get("imgsz")
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value > 0:
        return int(value), int(value)
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        return int(value[0]), int(value[1])
    return None


def jsonable(metadata: dict[str, Any]) -> dict[str, Any]:
    """Drop what JSON cannot hold (the probe result is stored as JSON)."""
    try:
        return json.loads(json.dumps(metadata, default=str))
    except (TypeError, ValueError):
        return {}
