"""Benchmark metrics_rs against NumPy, faster-coco-eval and pycocotools on one generated run.

    .venv/bin/python bench/metrics.py [--quick] [--repeats N]

Data: 5,000 images (500 with --quick), about 10 annotations and 50 scored predictions each,
80 labels and a 10-label variant, from a fixed seed; each image's predictions in the order a
detector emits them (best first). Every peer is checked to give the same numbers before it is
timed; times are medians of the repeats, measured in this run. The command line end to end
(files in, printed result out) is bench/evaluate_cli.py.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from importlib import metadata
from pathlib import Path

# OpenBLAS's idle threads spin on the two cores the timed code needs; nothing here uses BLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import metrics_rs  # noqa: E402
from tests.metrics import numpy_matching as _numpy_matching  # noqa: E402

WIDTH, HEIGHT = 640, 480
OPTIONS = {"iou_threshold": 0.5, "low_overlap_threshold": 0.7}


def make_run(num_images: int, num_labels: int, seed: int) -> dict:
    """A synthetic run: detections near annotations (mostly right label) and background."""
    rng = np.random.default_rng(seed)
    n_gt = rng.poisson(10, num_images)
    n_pred = rng.poisson(50, num_images)
    gt_offsets = np.concatenate([[0], np.cumsum(n_gt)]).astype(np.int64)
    pred_offsets = np.concatenate([[0], np.cumsum(n_pred)]).astype(np.int64)
    n, m = int(gt_offsets[-1]), int(pred_offsets[-1])

    wh = rng.uniform(8, 120, (n, 2))
    xy = rng.uniform(0, 1, (n, 2)) * ([WIDTH, HEIGHT] - wh)
    gt_xywh = np.hstack([xy, wh])
    gt_labels = rng.integers(0, num_labels, n)

    pred_image = np.repeat(np.arange(num_images), n_pred)
    near = (rng.random(m) < 0.6) & (n_gt[pred_image] > 0)
    pick = gt_offsets[pred_image] + (rng.random(m) * np.maximum(n_gt[pred_image], 1)).astype(int)
    pick = np.where(near, pick, 0) if n else np.zeros(m, dtype=int)
    wh = np.where(
        near[:, None], gt_xywh[pick, 2:] * rng.normal(1, 0.12, (m, 2)), rng.uniform(8, 120, (m, 2))
    )
    wh = np.clip(wh, 1, None)
    centre = np.where(
        near[:, None],
        gt_xywh[pick, :2] + gt_xywh[pick, 2:] / 2,
        rng.uniform(0, 1, (m, 2)) * [WIDTH, HEIGHT],
    )
    centre = centre + near[:, None] * rng.normal(0, 0.08, (m, 2)) * wh
    pred_xywh = np.hstack([centre - wh / 2, wh])
    right = rng.random(m) < 0.85
    pred_labels = np.where(near & right, gt_labels[pick], rng.integers(0, num_labels, m))
    scores = np.where(near, rng.beta(5, 2, m), rng.beta(1, 4, m)).astype(np.float32)
    # A detector emits each image's boxes best first.
    order = np.lexsort((-scores, pred_image))
    pred_xywh, pred_labels, scores = pred_xywh[order], pred_labels[order], scores[order]

    def xyxy(xywh):
        return np.hstack([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]])

    return {
        "num_labels": num_labels,
        "gt_xywh": gt_xywh,
        "pred_xywh": pred_xywh,
        "arrays": {
            "gt_boxes": xyxy(gt_xywh),
            "gt_labels": gt_labels.astype(np.int64),
            "gt_offsets": gt_offsets,
            "pred_boxes": xyxy(pred_xywh),
            "pred_labels": pred_labels.astype(np.int64),
            "pred_scores": scores.astype(np.float64),
            "pred_offsets": pred_offsets,
        },
    }


def coco_dicts(run: dict) -> tuple[dict, list]:
    """The same run as a COCO data set (image id i + 1, category id label + 1) and results."""
    a = run["arrays"]
    num_images = len(a["gt_offsets"]) - 1
    gt_image = np.repeat(np.arange(num_images), np.diff(a["gt_offsets"])) + 1
    pred_image = np.repeat(np.arange(num_images), np.diff(a["pred_offsets"])) + 1
    anns = [
        {
            "id": i + 1,
            "image_id": int(img),
            "category_id": int(c) + 1,
            "bbox": box,
            "area": box[2] * box[3],
            "iscrowd": 0,
        }
        for i, (img, c, box) in enumerate(
            zip(gt_image, a["gt_labels"], run["gt_xywh"].tolist(), strict=True)
        )
    ]
    results = [
        {"image_id": int(img), "category_id": int(c) + 1, "bbox": box, "score": float(s)}
        for img, c, box, s in zip(
            pred_image, a["pred_labels"], run["pred_xywh"].tolist(), a["pred_scores"], strict=True
        )
    ]
    images = [{"id": i + 1, "width": WIDTH, "height": HEIGHT} for i in range(num_images)]
    cats = [{"id": k + 1, "name": f"label_{k}"} for k in range(run["num_labels"])]
    return {"images": images, "annotations": anns, "categories": cats}, results


def interleaved(fns: dict, repeats: int) -> dict[str, tuple[float, object]]:
    """Median wall time and last result of each function, calls taken in turn, so that a
    change in the machine's load during the run weighs on every contender alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    results: dict[str, object] = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(times[name]), results[name]) for name in fns}


def label_thresholds(num_labels: int) -> np.ndarray:
    return np.linspace(0.25, 0.5, num_labels)


def bench_evaluate(run: dict, repeats: int) -> dict:
    """metrics_rs.evaluate vs the vectorised NumPy implementation, outputs checked equal."""
    kwargs = dict(
        num_labels=run["num_labels"],
        label_thresholds=label_thresholds(run["num_labels"]),
        **OPTIONS,
    )
    a = run["arrays"]
    shuffled = dict(a, **shuffle_within_images(a))
    ev = metrics_rs.evaluate(**a, **kwargs)  # also starts rayon's pool
    ref = _numpy_matching.evaluate(**a, **kwargs)
    for name in ("matrix", "pred_gt", "pred_iou", "pred_kind", "gt_pred"):
        assert np.array_equal(getattr(ev, name), getattr(ref, name)), f"{name} differs from NumPy"
    same = metrics_rs.evaluate(**shuffled, **kwargs).matrix
    assert np.array_equal(same, ev.matrix), "shuffling within images changed the matrix"
    out = interleaved(
        {
            "metrics_rs": lambda: metrics_rs.evaluate(**a, **kwargs),
            "shuffled": lambda: metrics_rs.evaluate(**shuffled, **kwargs),
            "numpy": lambda: _numpy_matching.evaluate(**a, **kwargs),
        },
        repeats,
    )
    return {name: t for name, (t, _) in out.items()}


def shuffle_within_images(a: dict) -> dict:
    """The predictions of each image in a random order (so metrics_rs has to sort them)."""
    rng = np.random.default_rng(7)
    image = np.repeat(np.arange(len(a["pred_offsets"]) - 1), np.diff(a["pred_offsets"]))
    order = np.lexsort((rng.random(len(image)), image))
    return {k: a[k][order] for k in ("pred_boxes", "pred_labels", "pred_scores")}


def check_numpy_against_reference(run: dict) -> None:
    """The NumPy peer agrees with the pure-Python SPEC reference of the tests (first images)."""
    from tests.metrics import reference

    a, k = run["arrays"], 40
    go, po = a["gt_offsets"], a["pred_offsets"]
    images = [
        (
            [(tuple(a["gt_boxes"][j]), int(a["gt_labels"][j])) for j in range(go[i], go[i + 1])],
            [
                (tuple(a["pred_boxes"][j]), int(a["pred_labels"][j]), float(a["pred_scores"][j]))
                for j in range(po[i], po[i + 1])
            ],
        )
        for i in range(k)
    ]
    thresholds = label_thresholds(run["num_labels"])
    ref = reference.evaluate(
        images,
        run["num_labels"],
        list(thresholds),
        OPTIONS["iou_threshold"],
        OPTIONS["low_overlap_threshold"],
    )
    sub = {
        "gt_boxes": a["gt_boxes"][: go[k]],
        "gt_labels": a["gt_labels"][: go[k]],
        "gt_offsets": go[: k + 1],
        "pred_boxes": a["pred_boxes"][: po[k]],
        "pred_labels": a["pred_labels"][: po[k]],
        "pred_scores": a["pred_scores"][: po[k]],
        "pred_offsets": po[: k + 1],
    }
    got = _numpy_matching.evaluate(
        **sub, num_labels=run["num_labels"], label_thresholds=thresholds, **OPTIONS
    )
    assert got.matrix.tolist() == ref.matrix and got.pred_gt.tolist() == ref.pred_gt
    assert got.pred_kind.tolist() == ref.pred_kind and got.gt_pred.tolist() == ref.gt_pred


def cocoeval(lib: str, gt: dict, results: list):
    """A fresh COCOeval of `lib` over the data set (loading is not timed)."""
    with contextlib.redirect_stdout(io.StringIO()):
        if lib == "pycocotools":
            from pycocotools.coco import COCO
            from pycocotools.cocoeval import COCOeval

            coco = COCO()
            coco.dataset = gt
            coco.createIndex()
            return COCOeval(coco, coco.loadRes(results), "bbox")
        from faster_coco_eval import COCO as FCOCO
        from faster_coco_eval import COCOeval_faster

        coco = FCOCO(gt)
        return COCOeval_faster(coco, coco.loadRes(results), "bbox")


def evaluate_accumulate(ev) -> np.ndarray:
    """evaluate() + accumulate(); AP per label and IoU from the precision array (NaN for -1)."""
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
    precision = np.asarray(ev.eval["precision"])[:, :, :, 0, -1]
    ap = precision.mean(axis=1).T
    return np.where((precision == -1).any(axis=1).T, np.nan, ap)


def bench_coco_ap(run: dict, gt: dict, results: list, repeats: int, py_repeats: int) -> dict:
    """metrics_rs.coco_ap vs faster-coco-eval and pycocotools (evaluate + accumulate)."""
    a, n = run["arrays"], run["num_labels"]
    ap = metrics_rs.coco_ap(**a, num_labels=n)
    for lib in ("faster-coco-eval", "pycocotools"):
        ev = cocoeval(lib, gt, results)
        theirs = evaluate_accumulate(ev)
        np.testing.assert_allclose(ap, theirs, rtol=0, atol=1e-9, err_msg=f"AP differs from {lib}")
        with contextlib.redirect_stdout(io.StringIO()):
            ev.summarize()
        assert abs(np.nanmean(ap) - ev.stats[0]) < 1e-6, lib
        assert abs(np.nanmean(ap[:, 0]) - ev.stats[1]) < 1e-6, lib
    # COCOeval objects are built (data loaded) outside the timings, one per timed call.
    fresh = {
        lib: [cocoeval(lib, gt, results) for _ in range(r)]
        for lib, r in (("faster-coco-eval", repeats), ("pycocotools", py_repeats))
    }
    out = interleaved(
        {
            "metrics_rs": lambda: metrics_rs.coco_ap(**a, num_labels=n),
            "faster-coco-eval": lambda: evaluate_accumulate(fresh["faster-coco-eval"].pop()),
        },
        repeats,
    )
    slow = interleaved(
        {
            "metrics_rs": lambda: metrics_rs.coco_ap(**a, num_labels=n),
            "pycocotools": lambda: evaluate_accumulate(fresh["pycocotools"].pop()),
        },
        py_repeats,
    )
    return {
        "metrics_rs": out["metrics_rs"][0],
        "faster-coco-eval": out["faster-coco-eval"][0],
        "metrics_rs (beside pycocotools)": slow["metrics_rs"][0],
        "pycocotools": slow["pycocotools"][0],
    }


MEMORY_PROBE = textwrap.dedent(
    """
    import sys, numpy as np, metrics_rs
    data = dict(np.load(sys.argv[1]))
    n = int(sys.argv[2])
    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    args = {k: v for k, v in data.items() if k != "label_thresholds"}
    before = status("VmRSS:")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    ev = metrics_rs.evaluate(**args, num_labels=n, label_thresholds=data["label_thresholds"],
                             iou_threshold=0.5, low_overlap_threshold=0.7)
    peak = status("VmHWM:")
    print(sum(v.nbytes for v in args.values()), peak - before)
    """
)


def bench_memory(run: dict) -> dict:
    """Peak RSS growth during one evaluate call (a fresh process; /proc VmHWM reset first).

    tracemalloc cannot see Rust's allocations, so the kernel's high-water mark is used:
    everything the call allocates (outputs, per-thread buffers, rayon's stacks) counts.
    """
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, box_t, int_t in (
            ("float64/int64", np.float64, np.int64),
            ("float32/int32", np.float32, np.int32),
        ):
            a = run["arrays"]
            data = {
                k: (v.astype(box_t) if v.dtype.kind == "f" else v.astype(int_t))
                for k, v in a.items()
            }
            path = Path(tmp, "run.npz")
            np.savez(path, **data, label_thresholds=label_thresholds(run["num_labels"]))
            res = subprocess.run(
                [sys.executable, "-c", MEMORY_PROBE, str(path), str(run["num_labels"])],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
            inputs, peak = map(int, res.stdout.split())
            out[name] = (inputs, peak)
    return out


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if "model name" in line), model)
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def versions() -> str:
    names = ["numpy", "pycocotools", "faster-coco-eval", "maturin"]
    found = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return f"Python {platform.python_version()}, metrics_rs @ {commit}, " + ", ".join(found)


def ratio_line(label: str, fast: float, slow: float, target: float | None = None) -> str:
    verdict = "" if target is None else ("  ok" if slow / fast >= target else "  BELOW TARGET")
    goal = "" if target is None else f" (target >= {target:g}x)"
    times = f"{fast * 1e3:9.2f} ms vs {slow * 1e3:10.2f} ms"
    return f"  {label}: {times} = {slow / fast:7.1f}x{goal}{verdict}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="500 images, for a fast look")
    ap.add_argument("--repeats", type=int, default=7, help="timed repeats (median; >= 5)")
    ap.add_argument("--pycocotools-repeats", type=int, default=5)
    args = ap.parse_args()
    num_images = 500 if args.quick else 5000
    print(f"machine: {machine()}")
    print(f"versions: {versions()}")
    print(
        f"rayon threads: {os.environ.get('RAYON_NUM_THREADS', 'all cores')}; "
        f"median of {args.repeats} (pycocotools {args.pycocotools_repeats})\n"
    )
    failures = 0
    for num_labels in (80, 10):
        run = make_run(num_images, num_labels, seed=20240601 + num_labels)
        a = run["arrays"]
        print(
            f"== {num_images} images, {len(a['gt_labels'])} annotations, "
            f"{len(a['pred_labels'])} predictions, {num_labels} labels =="
        )
        check_numpy_against_reference(run)
        t = bench_evaluate(run, args.repeats)
        line = ratio_line("evaluate  vs numpy           ", t["metrics_rs"], t["numpy"], 50)
        failures += "BELOW" in line
        print(line)
        print(ratio_line("  (predictions shuffled)    ", t["shuffled"], t["numpy"]))
        gt, results = coco_dicts(run)
        t = bench_coco_ap(run, gt, results, args.repeats, args.pycocotools_repeats)
        for lib, target, ours in (
            ("faster-coco-eval", 20, "metrics_rs"),
            ("pycocotools", 200, "metrics_rs (beside pycocotools)"),
        ):
            line = ratio_line(f"coco_ap   vs {lib:<16}", t[ours], t[lib], target)
            failures += "BELOW" in line
            print(line)
        for dtypes, (inputs, peak) in bench_memory(run).items():
            ok = peak <= 2 * inputs
            failures += not ok
            print(
                f"  evaluate peak memory ({dtypes}): +{peak / 1e6:.1f} MB for "
                f"{inputs / 1e6:.1f} MB of input = {peak / inputs:.2f}x (target <= 2x)"
                f"{'  ok' if ok else '  ABOVE TARGET'}"
            )
        print()
    print("all targets met" if not failures else f"{failures} target(s) missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
