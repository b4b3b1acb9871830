"""Inline SVG geometry of a label's curves: plot coordinates, paths, hover markers and ticks."""

from __future__ import annotations

from dataclasses import dataclass

from validation.analysis.curves import CurvePoint, LabelCurve

MARKER_EVERY = 0.05  # a hover point every 0.05 of confidence
CHART_WIDTH, CHART_HEIGHT = 240, 180
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 34, 10, 10, 28
TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    point: CurvePoint


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    path: str
    markers: list[Marker]
    operating: Marker | None
    extra_paths: dict[str, str]

    @property
    def plot(self) -> dict[str, float]:
        return {
            "left": PAD_LEFT,
            "top": PAD_TOP,
            "right": self.width - PAD_RIGHT,
            "bottom": self.height - PAD_BOTTOM,
            "width": self.width - PAD_LEFT - PAD_RIGHT,
            "height": self.height - PAD_TOP - PAD_BOTTOM,
        }

    @property
    def x_ticks(self) -> list[tuple[float, str]]:
        return [(_xy(v, 0)[0], f"{v:g}") for v in TICKS]

    @property
    def y_ticks(self) -> list[tuple[float, str]]:
        return [(_xy(0, v)[1], f"{v:g}") for v in TICKS]


def _xy(x: float, y: float) -> tuple[float, float]:
    plot_w = CHART_WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = CHART_HEIGHT - PAD_TOP - PAD_BOTTOM
    return round(PAD_LEFT + x * plot_w, 1), round(PAD_TOP + (1 - y) * plot_h, 1)


def _path(pairs: list[tuple[float, float]]) -> str:
    coords = [_xy(x, y) for x, y in pairs]
    return " ".join(f"{'M' if i == 0 else 'L'}{x},{y}" for i, (x, y) in enumerate(coords))


def _is_marker(confidence: float) -> bool:
    steps = confidence / MARKER_EVERY
    return abs(steps - round(steps)) < 1e-9


def pr_chart(curve: LabelCurve) -> Chart | None:
    """Precision over recall, from the highest confidence to the lowest; None when undefined."""
    defined = [
        p for p in reversed(curve.points) if p.precision is not None and p.recall is not None
    ]
    if not defined:
        return None
    pairs = [(p.recall, p.precision) for p in defined]
    markers = [Marker(*_xy(p.recall, p.precision), p) for p in defined if _is_marker(p.confidence)]  # type: ignore[arg-type]
    op = curve.operating
    operating = (
        Marker(*_xy(op.recall, op.precision), op)
        if op is not None and op.recall is not None and op.precision is not None
        else None
    )
    return Chart(CHART_WIDTH, CHART_HEIGHT, _path(pairs), markers, operating, {})  # type: ignore[arg-type]


def f1_chart(curve: LabelCurve) -> Chart | None:
    """F1 (and, lighter, precision and recall) over confidence; None when F1 is never defined."""
    with_f1 = [p for p in curve.points if p.f1 is not None]
    if not with_f1:
        return None
    extra = {}
    for name in ("precision", "recall"):
        pairs = [
            (p.confidence, getattr(p, name)) for p in curve.points if getattr(p, name) is not None
        ]
        if pairs:
            extra[name] = _path(pairs)
    markers = [Marker(*_xy(p.confidence, p.f1), p) for p in with_f1 if _is_marker(p.confidence)]  # type: ignore[arg-type]
    op = curve.operating
    operating = (
        Marker(*_xy(op.confidence, op.f1), op) if op is not None and op.f1 is not None else None
    )
    path = _path([(p.confidence, p.f1) for p in with_f1])  # type: ignore[misc]
    return Chart(CHART_WIDTH, CHART_HEIGHT, path, markers, operating, extra)
