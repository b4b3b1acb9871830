"""The validation tests' world (run_world.World) and its run laid out by hand, for every module."""

from tests.validation.run_world import completed_run, world  # noqa: F401 (fixtures)
