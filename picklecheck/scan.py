"""Find pickled code in a model file without loading it (no torch, no Django, no unpickling).

torch.export.load and torch.load(weights_only=False) unpickle parts of a .pt2 archive, and a
pickle can call any function while it is read. A model file is only safe to load when every
pickle it holds (nested zips included) names nothing but tensor-rebuilding globals.
"""

from __future__ import annotations

import copyreg
import io
import pickletools
import re
import zipfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import IO, cast

_MAX_DEPTH = 3  # zips inside zips: torch.save archives inside a .pt2 archive
_MAX_NESTED_BYTES = 256 * 1024 * 1024
_MAX_PICKLES_PER_STREAM = 8  # the legacy torch.save format chains a few pickles
# TorchScript archives name their own classes; only TorchScript's C++ loader resolves them.
_SAFE_PREFIXES = ("__torch__.", "torch.jit._pickle.")
_EXTRA_SAFE = frozenset(
    {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch.device",
        "torch.Size",
    }
)
_STRING_OPS = frozenset(
    {
        "SHORT_BINUNICODE",
        "BINUNICODE",
        "BINUNICODE8",
        "UNICODE",
        "SHORT_BINSTRING",
        "BINSTRING",
        "STRING",
    }
)
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_GET_OPS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_PUT_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


@dataclass(frozen=True)
class Finding:
    """A global a pickle in the file would import and call: where, and what."""

    entry: str  # path inside the archive ("a.zip/b/data.pkl" for nested archives)
    reference: str  # "module.name", or a description when it cannot be known statically


class NotAnArchive(ValueError):
    """The file is not a zip archive, so not a .pt2 or TorchScript file."""


TORCH_ALLOWED_GLOBALS = Path(__file__).with_name("torch_allowed_globals.txt")


@lru_cache(maxsize=1)
def allowed_globals() -> frozenset[str]:
    """torch's own weights_only allow-list, plus the basics.

    The list is a copy kept beside this module (a test compares it with the installed torch), so
    the web process scans an upload without importing torch.
    """
    lines = TORCH_ALLOWED_GLOBALS.read_text(encoding="utf-8").splitlines()
    return _EXTRA_SAFE | frozenset(s for s in lines if s and not s.startswith("#"))


def is_allowed(reference: str) -> bool:
    return reference in allowed_globals() or reference.startswith(_SAFE_PREFIXES)


def scan_model_file(path: Path) -> list[Finding]:
    """Every disallowed global in the pickles of the archive at path; raises NotAnArchive."""
    if not zipfile.is_zipfile(path):
        raise NotAnArchive(path.name)
    with zipfile.ZipFile(path) as archive:
        return list(_scan_archive(archive, "", 0))


def _scan_archive(archive: zipfile.ZipFile, prefix: str, depth: int) -> Iterator[Finding]:
    for info in archive.infolist():
        if info.is_dir():
            continue
        entry = prefix + info.filename
        with archive.open(info) as stream:
            head = stream.read(4)
        if head == b"PK\x03\x04":
            if depth >= _MAX_DEPTH or info.file_size > _MAX_NESTED_BYTES:
                yield Finding(entry, "a nested archive too deep or too large to check")
                continue
            with zipfile.ZipFile(io.BytesIO(archive.read(info))) as nested:
                yield from _scan_archive(nested, entry + "/", depth + 1)
            continue
        # Any entry may be unpickled (a weight marked use_pickle, a legacy state dict): every
        # one is read as a chain of pickles until its bytes stop parsing as one.
        with archive.open(info) as stream:
            yield from _scan_pickles(stream, entry)


def _scan_pickles(stream: IO[bytes], entry: str) -> Iterator[Finding]:
    """Check the chain of pickles at the start of the stream (the legacy format has several)."""
    for _ in range(_MAX_PICKLES_PER_STREAM):
        start = stream.read(1)
        if not start:
            return
        complete = yield from _globals_of_one(_Prefixed(start, stream), entry)
        if not complete:
            return


class _Prefixed:
    """A stream with bytes already read put back in front; reads no further than asked."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head, self._stream = head, stream

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            data, self._head = self._head + self._stream.read(), b""
            return data
        taken, self._head = self._head[:n], self._head[n:]
        return taken + (self._stream.read(n - len(taken)) if n > len(taken) else b"")

    def readline(self) -> bytes:
        newline = self._head.find(b"\n")
        if newline >= 0:
            line, self._head = self._head[: newline + 1], self._head[newline + 1 :]
            return line
        line, self._head = self._head, b""
        return line + self._stream.readline()


class _Value(Enum):
    """What the scanner knows of a stack item that is not a string."""

    MARK = "mark"
    CALLABLE = "callable"  # a global (only allowed ones are let through)
    UNKNOWN = "unknown"  # the result of a call: could be anything, a string included
    OTHER = "other"  # a literal or container: never a string, never callable


_CALLS = frozenset({"REDUCE", "NEWOBJ", "NEWOBJ_EX", "OBJ", "INST"})


class _Stop(Exception):
    """The real unpickler would fail here, before running anything further."""


class _Machine:
    """The pickle stack, simulated from pickletools' opcode table, strings kept."""

    def __init__(self) -> None:
        self.stack: list[object] = []
        self.memo: dict[int, object] = {}

    def pop(self) -> object:
        if not self.stack:
            raise _Stop
        return self.stack.pop()

    def pop_mark(self) -> list[object]:
        items: list[object] = []
        while (item := self.pop()) is not _Value.MARK:
            items.append(item)
        return items[::-1]

    def step(self, opcode, arg) -> None:
        """Apply one opcode, except the globals (the caller checks and pushes those)."""
        name = opcode.name
        if name in _STRING_OPS:
            self.stack.append(_decoded(arg))
        elif name in _GET_OPS:
            if arg not in self.memo:
                raise _Stop
            self.stack.append(self.memo[arg])
        elif name in _PUT_OPS or name == "MEMOIZE":
            if not self.stack:
                raise _Stop
            self.memo[arg if name != "MEMOIZE" else len(self.memo)] = self.stack[-1]
        elif name == "DUP":
            self.stack.append(self.stack[-1] if self.stack else _Value.OTHER)
        elif name == "MARK":
            self.stack.append(_Value.MARK)
        elif name == "BUILD":
            self.pop()  # the state; the object stays as it was
        elif name in _CALLS:
            self._call(opcode)
        else:
            self._generic(opcode)

    def _call(self, opcode) -> None:
        if opcode.name == "INST" or opcode.name == "OBJ":
            items = self.pop_mark()
            callee = items[0] if opcode.name == "OBJ" and items else _Value.CALLABLE
        else:
            for _ in range(len(opcode.stack_before) - 1):
                self.pop()
            callee = self.pop()
        if callee not in (_Value.CALLABLE, _Value.UNKNOWN):
            raise _Stop
        self.stack.append(_Value.UNKNOWN)

    def _generic(self, opcode) -> None:
        before = opcode.stack_before
        if pickletools.markobject in before:
            self.pop_mark()
            before = before[: before.index(pickletools.markobject)]
        kept = None
        for _ in before:
            kept = self.pop()
        after = opcode.stack_after
        # Ops that add to a container leave that container on the stack.
        if len(after) == 1 and before and kept is not None and opcode.name in _ADDS:
            self.stack.append(kept)
            return
        self.stack.extend(_Value.OTHER for _ in after)


_ADDS = frozenset({"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS"})


def _globals_of_one(stream: _Prefixed, entry: str) -> Generator[Finding, None, bool]:
    """Disallowed globals of one pickle; True when it parsed to its STOP.

    A pickle runs its REDUCEs as it reads, so what precedes a parse error still counts; names
    that could not be imported (random tensor bytes parse as a few odd opcodes) do not.
    """
    machine = _Machine()
    try:
        for opcode, arg, _pos in pickletools.genops(cast(IO[bytes], stream)):
            name = opcode.name
            if name in ("GLOBAL", "INST"):
                module, _sep, attr = str(arg).partition(" ")
                if not _importable(module, attr):
                    return False
                if not is_allowed(f"{module}.{attr}"):
                    yield Finding(entry, f"{module}.{attr}")
                if name == "GLOBAL":
                    machine.stack.append(_Value.CALLABLE)
                    continue
            elif name == "STACK_GLOBAL":
                top, below = machine.pop(), machine.pop()
                if _Value.UNKNOWN in (below, top):
                    yield Finding(entry, "a global whose name is computed while loading")
                elif not _importable(below, top):
                    return False
                elif not is_allowed(f"{below}.{top}"):
                    yield Finding(entry, f"{below}.{top}")
                machine.stack.append(_Value.CALLABLE)
                continue
            elif name.startswith("EXT"):  # a global from copyreg's registry (empty by default)
                registry = getattr(copyreg, "_inverted_registry", {})
                if arg not in registry:
                    return False  # "unregistered extension code": the unpickler stops here
                module, attr = registry[arg]
                if not is_allowed(f"{module}.{attr}"):
                    yield Finding(entry, f"{module}.{attr}")
                machine.stack.append(_Value.CALLABLE)
                continue
            elif name == "STOP":
                return True
            machine.step(opcode, arg)
    except (ValueError, _Stop):
        pass  # not (or no longer) a pickle: the loader fails at the same byte
    return False


def _importable(module: object, attr: object) -> bool:
    """Whether find_class could resolve this name at all (tensor bytes rarely look like one)."""
    if not isinstance(module, str) or not isinstance(attr, str):
        return False
    return bool(_DOTTED.fullmatch(module)) and bool(_DOTTED.fullmatch(attr))


def _decoded(value: object) -> object:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return value
