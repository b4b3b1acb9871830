"""The model-file scanner against hand-made pickles that try to hide the code they would run."""

from __future__ import annotations

import copyreg
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from picklecheck.scan import NotAnArchive, scan_model_file

PROTO4 = b"\x80\x04"
STACK_GLOBAL, REDUCE, STOP, POP, DUP, MEMOIZE, TUPLE1 = (
    b"\x93",
    b"R",
    b".",
    b"0",
    b"2",
    b"\x94",
    b"\x85",
)


def text(value: str) -> bytes:
    data = value.encode()
    return b"\x8c" + bytes([len(data)]) + data  # SHORT_BINUNICODE


def archive(tmp_path: Path, data: bytes, name: str = "m/data/weights/weight_0") -> Path:
    path = tmp_path / "model.pt2"
    with zipfile.ZipFile(path, "w") as out:
        out.writestr(name, data)
        out.writestr("m/archive_format", b"pt2")
    return path


def references(tmp_path: Path, data: bytes) -> list[str]:
    return [finding.reference for finding in scan_model_file(archive(tmp_path, data))]


CALL_THEN_GARBAGE = text("print(1)") + TUPLE1 + REDUCE + b"\xff\xfe"


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        (
            "plain",
            PROTO4 + text("os") + text("system") + STACK_GLOBAL + CALL_THEN_GARBAGE,
            "os.system",
        ),
        (
            "popped-decoy",
            PROTO4
            + text("builtins")
            + text("exec")
            + text("decoy")
            + POP
            + STACK_GLOBAL
            + CALL_THEN_GARBAGE,
            "builtins.exec",
        ),
        (
            "memoised-names",
            PROTO4
            + text("builtins")
            + MEMOIZE
            + text("eval")
            + MEMOIZE
            + POP
            + POP
            + b"h\x00"
            + b"h\x01"
            + STACK_GLOBAL
            + CALL_THEN_GARBAGE,
            "builtins.eval",
        ),
        (
            "duplicated-name",
            PROTO4 + text("posix") + DUP + POP + text("system") + STACK_GLOBAL + CALL_THEN_GARBAGE,
            "posix.system",
        ),
        ("protocol-0", b"cos\nsystem\n(S'true'\ntR.", "os.system"),
        ("inst-opcode", b"(S'true'\nios\nsystem\n.", "os.system"),
        (
            "computed-name",
            PROTO4
            + text("_codecs")
            + text("encode")
            + STACK_GLOBAL
            + text("x")
            + TUPLE1
            + REDUCE
            + DUP
            + STACK_GLOBAL
            + STOP,
            "a global whose name is computed",
        ),
    ],
)
def test_hidden_globals_are_found_without_unpickling(tmp_path, name, data, expected):
    assert any(expected in found for found in references(tmp_path, data)), name


def test_a_registered_extension_code_is_resolved_and_checked(tmp_path):
    copyreg.add_extension("os", "system", 0x7ABC)
    try:
        found = references(
            tmp_path, PROTO4 + b"\x83" + (0x7ABC).to_bytes(4, "little") + CALL_THEN_GARBAGE
        )
    finally:
        copyreg.remove_extension("os", "system", 0x7ABC)
    assert found == ["os.system"]


def test_weights_and_tensor_pickles_pass(tmp_path):
    import torch

    buffer = io.BytesIO()
    torch.save({"w": torch.arange(6.0), "b": torch.nn.Parameter(torch.ones(2))}, buffer)
    assert references(tmp_path, buffer.getvalue()) == []
    assert references(tmp_path, pickle.dumps({"a": [1, 2.5, "x"]}, protocol=2)) == []


def test_raw_tensor_bytes_are_not_mistaken_for_code(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "weights.pt2"
    with zipfile.ZipFile(path, "w") as out:
        for i in range(3000):
            out.writestr(f"m/data/weights/weight_{i}", rng.bytes(48))
    assert scan_model_file(path) == []


def test_a_file_that_is_not_an_archive_is_said_so(tmp_path):
    path = tmp_path / "m.pt2"
    path.write_bytes(pickle.dumps(1))
    with pytest.raises(NotAnArchive):
        scan_model_file(path)
