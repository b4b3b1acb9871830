"""YOLO class names from data.yaml (`names:` list or mapping), classes.txt or obj.names."""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.utils.translation import gettext as _

from projects.cleaning import NumberError, clean_name, parse_whole
from projects.datasets.draft import MAX_LABEL_LENGTH
from projects.datasets.paths import display
from projects.datasets.report import ImportReport

_KEY = re.compile(r"^(names|nc)\s*:(.*)$")
_TEXT_FILES = ("classes.txt", "obj.names", "labels/classes.txt")


class NamesError(Exception):
    """A problem in the names block, at a 1-based line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def read_class_names(root: Path, report: ImportReport) -> tuple[list[str], str] | None:
    """The ordered class names and the file they come from, or None after located errors."""
    yamls = [root / "data.yaml", root / "dataset.yaml"]
    yamls += sorted(set(root.glob("*.yaml")) | set(root.glob("*.yml")) - set(yamls))
    for path in yamls:
        if path.is_file():
            text = _read_text(path, root, report)
            if text is None:
                return None
            try:
                found = parse_yaml_names(text)
            except NamesError as exc:
                report.error(display(root, path), exc.message, line=exc.line)
                return None
            if found is not None:
                return _checked(found, display(root, path), report)
    for name in _TEXT_FILES:
        path = root / name
        if path.is_file():
            text = _read_text(path, root, report)
            if text is None:
                return None
            lines = [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1)]
            return _checked([item for item in lines if item[1]], display(root, path), report)
    report.error("", _("no class names: add data.yaml with a names: list, or classes.txt"))
    return None


def _read_text(path: Path, root: Path, report: ImportReport) -> str | None:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        report.error(display(root, path), _("not UTF-8 text (byte %(pos)d)") % {"pos": exc.start})
    except OSError as exc:
        report.error(
            display(root, path), _("cannot read the file (%(reason)s)") % {"reason": exc.strerror}
        )
    return None


def _checked(
    found: list[tuple[int, str]], where: str, report: ImportReport
) -> tuple[list[str], str] | None:
    """Names that fit labels and appear once; None after located errors."""
    seen: dict[str, int] = {}
    ok = True
    found = [(line, name.strip()) for line, name in found]
    for line, name in found:
        if not name:
            report.error(where, _("empty class name"), line=line)
            ok = False
            continue
        try:
            clean_name(name, MAX_LABEL_LENGTH)
        except ValueError as exc:
            report.error(where, _("class name %(problem)s") % {"problem": str(exc)}, line=line)
            ok = False
            continue
        if name in seen:
            report.error(
                where,
                _("duplicate class name “%(name)s” (also line %(other)d)")
                % {"name": name, "other": seen[name]},
                line=line,
            )
            ok = False
        else:
            seen[name] = line
    if ok and not found:
        report.error(where, _("no class names"))
        return None
    return ([name for _line, name in found], where) if ok else None


def parse_yaml_names(text: str) -> list[tuple[int, str]] | None:
    """(line, name) pairs of the top-level `names:` key; None when there is no such key."""
    lines = text.splitlines()
    names: list[tuple[int, str]] | None = None
    count: tuple[int, int] | None = None
    for index, line in enumerate(lines):
        match = _KEY.match(line)
        if not match:
            continue
        key, rest = match.group(1), _strip_comment(match.group(2)).strip()
        if key == "nc":
            try:
                if not rest.isdigit():
                    raise NumberError(rest, "invalid")
                count = (index + 1, parse_whole(rest))
            except NumberError:
                raise NamesError(index + 1, _("nc must be a whole number")) from None
        elif rest:
            names = _flow(lines, index, rest)
        else:
            names = _block(lines, index)
    if names is not None and count is not None and count[1] != len(names):
        raise NamesError(
            count[0],
            _("nc is %(nc)d but names has %(count)d entries")
            % {"nc": count[1], "count": len(names)},
        )
    return names


def _block(lines: list[str], start: int) -> list[tuple[int, str]]:
    """A block list (`- a`) or mapping (`0: a`) under the key at line index start."""
    items: list[tuple[int, str, str | None]] = []  # (line, value, key)
    for index in range(start + 1, len(lines)):
        raw = _strip_comment(lines[index])
        if not raw.strip():
            continue
        if not raw[0].isspace() and not raw.startswith("-"):
            break
        entry = raw.strip()
        if entry.startswith("-"):
            items.append((index + 1, _scalar(entry[1:], index + 1), None))
        else:
            key, value = _split_pair(entry, index + 1)
            items.append((index + 1, value, key))
    return _assemble(items, start + 1)


def _flow(lines: list[str], start: int, rest: str) -> list[tuple[int, str]]:
    """An inline `[a, b]` or `{0: a, 1: b}`, possibly spanning lines."""
    if rest[0] not in "[{":
        raise NamesError(start + 1, _("names must be a list or a mapping"))
    text, index = rest, start
    while not _balanced(text):
        index += 1
        if index >= len(lines):
            raise NamesError(start + 1, _("unclosed %(bracket)s") % {"bracket": rest[0]})
        text += " " + _strip_comment(lines[index]).strip()
    closing = "]" if rest[0] == "[" else "}"
    if not text.endswith(closing):
        raise NamesError(start + 1, _("unexpected text after %(bracket)s") % {"bracket": closing})
    parts = [part for part in _split_top(text[1:-1], ",") if part.strip()]
    if rest[0] == "[":
        return _assemble([(start + 1, _scalar(part, start + 1), None) for part in parts], start + 1)
    pairs = [_split_pair(part.strip(), start + 1) for part in parts]
    return _assemble([(start + 1, value, key) for key, value in pairs], start + 1)


def _assemble(items: list[tuple[int, str, str | None]], line: int) -> list[tuple[int, str]]:
    """A list as is; a mapping must have the keys 0..n-1."""
    if not items:
        raise NamesError(line, _("names is empty"))
    keyed = [key is not None for _l, _v, key in items]
    if not any(keyed):
        return [(at, value) for at, value, _k in items]
    if not all(keyed):
        raise NamesError(line, _("names mixes list items and key: value pairs"))
    by_id: dict[int, tuple[int, str]] = {}
    for at, value, key in items:
        try:
            if key is None or not key.strip().isdigit():
                raise NumberError(str(key), "invalid")
            by_id[parse_whole(key)] = (at, value)
        except NumberError:
            raise NamesError(
                at, _("class id “%(key)s” is not a whole number") % {"key": str(key)[:20]}
            ) from None
    if sorted(by_id) != list(range(len(items))):
        raise NamesError(
            line,
            _("class ids in names must be 0 to %(last)d, each once") % {"last": len(items) - 1},
        )
    return [by_id[i] for i in range(len(items))]


def _split_pair(entry: str, line: int) -> tuple[str, str]:
    parts = _split_top(entry, ":", limit=1)
    if len(parts) != 2:
        raise NamesError(line, _("expected “id: name”"))
    return _scalar(parts[0], line), _scalar(parts[1], line)


def _scalar(token: str, line: int) -> str:
    """A plain, 'single' or "double" quoted YAML scalar."""
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] == "'":
        return token[1:-1].replace("''", "'")
    if len(token) >= 2 and token[0] == token[-1] == '"':
        try:
            return str(json.loads(token))
        except ValueError:
            raise NamesError(line, _("bad quoted name %(token)s") % {"token": token}) from None
    if token[:1] in ("'", '"'):
        raise NamesError(line, _("unclosed quote in %(token)s") % {"token": token})
    return token


def _quote_aware(text: str):
    """Yield (index, char, inside_quotes) over text."""
    quote = ""
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
            yield i, char, True
        elif char in "'\"":
            quote = char
            yield i, char, True
        else:
            yield i, char, False


def _strip_comment(line: str) -> str:
    for i, char, quoted in _quote_aware(line):
        if char == "#" and not quoted and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def _balanced(text: str) -> bool:
    depth = 0
    for _i, char, quoted in _quote_aware(text):
        if not quoted:
            depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(char, 0)
    return depth <= 0


def _split_top(text: str, sep: str, limit: int = -1) -> list[str]:
    """Split on sep outside quotes and brackets."""
    parts: list[str] = []
    depth = start = 0
    for i, char, quoted in _quote_aware(text):
        if quoted:
            continue
        depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(char, 0)
        if char == sep and depth == 0 and (limit < 0 or len(parts) < limit):
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts
