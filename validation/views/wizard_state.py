"""The wizard's values between steps, kept in the session as the raw text the user entered."""

from __future__ import annotations

from collections.abc import Mapping

SESSION_KEY = "validation_wizard"
STEP_FIELDS = {
    1: ("process", "model", "project"),
    2: ("base_confidence", "tab", "label_confidences"),
    3: (
        "device",
        "batch_size",
        "image_size",
        "iou_threshold",
        "low_overlap_threshold",
    ),
}


def load(session, step: int) -> dict[str, str]:
    """The values saved for one step (empty when the step was never visited)."""
    return dict(session.get(SESSION_KEY, {}).get(str(step), {}))


def save(session, step: int, data: Mapping) -> None:
    """Save one step's raw values, whether or not they are valid yet."""
    state = dict(session.get(SESSION_KEY, {}))
    state[str(step)] = {name: str(data.get(name, "")) for name in STEP_FIELDS[step]}
    session[SESSION_KEY] = state


def clear(session) -> None:
    session.pop(SESSION_KEY, None)
