"""The typing stub metrics_rs/__init__.pyi is shipped and agrees with the built module."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import metrics_rs

CRATE = Path(__file__).resolve().parents[2] / "metrics_rs"


def _editable() -> bool:
    """`maturin develop` installs without the stub; `pip install .` (make setup) ships it."""
    try:
        text = metadata.distribution("model-validation-portal").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return False
    return bool(text and json.loads(text).get("dir_info", {}).get("editable"))


pytestmark = pytest.mark.skipif(
    _editable(), reason="metrics_rs installed by `maturin develop`: no stub shipped"
)


def test_installed_stub_is_the_one_in_the_repository():
    installed = Path(metrics_rs.__file__).with_name("__init__.pyi")
    assert installed.read_text() == (CRATE / "__init__.pyi").read_text(), (
        "the installed metrics_rs is stale: rebuild it (make setup)"
    )
    assert installed.with_name("py.typed").exists()


def test_stubtest_finds_no_difference(tmp_path):
    # Run outside the repository so that mypy reads the installed package, not the crate folder.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            "metrics_rs",
            "--allowlist",
            str(CRATE / "stubtest-allowlist.txt"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
