"""Model files of the corpus: files that would run code when loaded, broken files, bad outputs.

Each file that would run code writes `pwned.txt` beside itself when (wrongly) unpickled.
"""

from __future__ import annotations

import io
import json
import pickle
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tests.hardening.corpus import DATE, write

MARKER = "pwned.txt"


@dataclass(frozen=True)
class ModelCase:
    """A model file and where the portal must stop it: at upload, at the probe, in the run."""

    name: str
    build: Callable[[Path], Path]  # writes the file; its name is the name uploaded
    stage: str  # "upload" | "probe" | "run" | "ok"
    where: str  # text the reason must contain (the file name, the fault)
    labels: str = "a,b,c"
    output_format: str = "auto"


class _Payload:
    """Unpickling this writes the marker file: what a hostile model file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def _payload(folder: Path, protocol: int = 4) -> bytes:
    return pickle.dumps(_Payload(folder / MARKER), protocol=protocol)


def _torch_saved(obj) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- real (tiny) models


def _modules():
    """Small detectors whose outputs break the contract in one way each."""
    import torch
    from torch import nn

    from tests.jobs.tiny_models import BrightSpotDetector

    class NanBoxes(BrightSpotDetector):
        def forward(self, x):
            out = super().forward(x)
            return torch.cat([out[..., :4] * float("nan"), out[..., 4:]], dim=2)

    class ClassOutOfRange(BrightSpotDetector):
        def forward(self, x):
            out = super().forward(x)
            return torch.cat([out[..., :5], out[..., 5:] + 7.0], dim=2)

    class NanOnDarkImages(BrightSpotDetector):
        """Fine on the probe's noise (mean 0.5), NaN on the validation images (dark)."""

        def forward(self, x):
            out = super().forward(x)
            dark = (x.mean() < 0.3).to(out.dtype)
            return torch.cat([out[..., :4] / (1.0 - dark), out[..., 4:]], dim=2)

    class Refuses(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape[1] != 7:
                raise RuntimeError("this model wants seven channels")
            return x

    class YoloThreeClasses(nn.Module):
        def forward(self, x):
            b = x.shape[0]
            return x.mean(dim=(1, 2, 3)).reshape(b, 1, 1).expand(b, 7, 20) * 1.0

    return {
        "nan": NanBoxes(),
        "class": ClassOutOfRange(),
        "dark": NanOnDarkImages(),
        "refuses": Refuses(),
        "yolo3": YoloThreeClasses(),
        "good": BrightSpotDetector(),
    }


@cache
def _export_bytes(key: str) -> bytes:
    """torch.export of one of the small detectors (a second each: made once per session)."""
    from tests.jobs.tiny_models import WrongShapeModel, export

    module = WrongShapeModel() if key == "wrong" else _modules()[key]
    with tempfile.TemporaryDirectory() as folder:
        if key == "refuses":  # cannot be exported: it refuses the example input too
            import torch

            torch.jit.script(module).save(str(Path(folder) / "model.pt"))
            return (Path(folder) / "model.pt").read_bytes()
        return export(module, Path(folder) / "model.pt2").read_bytes()


def _exported(key: str, name: str) -> Callable[[Path], Path]:
    return lambda folder: write(folder, name, _export_bytes(key))


def _good_pt2(_folder: Path) -> bytes:
    return _export_bytes("good")


def _rewritten(name: str, change: Callable[[str, bytes, Path], bytes | None]):
    """A real .pt2 with entries changed (None drops one), re-zipped as torch would."""

    def build(folder: Path) -> Path:
        source = zipfile.ZipFile(io.BytesIO(_good_pt2(folder)))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as out:
            for info in source.infolist():
                data = change(info.filename, source.read(info), folder)
                if data is not None:
                    out.writestr(zipfile.ZipInfo(info.filename, DATE), data)
        return write(folder, name, buffer.getvalue())

    return build


def _pickled_weight(protocol: int, nested: bool = False):
    """The first weight marked use_pickle and replaced by the payload."""

    def change(entry: str, data: bytes, folder: Path) -> bytes:
        if entry.endswith("model_weights_config.json"):
            config = json.loads(data)
            first = next(iter(config["config"].values()))
            first["use_pickle"] = True
            return json.dumps(config).encode()
        if entry.endswith("data/weights/weight_0"):
            payload = _payload(folder, protocol)
            return _torch_saved({"w": _Payload(folder / MARKER)}) if nested else payload
        return data

    return change


def _legacy(folder: Path) -> Path:
    """The pre-2.7 .pt2 layout: torch.export.load falls back to torch.load(weights_only=False)."""
    from torch._export.serde.schema import SCHEMA_VERSION

    entries = {
        "version": ".".join(map(str, SCHEMA_VERSION)).encode(),
        "serialized_exported_program.json": b"{}",
        "serialized_state_dict.json": _torch_saved({"w": _Payload(folder / MARKER)}),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        for entry, data in entries.items():
            out.writestr(zipfile.ZipInfo(entry, DATE), data)
    return write(folder, "legacy.pt2", buffer.getvalue())


def _torchscript_like(folder: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        out.writestr(zipfile.ZipInfo("model/data.pkl", DATE), _payload(folder, 2))
        out.writestr(zipfile.ZipInfo("model/version", DATE), b"3")
    return write(folder, "scripted.torchscript", buffer.getvalue())


def _zip_of(name: str, entries: dict[str, bytes]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
            for entry, data in entries.items():
                out.writestr(zipfile.ZipInfo(entry, DATE), data)
        return write(folder, name, buffer.getvalue())

    return build


def model_cases() -> list[ModelCase]:
    cases = [
        # Files that would run code when loaded: refused before they are stored.
        *(
            ModelCase(
                f"pickled-weight-protocol-{p}",
                _rewritten(f"p{p}.pt2", _pickled_weight(p)),
                "upload",
                "exec",
            )
            for p in (0, 1, 2, 3, 4, 5)
        ),
        ModelCase(
            "pickled-weight-in-torch-save",
            _rewritten("nested.pt2", _pickled_weight(2, True)),
            "upload",
            "exec",
        ),
        ModelCase("legacy-layout-state-dict", _legacy, "upload", "exec"),
        ModelCase(
            "torch-save-named-pt",
            lambda f: write(f, "saved.pt", _torch_saved({"w": _Payload(f / MARKER)})),
            "upload",
            "exec",
        ),
        ModelCase(
            "plain-pickle-named-pt",
            lambda f: write(f, "plain.pt", _payload(f, 2)),
            "upload",
            "not a zip archive",
        ),
        ModelCase("torchscript-with-pickled-code", _torchscript_like, "upload", "exec"),
        # Not model files at all.
        ModelCase(
            "text-named-pt2", lambda f: write(f, "text.pt2", b"not a model\n"), "upload", "text.pt2"
        ),
        ModelCase("empty-pt2", lambda f: write(f, "empty.pt2", b""), "upload", "empty"),
        ModelCase(
            "truncated-pt2", lambda f: write(f, "cut.pt2", _good_pt2(f)[:2000]), "upload", "cut.pt2"
        ),
        ModelCase("onnx", lambda f: write(f, "model.onnx", b"\x08\x07onnx"), "upload", ".onnx"),
        ModelCase("no-suffix", lambda f: write(f, "model", b"x"), "upload", "unsupported"),
        ModelCase(
            "zip-not-a-model", _zip_of("notes.pt2", {"a.txt": b"hello"}), "probe", "cannot load"
        ),
        ModelCase(
            "zip-bomb-pt2",
            _zip_of("bomb.pt2", {"w/weight_0": bytes(8 * 1024 * 1024)}),
            "probe",
            "cannot load",
        ),
        ModelCase(
            "torchscript-garbage",
            _zip_of("g.pt", {"g/data.pkl": b"\x80\x02garbage"}),
            "probe",
            "cannot load",
        ),
        # Real models whose outputs break the contract: the probe says how.
        ModelCase("wrong-output-shape", _exported("wrong", "wrong.pt2"), "probe", "output"),
        ModelCase("nan-boxes", _exported("nan", "nan.pt2"), "probe", "NaN"),
        ModelCase("labels-out-of-range", _exported("class", "class.pt2"), "probe", "class index"),
        ModelCase(
            "refuses-every-input",
            _exported("refuses", "refuses.pt"),
            "probe",
            "refused every input",
        ),
        ModelCase(
            "yolo-head-vs-label-count",
            _exported("yolo3", "yolo3.pt2"),
            "probe",
            "classes",
            labels="a,b,c,d,e",
            output_format="yolo",
        ),
        # Passes the probe, breaks on the real images: the run fails with the reason.
        ModelCase("nan-on-real-images", _exported("dark", "dark.pt2"), "run", "infinite boxes"),
        ModelCase("good", _exported("good", "good.pt2"), "ok", ""),
    ]
    return cases
