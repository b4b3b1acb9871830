"""Fixtures shared by the whole suite: users with each role, their clients, and a private Redis."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients import logged_in

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path: Path) -> None:
    """Every test writes uploaded and generated files into its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user("owner", password="owner-pass-123")


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user("member", password="member-pass-123")


@pytest.fixture
def outsider(django_user_model):
    return django_user_model.objects.create_user("outsider", password="outsider-pass-123")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("staff", password="staff-pass-123", is_staff=True)


# One client per role, each logged in on a client of its own (pytest-django's `client` is the
# anonymous visitor): a test may take several.
@pytest.fixture
def owner_client(owner):
    return logged_in(owner)


@pytest.fixture
def member_client(member):
    return logged_in(member)


@pytest.fixture
def outsider_client(outsider):
    """A user who is no member of the project under test."""
    return logged_in(outsider)


@pytest.fixture
def staff_client(staff):
    return logged_in(staff)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_command(port: int, workdir: str) -> list[str]:
    """redis-server on loopback at this port, persisting nothing (the test fails without one)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; run `make test`, which installs it")
    persist_nothing = ["--save", "", "--appendonly", "no"]
    return [binary, "--port", str(port), "--bind", "127.0.0.1", *persist_nothing, "--dir", workdir]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A real, private redis-server on loopback for this test session; yields its URL."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="test-redis-")
    proc = subprocess.Popen(
        redis_server_command(port, workdir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the test redis-server did not start")
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(workdir, ignore_errors=True)


def database_url_for_subprocess() -> str:
    """The URL of the database this test session uses, for worker processes it starts."""
    from django.db import connection

    cfg = connection.settings_dict
    if cfg["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{cfg['NAME']}"
    auth = cfg["USER"] + (f":{cfg['PASSWORD']}" if cfg["PASSWORD"] else "")
    return f"postgres://{auth}@{cfg['HOST'] or 'localhost'}:{cfg['PORT'] or 5432}/{cfg['NAME']}"


@pytest.fixture
def worker_env(redis_server, settings, tmp_path) -> dict[str, str]:
    """Environment for real worker processes: this test's Redis, database and media folder."""
    import os

    settings.REDIS_URL = redis_server
    env = dict(os.environ)
    env.update(
        REDIS_URL=redis_server,
        DATABASE_URL=database_url_for_subprocess(),
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        PORTAL_WORKER_HOST="test-host",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def flush_redis(redis_server) -> Iterator[None]:
    import redis

    conn = redis.Redis.from_url(redis_server)
    conn.flushall()
    yield
    conn.flushall()


def worker_command(device: str = "cpu", *options: str) -> list[str]:
    """The command line of a real inference worker (run it from REPO_ROOT)."""
    return [sys.executable, "manage.py", "inference_worker", "--device", device, *options]


def run_burst_worker(env: dict[str, str], device: str = "cpu", timeout: float = 300) -> str:
    """Run `inference_worker --burst` in a real process until its queues are empty."""
    proc = subprocess.run(
        worker_command(device, "--burst"),
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    return output


@contextlib.contextmanager
def running_worker(env: dict[str, str], output=subprocess.DEVNULL) -> Iterator[subprocess.Popen]:
    """A real CPU worker while the block runs (its output and errors to `output`); then SIGTERM,
    and kill -9 if it has not stopped 30 s later."""
    worker = subprocess.Popen(
        worker_command(), cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
    )
    try:
        yield worker
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    """Users are made in most tests; the real hasher costs a second each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
