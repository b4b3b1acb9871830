"""Inference engine: torch models in, boxes in original-image pixels out. No Django here."""

from .memory import keep_freed_memory
from .probe import probe_model
from .runner import run_inference
from .types import (
    Cancelled,
    EngineError,
    InferenceResult,
    InputContractError,
    ModelLoadError,
    ModelSpec,
    OutOfMemoryAtBatchOne,
    OutputContractError,
    ProbeResult,
)

__all__ = [
    "Cancelled",
    "EngineError",
    "InferenceResult",
    "InputContractError",
    "ModelLoadError",
    "ModelSpec",
    "OutOfMemoryAtBatchOne",
    "OutputContractError",
    "ProbeResult",
    "keep_freed_memory",
    "probe_model",
    "run_inference",
]
