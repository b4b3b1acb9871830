"""The wizards' values between steps, kept in the session as the raw text the user entered.

Each wizard (one per + click, so one per browser tab) has its own id and state; the session
keeps the most recently used MAX_WIZARDS of them. Calls without a wizard id act on the most
recently used wizard (the id-less URLs kept for old links and scripts).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping

from validation.analysis import curves, whatif
from validation.models import InferenceRun

SESSION_KEY = "validation_wizards"
MAX_WIZARDS = 10
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{6,32}")
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


def _wizards(session) -> dict[str, dict]:
    """The session's wizards, least recently used first (a copy: write back with _store)."""
    stored = session.get(SESSION_KEY)
    return dict(stored) if isinstance(stored, dict) else {}


def _store(session, wizards: dict[str, dict]) -> None:
    while len(wizards) > MAX_WIZARDS:
        del wizards[next(iter(wizards))]
    session[SESSION_KEY] = wizards


def create(session) -> str:
    """A fresh, empty wizard; it becomes the most recently used one."""
    wizards = _wizards(session)
    wizard_id = secrets.token_urlsafe(9)
    wizards[wizard_id] = {}
    _store(session, wizards)
    return wizard_id


def exists(session, wizard_id: str | None) -> bool:
    return bool(wizard_id) and wizard_id in _wizards(session)


def current(session) -> str | None:
    """The most recently used wizard, or None when the session has none."""
    wizards = _wizards(session)
    return next(reversed(wizards), None) if wizards else None


def _resolve(session, wizard_id: str | None) -> str | None:
    return wizard_id if wizard_id is not None else current(session)


def load(session, step: int, wizard_id: str | None = None) -> dict[str, str]:
    """The values saved for one step (empty when the step was never visited)."""
    state = _wizards(session).get(_resolve(session, wizard_id) or "", {})
    return dict(state.get(str(step), {}))


def save(session, step: int, data: Mapping, wizard_id: str | None = None) -> str:
    """Save one step's raw values, valid or not; returns the wizard's id (made when none)."""
    wizard_id = _resolve(session, wizard_id) or create(session)
    wizards = _wizards(session)
    state = dict(wizards.pop(wizard_id, {}))
    state[str(step)] = {name: str(data.get(name, "")) for name in STEP_FIELDS[step]}
    wizards[wizard_id] = state  # re-inserted last: the most recently used
    _store(session, wizards)
    return wizard_id


def discard(session, wizard_id: str | None = None) -> None:
    """Forget one wizard (its run was started); the others are kept."""
    wizard_id = _resolve(session, wizard_id)
    wizards = _wizards(session)
    if wizard_id in wizards:
        del wizards[wizard_id]
        _store(session, wizards)


def prefill_from_run(session, run: InferenceRun, base: float, own: dict[str, float]) -> str:
    """A new wizard's three steps as if typed: this run's settings with the new confidences."""
    wizard = create(session)
    choice = {"process": run.process_id, "model": run.model_id, "project": run.project_id}
    save(session, 1, choice, wizard)
    confidences = {
        "base_confidence": whatif.number(base),
        "tab": "source",
        "label_confidences": curves.wizard_source(own),
    }
    save(session, 2, confidences, wizard)
    parameters = {
        "device": run.device,
        "batch_size": run.batch_size,
        "image_size": run.image_size,
        "iou_threshold": whatif.number(run.iou_threshold),
        "low_overlap_threshold": whatif.number(run.low_overlap_threshold),
    }
    save(session, 3, parameters, wizard)
    return wizard
