"""50 simultaneous identical "start" requests make exactly one run and one job."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest
import redis
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.db import connections
from django.urls import reverse

from tests.hardening.conftest import fill_wizard, start, step3_data
from validation.models import InferenceRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]
CLIENTS = 50


class _Server(ThreadedWSGIServer):
    """Django's threaded server with a listen backlog like a production server's (it has 10,
    so most of 50 simultaneous connections would be reset before the app sees them)."""

    request_queue_size = 128


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    """The whole Django app served over real HTTP, one thread per request, on loopback."""
    server = _Server(("127.0.0.1", 0), _QuietHandler, allow_reuse_address=False)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(10)


def _jobs_in_redis(url: str) -> tuple[int, int]:
    """(job records, queued job ids) in this Redis."""
    conn = redis.Redis.from_url(url)
    return len(conn.keys("rq:job:*")), sum(conn.llen(key) for key in conn.keys("rq:queue:*"))


def _all_at_once(work) -> list:
    """Run `work(k)` in CLIENTS threads released together; their results (or exceptions)."""
    barrier = threading.Barrier(CLIENTS)
    results: list = [None] * CLIENTS

    def one(k: int) -> None:
        barrier.wait()
        try:
            results[k] = work(k)
        except Exception as exc:  # noqa: BLE001 - counted by the test
            results[k] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one, args=(k,)) for k in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def test_fifty_simultaneous_start_run_calls_make_one_run_and_one_job(
    worker_env, redis_server, flush_redis, tiny_model, validation_project, owner, figure
):
    results = _all_at_once(
        lambda _k: (
            start(
                tiny_model, validation_project, owner, image_size=64, submission_token="same-token"
            ).pk
        )
    )
    errors = [r for r in results if isinstance(r, Exception)]
    jobs, queued = _jobs_in_redis(redis_server)
    runs = InferenceRun.objects.count()
    figure(
        f"{CLIENTS} simultaneous start_run calls with one token: {runs} run, {jobs} job "
        f"({queued} queued), {len(set(results) - set(errors))} distinct run ids returned, "
        f"{len(errors)} errors"
    )
    assert not errors, errors[:3]
    assert runs == 1 and jobs == 1 and queued == 1
    assert set(results) == {InferenceRun.objects.get().pk}


def test_fifty_simultaneous_wizard_posts_over_http_make_one_run_and_one_job(
    worker_env,
    redis_server,
    flush_redis,
    tiny_model,
    validation_project,
    owner,
    client,
    figure,
    http_server,
):
    client.force_login(owner)
    fill_wizard(client, tiny_model, validation_project)
    url = http_server + reverse("validation:wizard-step3")
    session = client.cookies["sessionid"].value
    page = urllib.request.urlopen(
        urllib.request.Request(url, headers={"Cookie": f"sessionid={session}"}), timeout=30
    )
    assert page.status == 200
    csrf = SimpleCookie(page.headers["Set-Cookie"])["csrftoken"].value
    body = urlencode(step3_data("one-click-token")).encode()
    headers = {
        "Cookie": f"sessionid={session}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
        "HX-Request": "true",
        "Content-Type": "application/x-www-form-urlencoded",
    }

    def post(_k: int) -> tuple[int, str]:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.headers.get("HX-Redirect", "")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")[:300]

    results = _all_at_once(post)
    errors = [r for r in results if isinstance(r, Exception)]
    answers = Counter(r[0] for r in results if not isinstance(r, Exception))
    jobs, queued = _jobs_in_redis(redis_server)
    runs = list(InferenceRun.objects.all())
    figure(
        f"{CLIENTS} simultaneous HTTP POSTs of the wizard's last step, one token: "
        f"{len(runs)} run, {jobs} job ({queued} queued); answers {dict(answers)}, "
        f"{len(errors)} connection errors"
    )
    assert not errors, errors[:3]
    assert len(runs) == 1 and jobs == 1 and queued == 1
    assert all(r == (200, runs[0].get_absolute_url()) for r in results), results[:3]
