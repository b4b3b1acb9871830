"""Load torch.export programs and TorchScript files onto a device, safely."""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from picklecheck.scan import NotAnArchive, scan_model_file

from .metadata import EXTRA_FILE_NAMES, read_extra_files
from .types import EngineError, ModelLoadError, ModelSpec

EXPORT_SUFFIXES = (".pt2",)
TORCHSCRIPT_SUFFIXES = (".pt", ".torchscript", ".pth", ".jit", ".ts")


@dataclass
class LoadedModel:
    """A callable model on its device, with what the file says about itself."""

    module: Any
    kind: str  # "export" | "torchscript"
    device: torch.device
    dtype: torch.dtype
    metadata: dict[str, Any] = field(default_factory=dict)
    # Input dims from the exported graph, None where symbolic: (batch, channels, h, w).
    input_shape_hint: tuple[int | None, ...] | None = None
    # Classes including background, read from the weights of torchvision-style heads.
    head_classes: int | None = None


def resolve_format(spec: ModelSpec) -> str:
    """The file format: spec.format, or from the suffix when "auto"."""
    if spec.format != "auto":
        return spec.format
    suffix = Path(spec.path).suffix.lower()
    if suffix in EXPORT_SUFFIXES:
        return "export"
    if suffix in TORCHSCRIPT_SUFFIXES:
        return "torchscript"
    raise ModelLoadError(
        f"cannot tell the model format from the file name {Path(spec.path).name!r}: "
        "expected .pt2 (torch.export) or .pt/.torchscript (TorchScript)"
    )


def check_device(device: str) -> None:
    """A usable torch device string; CUDA is only touched when the device asks for it."""
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise EngineError(f"unknown device {device!r}") from exc
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (dev.index or 0) >= count:
            raise EngineError(f"CUDA device {device} is not available on this machine")


def _refuse_code_in_pickles(path: Path) -> None:
    """torch.export.load unpickles parts of the file freely: scan them before anything loads."""
    try:
        findings = scan_model_file(path)
    except NotAnArchive:
        raise ModelLoadError(
            f"{path.name} is not a .pt2 or TorchScript file (not a zip archive)"
        ) from None
    if findings:
        first = findings[0]
        raise ModelLoadError(
            f"{path.name}: {first.entry} would run {first.reference} when loaded; "
            "a model file may only hold tensors and TorchScript code, so it was not loaded"
        )


def load_model(spec: ModelSpec, device: str) -> LoadedModel:
    """Load the model file onto the device; raise ModelLoadError with a readable reason."""
    check_device(device)
    path = Path(spec.path)
    if not path.is_file():
        raise ModelLoadError(f"model file not found: {path.name}")
    kind = resolve_format(spec)
    _refuse_code_in_pickles(path)
    dev = torch.device(device)
    try:
        loaded = _load_export(path, dev) if kind == "export" else _load_torchscript(path, dev)
    except ModelLoadError:
        raise
    except Exception as exc:  # any loader failure becomes a user message
        what = "torch.export program" if kind == "export" else "TorchScript model"
        raise ModelLoadError(f"cannot load {path.name} as a {what}: {short_error(exc)}") from exc
    loaded.dtype = _model_dtype(loaded.module)
    loaded.head_classes = _torchvision_head_classes(loaded.module)
    return loaded


def _load_export(path: Path, device: torch.device) -> LoadedModel:
    """torch.export.load, moved to the device by the export pass, then unlifted to a module."""
    program = torch.export.load(str(path))
    hint = _input_shape_hint(program)
    if device.type != "cpu":
        from torch.export.passes import move_to_device_pass

        program = move_to_device_pass(program, device)
    module = program.module()
    with contextlib.suppress(NotImplementedError):  # exported graphs keep their export mode
        module.eval()
    return LoadedModel(module, "export", device, torch.float32, {}, hint)


def _load_torchscript(path: Path, device: torch.device) -> LoadedModel:
    """torch.jit.load with the metadata extra files requested."""
    extra: dict[str, Any] = dict.fromkeys(EXTRA_FILE_NAMES, "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated, still used
        module = torch.jit.load(str(path), map_location=device, _extra_files=extra)
    module.eval()
    return LoadedModel(module, "torchscript", device, torch.float32, read_extra_files(extra))


def _input_shape_hint(program: Any) -> tuple[int | None, ...] | None:
    """Static dims of the first user input of an exported program (None where dynamic)."""
    try:
        first = program.graph_signature.user_inputs[0]
    except (AttributeError, IndexError):
        return None
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name == first:
            val = node.meta.get("val")
            shape = getattr(val, "shape", None)
            if shape is None or len(shape) != 4:
                return None
            return tuple(d if isinstance(d, int) else None for d in shape)
    return None


def _model_dtype(module: Any) -> torch.dtype:
    """The dtype of the first floating parameter or buffer (float32 when none)."""
    try:
        tensors = list(module.parameters()) + list(module.buffers())
    except Exception:  # some scripted modules refuse introspection
        return torch.float32
    for tensor in tensors:
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _torchvision_head_classes(module: Any) -> int | None:
    """Number of classes (background included) of a torchvision R-CNN box predictor."""
    try:
        state = module.state_dict()
    except Exception:
        return None
    for key, tensor in state.items():
        if key.endswith("box_predictor.cls_score.weight") and tensor.dim() == 2:
            return int(tensor.shape[0])
    return None


def short_error(exc: BaseException, limit: int = 300) -> str:
    """First line(s) of an exception message, bounded."""
    text = str(exc).strip() or type(exc).__name__
    lines = [ln for ln in text.splitlines() if ln.strip()]
    text = lines[-1] if len(lines) > 3 else " ".join(lines)
    return text if len(text) <= limit else text[: limit - 1] + "…"
