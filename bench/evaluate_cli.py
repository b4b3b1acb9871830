"""`python -m validation.evaluate` end to end against faster-coco-eval's end to end, on files.

    .venv/bin/python bench/evaluate_cli.py [--quick] [--repeats N]

Data: bench/metrics.py's run (5,000 images, about 50,000 annotations and 250,000 predictions,
80 labels; 500 images with --quick) written as a COCO data set and a COCO results file. Each
command runs in a fresh process, timed from its start to its printed result (best of N, the
two taken in turn). faster-coco-eval's script does load, loadRes, evaluate, accumulate and
summarize. The command's mAP is checked against pycocotools' stats (run once, 1e-6); its peak
memory is the command's ru_maxrss (GNU time's %M: the whole process, interpreter and NumPy
included) against the two files' size.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.metrics import coco_dicts, machine, make_run, versions  # noqa: E402

FASTER_E2E = textwrap.dedent(
    """
    import sys
    from faster_coco_eval import COCO, COCOeval_faster
    gt = COCO(sys.argv[1])
    ev = COCOeval_faster(gt, gt.loadRes(sys.argv[2]), "bbox", print_function=lambda *a: None)
    ev.evaluate(); ev.accumulate(); ev.summarize()
    print(ev.stats[0], ev.stats[1])
    """
)


def timed(cmd: list[str], env: dict, tmp: Path) -> tuple[float, str, int]:
    """Wall time from spawning to exit, stdout, and the command's peak RSS in bytes.

    The peak comes from GNU time (a small process that forks the command): a child forked
    from this large process would carry this process's high-water mark through exec.
    """
    out_path, rss_path = tmp / "out", tmp / "rss"
    with open(out_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", str(rss_path), *cmd],
            stdout=out,
            stderr=subprocess.PIPE,
            env=env,
        )
        elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {proc.stderr.decode()}")
    return elapsed, out_path.read_text(), int(rss_path.read_text().split()[-1]) * 1024


def pycocotools_stats(g: Path, p: Path) -> list[float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(g))
        ev = COCOeval(coco, coco.loadRes(str(p)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(ev.stats[0]), float(ev.stats[1])]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="500 images, for a fast look")
    ap.add_argument("--repeats", type=int, default=5, help="runs of each command (best of)")
    args = ap.parse_args()
    num_images = 500 if args.quick else 5000
    run = make_run(num_images, 80, seed=20240601 + 80)
    gt, results = coco_dicts(run)
    print(f"machine: {machine()}")
    print(f"versions: {versions()}")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        g, p = Path(tmp, "gt.json"), Path(tmp, "results.json")
        g.write_text(json.dumps(gt))
        p.write_text(json.dumps(results))
        del gt, results
        size = g.stat().st_size + p.stat().st_size
        print(
            f"== {num_images} images, {len(run['arrays']['gt_labels'])} annotations, "
            f"{len(run['arrays']['pred_labels'])} predictions: {g.stat().st_size / 1e6:.1f} MB "
            f"+ {p.stat().st_size / 1e6:.1f} MB of JSON; best of {args.repeats} =="
        )
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        cli = [sys.executable, "-m", "validation.evaluate", "--gt", str(g), "--pred", str(p)]
        peer = [sys.executable, "-c", FASTER_E2E, str(g), str(p)]
        best = {"cli": (float("inf"), "", 0), "peer": (float("inf"), "", 0)}
        for _ in range(args.repeats):
            for name, cmd in (("cli", cli), ("peer", peer)):
                t = timed(cmd, env, Path(tmp))
                if t[0] < best[name][0]:
                    best[name] = t
        (cli_t, out, cli_rss), (peer_t, peer_out, peer_rss) = best["cli"], best["peer"]
        summary = json.loads(out)
        ours = [summary["map50_95"], summary["map50"]]
        faster = [float(v) for v in peer_out.split()]
        theirs = pycocotools_stats(g, p)
    ratio = peer_t / cli_t
    ok = ratio >= 25
    failures += not ok
    print(
        f"  CLI e2e vs faster-coco-eval e2e: {cli_t:.3f} s vs {peer_t:.3f} s = {ratio:.1f}x "
        f"(target >= 25x){'  ok' if ok else '  BELOW TARGET'}"
    )
    diff = max(abs(a - b) for a, b in zip(ours, theirs, strict=True))
    ok = diff < 1e-6
    failures += not ok
    print(
        f"  mAP50-95, mAP50: CLI {ours[0]:.6f} {ours[1]:.6f}, pycocotools {theirs[0]:.6f} "
        f"{theirs[1]:.6f}, faster-coco-eval {faster[0]:.6f} {faster[1]:.6f}; "
        f"|CLI - pycocotools| = {diff:.1e} (target < 1e-6){'  ok' if ok else '  UNEQUAL'}"
    )
    ok = cli_rss <= 1.5 * size
    failures += not ok
    print(
        f"  peak memory (ru_maxrss): CLI {cli_rss / 1e6:.0f} MB = {cli_rss / size:.2f}x the "
        f"files' {size / 1e6:.1f} MB (target <= 1.5x){'  ok' if ok else '  ABOVE TARGET'}; "
        f"faster-coco-eval {peer_rss / 1e6:.0f} MB = {peer_rss / size:.2f}x"
    )
    print("all targets met" if not failures else f"{failures} target(s) missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
