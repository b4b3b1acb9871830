"""The validation tests' world (run_world.World), its run laid out by hand, and the settings
several modules run under (no Redis, an empty what-if cache)."""

from collections.abc import Iterator

import pytest

from tests.validation.run_world import completed_run, world  # noqa: F401 (fixtures)
from validation.analysis import whatif


@pytest.fixture
def no_redis(settings) -> None:
    """Redis at a port nothing listens on: no live GPU worker, and nothing can be queued."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def fresh_whatif_cache() -> Iterator[None]:
    """The what-if cache empty when the test starts and when it ends."""
    whatif.clear_cache()
    yield
    whatif.clear_cache()
