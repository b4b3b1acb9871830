"""Command line: a COCO results file against a COCO data set, with metrics_rs; no database.

    python -m validation.evaluate --gt DATASET.json --pred RESULTS.json \\
        [--conf 0.25] [--label-conf NAME=VALUE ...] [--iou 0.5] [--low 0.5] [--format json|table]

metrics_rs reads both files straight into its arrays; the metrics dictionary and the formats are
reusable without Django.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import metrics_rs

EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """A file or argument that cannot be used; the message names it."""


@dataclass
class CocoRun:
    """A COCO data set and results as metrics_rs's flat arrays (images by ascending id)."""

    labels: list[str]
    category_ids: np.ndarray
    image_ids: np.ndarray
    gt_boxes: np.ndarray
    gt_labels: np.ndarray
    gt_offsets: np.ndarray
    pred_boxes: np.ndarray
    pred_labels: np.ndarray
    pred_scores: np.ndarray
    pred_offsets: np.ndarray

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The seven positional arguments of metrics_rs's functions."""
        return (
            self.gt_boxes,
            self.gt_labels,
            self.gt_offsets,
            self.pred_boxes,
            self.pred_labels,
            self.pred_scores,
            self.pred_offsets,
        )


def read_coco(gt_path: str | Path, pred_path: str | Path) -> CocoRun:
    """Both files read by metrics_rs (in Rust, without the GIL); a file that cannot be used is
    a BadInput whose message names it and the place (line and column, element, field)."""
    try:
        labels, *arrays = metrics_rs.read_coco(gt_path, pred_path)
    except ValueError as e:
        raise BadInput(str(e)) from e
    return CocoRun(labels, *arrays)


def label_thresholds(labels: Sequence[str], base: float, own: dict[str, float]) -> np.ndarray:
    """Confidence per label: its own where given (it must be >= base), else the base."""
    for name, value in own.items():
        if name not in labels:
            raise BadInput(f"--label-conf {name}={value}: no category is named {name!r}")
        if value < base:
            raise BadInput(f"--label-conf {name}={value}: below the base confidence --conf {base}")
    return np.array([own.get(name, base) for name in labels], dtype=np.float64)


def _value(x: float) -> float | None:
    """A metric for JSON: null where undefined."""
    return None if math.isnan(x) else float(x)


def _nanmean(values: np.ndarray) -> float | None:
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else None


def metrics_summary(ev: Any, ap: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """The metrics dictionary of the command line (and the JSON keys the issue lists)."""
    labels = list(labels)
    per_label = {}
    for k, name in enumerate(labels):
        per_label[name] = {
            "precision": _value(ev.precision[k]),
            "recall": _value(ev.recall[k]),
            "f1": _value(ev.f1[k]),
            "ap50": _value(ap[k, 0]),
            "ap50_95": _nanmean(ap[k]),
            "annotations": int(ev.gt_count[k]),
            "predictions": int(ev.pred_count[k]),
        }
    return {
        "labels": labels,
        "rows": [*labels, "{}"],
        "columns": [*labels, "BG", "LOC"],
        "matrix": np.asarray(ev.matrix).tolist(),
        "overall": {
            "precision": _value(ev.micro_precision),
            "recall": _value(ev.micro_recall),
            "f1": _value(ev.micro_f1),
        },
        "per_label": per_label,
        "map50": _nanmean(ap[:, 0]) if len(ap) else None,
        "map50_95": _nanmean(ap) if len(ap) else None,
    }


def evaluate_run(run: CocoRun, thresholds: np.ndarray, iou: float, low: float) -> dict[str, Any]:
    """metrics_rs over a converted run: the metrics dictionary."""
    n = len(run.labels)
    try:
        ev = metrics_rs.evaluate(
            *run.arrays(),
            num_labels=n,
            label_thresholds=thresholds,
            iou_threshold=iou,
            low_overlap_threshold=low,
        )
        ap = metrics_rs.coco_ap(*run.arrays(), num_labels=n)
    except ValueError as e:
        raise BadInput(str(e)) from e
    return metrics_summary(ev, ap, run.labels)


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, left: bool = False) -> str:
    space = " " * max(width - _width(text), 0)
    return text + space if left else space + text


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [_pad(r[0], widths[0], left=True)]
        cells += [_pad(c, w) for c, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return lines


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.4f}"


def format_json(summary: dict[str, Any]) -> str:
    """Indented JSON with each list of integers (the matrix rows) on one line."""
    text = json.dumps(summary, ensure_ascii=False, indent=2)
    return re.sub(
        r"\[\s*((?:-?\d+,\s*)*-?\d+)\s*\]",
        lambda m: "[" + ", ".join(re.split(r",\s*", m.group(1))) + "]",
        text,
    )


def format_table(summary: dict[str, Any]) -> str:
    """The metrics dictionary for a person to read."""
    o = summary["overall"]
    lines = ["Confusion matrix (rows: predicted ↓, columns: actual →)"]
    rows = [
        [r, *map(str, cells)] for r, cells in zip(summary["rows"], summary["matrix"], strict=True)
    ]
    lines += _table(["", *summary["columns"]], rows)
    lines += [
        "",
        f"Overall: precision {_fmt(o['precision'])}  recall {_fmt(o['recall'])}  "
        f"F1 {_fmt(o['f1'])}",
        f"mAP50 {_fmt(summary['map50'])}  mAP50-95 {_fmt(summary['map50_95'])}",
        "",
    ]
    header = ["label", "precision", "recall", "F1", "AP50", "AP50-95", "annotations", "predictions"]
    keys = ["precision", "recall", "f1", "ap50", "ap50_95"]
    rows = [
        [name, *(_fmt(m[k]) for k in keys), str(m["annotations"]), str(m["predictions"])]
        for name, m in summary["per_label"].items()
    ]
    lines += _table(header, rows)
    return "\n".join(lines)


def _label_conf(text: str) -> tuple[str, float]:
    name, sep, value = text.rpartition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, _confidence(value)


def _confidence(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is outside [0, 1]")
    return value


def _overlap(text: str) -> float:
    value = _confidence(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m validation.evaluate",
        description="Confusion matrix, precision, recall, F1 and COCO mAP of detection results "
        "against a COCO data set (SPEC §4). Labels are the categories by ascending id; "
        "iscrowd is ignored (every annotation counts).",
    )
    p.add_argument("--gt", required=True, metavar="DATASET.json", help="COCO data set")
    p.add_argument("--pred", required=True, metavar="RESULTS.json", help="COCO results list")
    p.add_argument("--conf", type=_confidence, default=0.25, help="base confidence (0.25)")
    p.add_argument(
        "--label-conf",
        type=_label_conf,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a label's own confidence, >= --conf (repeatable)",
    )
    p.add_argument("--iou", type=_overlap, default=0.5, help="IoU threshold (0.5)")
    p.add_argument("--low", type=_overlap, default=0.5, help="low-overlap threshold (0.5)")
    p.add_argument("--format", choices=["json", "table"], default="json")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.iou > args.low:
            raise BadInput(f"--iou {args.iou} must not exceed --low {args.low}")
        run = read_coco(args.gt, args.pred)
        thresholds = label_thresholds(run.labels, args.conf, dict(args.label_conf))
        summary = evaluate_run(run, thresholds, args.iou, args.low)
    except BadInput as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    text = format_json(summary) if args.format == "json" else format_table(summary)
    try:
        print(text)
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
    return 0
