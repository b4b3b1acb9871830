"""Load: simulated users browse matrices, drill-downs and crops while two runs write results.

`python bench/load.py [--users 20] [--seconds 600]`; with DATABASE_URL set (PostgreSQL) the same
against that database. The portal runs under gunicorn as in production (`gthread` workers, one
per core, 8 threads each); two writer processes replace two other runs' 100,000 instances in
one transaction every WRITER_PAUSE seconds, the way a finishing run or a re-evaluation commits.
Each user opens the run page, a random cell and five of its crops, then the run list, pausing
THINK_SECONDS after each click. Prints p50/p95 per kind of request and errors, timed by the
simulated browser (queueing included), and the server's error lines.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench._portal import setup_django, synthetic_run  # noqa: E402

PASSWORD = "bench-pass-123"
TARGET_P95 = 0.300


def build(images: int) -> dict:
    """Three completed runs of 100k instances; real JPEGs so crops are made for real."""
    from django.conf import settings
    from PIL import Image as PILImage

    from projects.models import Image

    runs = [synthetic_run(images=images, instances=100_000, seed=seed)[0] for seed in range(3)]
    rng = np.random.default_rng(0)
    root = Path(settings.MEDIA_ROOT)
    for image in Image.objects.all():
        path = root / image.file.name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            pixels = rng.integers(0, 255, size=(480, 640, 3), dtype=np.uint8)
            PILImage.fromarray(pixels).save(path, quality=80)
    return {
        "browse": runs[0].pk,
        "writers": [runs[1].pk, runs[2].pk],
        "labels": len(runs[0].labels),
        "user": "bench",
    }


WRITER_PAUSE = 10.0  # seconds between two commits of one writer
THINK_SECONDS = (1.0, 3.0)  # a user's pause after each click


def writer_loop(run_id: int, seconds: float) -> None:
    """Commit a run's 100k instances again and again, like a finishing run does.

    A real run commits its results once, at its end; here each writer commits every
    WRITER_PAUSE seconds for the whole test, far more often than runs finish. Without any pause
    a writer re-takes SQLite's write lock the instant it commits, ahead of every waiting
    request, which no real workload does.
    """
    from django.db import transaction

    from validation.analysis.evaluation import write_instances
    from validation.models import Instance

    rows = None
    deadline = time.monotonic() + seconds
    commits = 0
    while time.monotonic() < deadline:
        if rows is None:
            from bench._portal import synthetic_instance_rows
            from projects.models import Image

            ids = np.array(list(Image.objects.values_list("id", flat=True)))
            rows = synthetic_instance_rows(np.random.default_rng(run_id), ids, 100_000, 10)
        with transaction.atomic():
            Instance.objects.filter(run_id=run_id).delete()
            write_instances(run_id, rows)
        commits += 1
        time.sleep(WRITER_PAUSE)
    print(json.dumps({"writer": run_id, "commits": commits}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class User(threading.Thread):
    """Logs in through the form, then browses: run page, cells, their crops, the list."""

    def __init__(self, base: str, plan: dict, seconds: float, seed: int, results, errors):
        super().__init__(daemon=True)
        self.base, self.plan, self.seconds = base, plan, seconds
        self.rng = np.random.default_rng(seed)
        self.results, self.errors = results, errors
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        self.jar = jar

    def get(self, kind: str, path: str, htmx: bool = False) -> bytes:
        request = urllib.request.Request(self.base + path)
        if htmx:
            request.add_header("HX-Request", "true")
        start = time.perf_counter()
        try:
            with self.opener.open(request, timeout=30) as response:
                body = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            body, status = exc.read(), exc.code
        except OSError as exc:
            self.errors.append((kind, path, repr(exc)))
            return b""
        self.results[kind].append(time.perf_counter() - start)
        if status >= 400:
            self.errors.append((kind, path, status))
        return body

    def login(self) -> None:
        page = self.opener.open(self.base + "/login/").read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode(
            {"username": self.plan["user"], "password": PASSWORD, "csrfmiddlewaretoken": token}
        ).encode()
        request = urllib.request.Request(
            self.base + "/login/", data=data, headers={"Referer": self.base + "/login/"}
        )
        self.opener.open(request).read()

    def run(self) -> None:
        try:
            self.login()
        except OSError as exc:  # HTTPError included: counted, not a crashed thread
            self.errors.append(("login", "/login/", repr(exc)))
            return
        run_id, n = self.plan["browse"], self.plan["labels"]
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            self.get("run page", f"/runs/{run_id}/")
            self.think()
            row, col = int(self.rng.integers(0, n + 1)), int(self.rng.integers(0, n + 2))
            page = int(self.rng.integers(1, 4))
            body = self.get(
                "cell fragment", f"/runs/{run_id}/cells/{row}-{col}/?page={page}", htmx=True
            ).decode(errors="replace")
            for crop in re.findall(r'src="([^"]+crop\.png[^"]*)"', body)[:5]:
                self.get("crop", crop.replace("&amp;", "&"))
            self.think()
            self.get("run list", "/")
            self.think()

    def think(self) -> None:
        """A person reads what the last click showed before the next one."""
        time.sleep(float(self.rng.uniform(*THINK_SECONDS)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--writer", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--var", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    keep = bool(os.environ.get("DATABASE_URL"))
    if args.writer is not None:
        setup_django(args.var, keep_database_url=keep)
        writer_loop(args.writer, args.seconds)
        return
    var = setup_django(keep_database_url=keep)
    from django.contrib.auth import get_user_model
    from django.db import connection

    plan = build(args.images)
    user = get_user_model().objects.get(username=plan["user"])
    user.set_password(PASSWORD)
    user.save()
    env = dict(os.environ, PORTAL_VAR_DIR=str(var), MEDIA_ROOT=str(var / "media"))
    port = free_port()
    server_log = var / "server.log"  # tracebacks of server errors, printed below
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            f"--bind=127.0.0.1:{port}",
            "--worker-class=gthread",
            f"--workers={os.cpu_count() or 1}",
            "--threads=8",
            "--backlog=512",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=server_log.open("w"),
    )
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--writer",
                str(run_id),
                "--var",
                str(var),
                "--seconds",
                str(args.seconds),
            ],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for run_id in plan["writers"]
    ]
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/login/", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        results: dict[str, list[float]] = defaultdict(list)
        errors: list = []
        users = [
            User(base, plan, args.seconds, seed, results, errors) for seed in range(args.users)
        ]
        for user_thread in users:
            user_thread.start()
        for user_thread in users:
            user_thread.join()
        commits = [
            json.loads(w.communicate(timeout=600)[0].strip().splitlines()[-1]) for w in writers
        ]
    finally:
        server.terminate()
        for w in writers:
            w.kill()
    vendor = connection.vendor
    print(
        f"{args.users} users for {args.seconds:.0f} s on {vendor}; writers committed "
        f"{[c['commits'] for c in commits]} times 100,000 instances"
    )
    worst = 0.0
    for kind, times in sorted(results.items()):
        p50, p95 = np.percentile(times, 50), np.percentile(times, 95)
        worst = max(worst, p95) if kind != "run list" else worst
        print(f"  {kind:<14} n={len(times):>5}  p50 {p50 * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms")
    print(f"  errors: {len(errors)}" + (f"  e.g. {errors[:3]}" if errors else ""))
    failures = [line for line in server_log.read_text().splitlines() if "Error" in line]
    if failures:
        print(f"  server log ({server_log}): {len(failures)} error lines, e.g. {failures[:3]}")
    print(f"  worst fragment p95 {worst * 1000:.0f} ms (target < {TARGET_P95 * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
