"""python -m validation.evaluate: COCO files in, the metrics the issue lists out."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import metrics_rs
from validation.analysis import coco as cli

from .coco_reference import coco_to_arrays

REPO = Path(__file__).resolve().parents[2]
KEYS = {"labels", "rows", "columns", "matrix", "overall", "per_label", "map50", "map50_95"}
LABEL_KEYS = {"precision", "recall", "f1", "ap50", "ap50_95", "annotations", "predictions"}


def dataset(seed: int = 0, images: int = 30) -> tuple[dict, list]:
    """A random COCO data set (shuffled ids, Chinese names) and results on it."""
    rng = np.random.default_rng(seed)
    categories = [{"id": 7, "name": "划痕"}, {"id": 2, "name": "dent"}, {"id": 4, "name": "污渍"}]
    image_ids = rng.permutation(np.arange(100, 100 + images)).tolist()
    imgs = [{"id": i, "file_name": f"{i}.png", "width": 640, "height": 480} for i in image_ids]
    anns, results = [], []
    for image_id in image_ids:
        for _ in range(rng.integers(0, 6)):
            x, y = rng.integers(0, 300, 2)
            w, h = rng.integers(1, 80, 2)
            cat = int(rng.choice([7, 2, 4]))
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": image_id,
                    "category_id": cat,
                    "bbox": [int(x), int(y), int(w), int(h)],
                    "area": int(w * h),
                    "iscrowd": 0,
                }
            )
            if rng.random() < 0.8:
                dx, dy = rng.integers(-4, 5, 2)
                keep = cat if rng.random() < 0.8 else int(rng.choice([7, 2, 4]))
                results.append(
                    {
                        "image_id": image_id,
                        "category_id": keep,
                        "bbox": [int(x + dx), int(y + dy), int(w), int(h)],
                        "score": round(float(rng.random()), 2),
                    }
                )
        for _ in range(rng.integers(0, 3)):
            x, y = rng.integers(0, 300, 2)
            results.append(
                {
                    "image_id": image_id,
                    "category_id": int(rng.choice([7, 2, 4])),
                    "bbox": [int(x), int(y), 30, 20],
                    "score": round(float(rng.random()), 2),
                }
            )
    return {"images": imgs, "annotations": anns, "categories": categories}, results


def write(tmp_path: Path, gt, pred) -> tuple[str, str]:
    gt_path, pred_path = tmp_path / "gt.json", tmp_path / "pred.json"
    gt_path.write_text(gt if isinstance(gt, str) else json.dumps(gt, ensure_ascii=False))
    pred_path.write_text(pred if isinstance(pred, str) else json.dumps(pred))
    return str(gt_path), str(pred_path)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output_has_exactly_the_listed_keys_and_matches_metrics_rs(tmp_path, capsys):
    gt, pred = dataset()
    g, p = write(tmp_path, gt, pred)
    code, out, _ = run_cli(
        capsys,
        "--gt",
        g,
        "--pred",
        p,
        "--conf",
        "0.3",
        "--label-conf",
        "污渍=0.6",
        "--iou",
        "0.4",
        "--low",
        "0.6",
    )
    assert code == 0
    summary = json.loads(out)
    assert set(summary) == KEYS
    labels = ["dent", "污渍", "划痕"]  # category ids 2, 4, 7
    assert summary["labels"] == labels
    assert summary["rows"] == [*labels, "{}"]
    assert summary["columns"] == [*labels, "BG", "LOC"]
    assert set(summary["overall"]) == {"precision", "recall", "f1"}
    assert all(set(m) == LABEL_KEYS for m in summary["per_label"].values())

    run = coco_to_arrays(gt, pred)
    ev = metrics_rs.evaluate(
        *run.arrays(),
        num_labels=3,
        label_thresholds=[0.3, 0.6, 0.3],
        iou_threshold=0.4,
        low_overlap_threshold=0.6,
    )
    assert summary["matrix"] == ev.matrix.tolist()
    assert summary["overall"]["precision"] == ev.micro_precision
    assert summary["per_label"]["污渍"]["predictions"] == ev.pred_count[1]
    assert summary["per_label"]["dent"]["annotations"] == sum(
        a["category_id"] == 2 for a in gt["annotations"]
    )
    assert sum(map(sum, summary["matrix"])) == ev.pred_count.sum() + (ev.gt_pred == -1).sum()


def test_map_equals_pycocotools_on_the_same_files(tmp_path, capsys):
    gt, pred = dataset(seed=3, images=40)
    g, p = write(tmp_path, gt, pred)
    code, out, _ = run_cli(capsys, "--gt", g, "--pred", p)
    assert code == 0
    summary = json.loads(out)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(g)
        ev = COCOeval(coco, coco.loadRes(p), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert abs(summary["map50_95"] - ev.stats[0]) < 1e-6
    assert abs(summary["map50"] - ev.stats[1]) < 1e-6


def test_table_format_is_readable(tmp_path, capsys):
    gt, pred = dataset()
    gt["categories"].append({"id": 9, "name": "unused"})
    g, p = write(tmp_path, gt, pred)
    code, out, _ = run_cli(capsys, "--gt", g, "--pred", p, "--format", "table")
    assert code == 0
    assert "Confusion matrix (rows: predicted ↓, columns: actual →)" in out
    assert "划痕" in out and "mAP50-95" in out
    matrix_row, metrics_row = [line for line in out.splitlines() if line.startswith("unused ")]
    assert matrix_row.split()[1:] == ["0"] * 6
    assert metrics_row.split()[1:] == ["—", "—", "—", "—", "—", "0", "0"]


def test_no_prediction_over_annotated_images_has_f1_zero_overall(tmp_path, capsys):
    gt, _ = dataset()
    g, p = write(tmp_path, gt, [])
    code, out, _ = run_cli(capsys, "--gt", g, "--pred", p)
    summary = json.loads(out)
    assert code == 0
    assert summary["overall"] == {"precision": None, "recall": 0.0, "f1": 0.0}
    assert summary["map50"] == 0.0
    annotated = [m for m in summary["per_label"].values() if m["annotations"]]
    assert annotated and all(m["f1"] == 0.0 for m in annotated)


GOOD_GT = {
    "images": [{"id": 1}, {"id": 2}],
    "categories": [{"id": 1, "name": "scratch"}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5]}],
}
GOOD_PRED = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.9}]


@pytest.mark.parametrize(
    "gt,pred,file,message",
    [
        (
            "{",
            GOOD_PRED,
            "gt.json",
            "not valid JSON (EOF while parsing an object at line 1 column 1)",
        ),
        (GOOD_GT, '[{"image_id": 1, "bbox": [0, ', "pred.json", "not valid JSON (EOF while"),
        ([], GOOD_PRED, "gt.json", "expected a COCO data set"),
        (
            {**GOOD_GT, "images": None},
            GOOD_PRED,
            "gt.json",
            "images: invalid type: null, expected a list at line 1 column 15",
        ),
        ({"images": [], "categories": []}, [], "gt.json", '"annotations" is missing'),
        (
            {**GOOD_GT, "annotations": [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5]}]},
            GOOD_PRED,
            "gt.json",
            'annotations[0]: "bbox": invalid length 3, expected 4 numbers [x, y, w, h] at line',
        ),
        (
            {**GOOD_GT, "annotations": [{"image_id": 3, "category_id": 1, "bbox": [0, 0, 5, 5]}]},
            GOOD_PRED,
            "gt.json",
            "annotations[0]: image_id 3 is not an image of the data set",
        ),
        (
            {**GOOD_GT, "images": [{"id": 1}, {"id": 1}]},
            GOOD_PRED,
            "gt.json",
            "images[1]: id 1 appears twice",
        ),
        (GOOD_GT, {"annotations": []}, "pred.json", "expected a list"),
        (
            GOOD_GT,
            [*GOOD_PRED, {"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5]}],
            "pred.json",
            '[1]: "score" is missing',
        ),
        (
            GOOD_GT,
            [*GOOD_PRED, {**GOOD_PRED[0], "category_id": 5}],
            "pred.json",
            "[1]: category_id 5 is not a category in",
        ),
        (
            GOOD_GT,
            [{**GOOD_PRED[0], "image_id": 42}],
            "pred.json",
            "[0]: image_id 42 is not an image in",
        ),
        (
            GOOD_GT,
            [{**GOOD_PRED[0], "bbox": [0, 0, -1, 5]}],
            "pred.json",
            '[0]: "bbox" has a negative width or height',
        ),
        (
            GOOD_GT,
            [{**GOOD_PRED[0], "score": "high"}],
            "pred.json",
            '[0]: "score": invalid type: string "high", expected a number at line 1 column',
        ),
        (
            GOOD_GT,
            [{**GOOD_PRED[0], "score": float("nan")}],
            "pred.json",
            "not valid JSON (expected value at line 1 column",
        ),
    ],
)
def test_bad_files_exit_2_naming_the_file(tmp_path, capsys, gt, pred, file, message):
    g, p = write(tmp_path, gt, pred)
    code, out, err = run_cli(capsys, "--gt", g, "--pred", p)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {tmp_path / file}")
    assert message in err


def test_missing_file_is_named(tmp_path, capsys):
    g, _ = write(tmp_path, GOOD_GT, GOOD_PRED)
    code, _, err = run_cli(capsys, "--gt", g, "--pred", str(tmp_path / "none.json"))
    assert code == 2
    assert f"{tmp_path / 'none.json'}: cannot read the file (No such file" in err


@pytest.mark.parametrize(
    "args,message",
    [
        (["--label-conf", "scratch=0.1"], "below the base confidence --conf 0.25"),
        (["--label-conf", "dent=0.5"], "no category is named 'dent'"),
        (["--iou", "0.7", "--low", "0.5"], "--iou 0.7 must not exceed --low 0.5"),
    ],
)
def test_bad_options_exit_2(tmp_path, capsys, args, message):
    g, p = write(tmp_path, GOOD_GT, GOOD_PRED)
    code, _, err = run_cli(capsys, "--gt", g, "--pred", p, *args)
    assert code == 2 and message in err


@pytest.mark.parametrize("args", [["--conf", "1.5"], ["--iou", "0"], ["--label-conf", "x"]])
def test_malformed_options_are_usage_errors(tmp_path, args):
    g, p = write(tmp_path, GOOD_GT, GOOD_PRED)
    with pytest.raises(SystemExit) as exc:
        cli.main(["--gt", g, "--pred", p, *args])
    assert exc.value.code == 2


def test_runs_as_a_module_without_django(tmp_path):
    g, p = write(tmp_path, GOOD_GT, GOOD_PRED)
    code = (
        "import runpy, sys; sys.argv = ['x', '--gt', sys.argv[1], '--pred', sys.argv[2]];"
        "import validation.analysis.coco;"
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules);"
        "runpy.run_module('validation.evaluate', run_name='__main__')"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", code, g, p],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["per_label"]["scratch"]["f1"] == 1.0


def test_the_command_reads_the_files_without_json_load(tmp_path, capsys, monkeypatch):
    g, p = write(tmp_path, GOOD_GT, GOOD_PRED)

    def refuse(*args, **kwargs):
        raise AssertionError("json.load called")

    monkeypatch.setattr(json, "load", refuse)
    monkeypatch.setattr(json, "loads", refuse)
    code, out, _ = run_cli(capsys, "--gt", g, "--pred", p)
    assert code == 0 and '"scratch"' in out


def test_the_output_equals_the_python_converters_on_the_same_files(tmp_path, capsys):
    gt, pred = dataset(seed=11, images=60)
    g, p = write(tmp_path, gt, pred)
    code, out, _ = run_cli(capsys, "--gt", g, "--pred", p, "--format", "table")
    run = coco_to_arrays(gt, pred, g, p)
    thresholds = cli.label_thresholds(run.labels, 0.25, {})
    assert code == 0
    assert out == cli.format_table(cli.evaluate_run(run, thresholds, 0.5, 0.5)) + "\n"
