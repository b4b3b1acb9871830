"""Objects for the access tests: a victim's project with two finished runs, and the outsider's own.

Every URL of the app is filled from here: `KWARG_BUILDERS` maps each URL argument name to the
object whose id it takes, so a new pattern with a new argument fails until it is added.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.regex_helper import normalize

from projects.models import Annotation, Image, Task
from tests.validation.compare_world import run_pair
from tests.validation.export_world import make_known_run
from tests.validation.run_world import World
from validation.api.tokens import create_token
from validation.models import ApiToken, InferenceRun, Instance

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
APP_NAMESPACES = ("projects", "validation", "api")


# ---------------------------------------------------------------- every URL pattern


@dataclass(frozen=True)
class Pattern:
    """One URL pattern: its full route, name and the chain of pattern objects that match it."""

    route: str
    name: str  # "namespace:name", "" parts when unnamed
    chain: tuple  # RoutePattern / RegexPattern objects, outermost first
    namespace: str

    @property
    def kwargs(self) -> list[str]:
        names: list[str] = []
        for part in self.chain:
            names += list(getattr(part, "converters", {}) or {})
            names += list(getattr(part, "regex", re.compile("")).groupindex)
        return list(dict.fromkeys(names))

    def url(self, values: dict[str, object]) -> str:
        """The path with every argument filled from values (converters applied)."""
        return "/" + "".join(_fill(part, values) for part in self.chain)


def _fill(part, values: dict[str, object]) -> str:
    converters = getattr(part, "converters", None)
    if converters is not None and hasattr(part, "_route"):
        route = part._route
        for name, converter in converters.items():
            text = str(converter.to_url(values[name]))
            route = re.sub(rf"<(?:\w+:)?{name}>", lambda _m, text=text: text, route)
        return route
    for template, params in normalize(part.regex.pattern):
        if all(p in values for p in params):
            return template % {p: values[p] for p in params}
    raise KeyError(f"cannot fill {part.regex.pattern!r} from {sorted(values)}")


def all_patterns() -> list[Pattern]:
    """Every pattern of config.urls, resolvers walked recursively."""

    def walk(patterns, chain: tuple, namespace: str) -> Iterator[Pattern]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = ":".join(n for n in (namespace, entry.namespace) if n)
                yield from walk(entry.url_patterns, (*chain, entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                full = (*chain, entry.pattern)
                route = "".join(str(p) for p in full)
                name = f"{namespace}:{entry.name or ''}" if namespace else (entry.name or "")
                yield Pattern(route, name, full, namespace)

    return list(walk(get_resolver().url_patterns, (), ""))


def app_patterns() -> list[Pattern]:
    return [p for p in all_patterns() if p.namespace in APP_NAMESPACES]


# ---------------------------------------------------------------- the objects


@dataclass
class AccessWorld:
    """The victim's objects (project of owner and member) and the outsider's own."""

    world: World
    run: InferenceRun  # the victim's run every object URL points into
    other_run: InferenceRun
    instance: Instance
    image: Image
    task: Task
    token: ApiToken
    outsider_run: InferenceRun
    outsider_token_raw: str
    victim_token_raw: str
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def project(self):
        return self.world.project


def build_access_world(world: World) -> AccessWorld:
    """Two evaluated runs of the victim's project, tokens on both sides, a run of the outsider."""
    a, b = run_pair(world)
    instance = Instance.objects.filter(run=a).order_by("row", "col", "id").first()
    assert instance is not None
    token, victim_raw = create_token(world.owner, "victim pipeline")
    _outsider_token, outsider_raw = create_token(world.outsider, "outsider pipeline")
    outsider_run = make_known_run(world.foreign_project, world.model, world.outsider)
    return AccessWorld(
        world=world,
        run=a,
        other_run=b,
        instance=instance,
        image=instance.image,
        task=instance.image.task,
        token=token,
        outsider_run=outsider_run,
        outsider_token_raw=outsider_raw,
        victim_token_raw=victim_raw,
    )


@pytest.fixture
def access(world: World) -> AccessWorld:
    """The access world on the validation world (the hardening conftest offers both)."""
    return build_access_world(world)


def whatif_crop_token(run: InferenceRun, image: Image) -> str:
    """A valid signed what-if crop token of this run, made by the view's own signer."""
    from validation.presenters.whatif_cells import crop_token

    box = (10.0, 10.0, 40.0, 40.0)
    entry = SimpleNamespace(image_id=image.pk, annotation_box=box, prediction_box=box)
    return crop_token(run, entry)


# Which object a `pk` stands for, by the start of the route (longest first).
PK_OWNERS: list[tuple[str, str]] = [
    ("projects/tasks/", "task"),
    ("projects/images/", "image"),
    ("projects/", "project"),
    ("api/runs/", "run"),
    ("runs/", "run"),
]


def _pk(w: AccessWorld, run: InferenceRun, pattern: Pattern) -> int:
    for prefix, owner in PK_OWNERS:
        if pattern.route.startswith(prefix):
            return {
                "task": w.task.pk,
                "image": w.image.pk,
                "project": w.project.pk,
                "run": run.pk,
            }[owner]
    raise KeyError(f"no object known for pk of {pattern.route!r}: add it to PK_OWNERS")


# URL argument name -> the id (or value) it takes, for the run the URL points into.
KWARG_BUILDERS: dict[str, Callable[[AccessWorld, InferenceRun, Pattern], object]] = {
    "pk": _pk,
    "row": lambda w, run, p: w.instance.row,
    "col": lambda w, run, p: w.instance.col,
    "instance_pk": lambda w, run, p: w.instance.pk,
    "image_pk": lambda w, run, p: w.image.pk,
    "token_pk": lambda w, run, p: w.token.pk,
    "token": lambda w, run, p: whatif_crop_token(w.run, w.image),
    "wizard_id": lambda w, run, p: "victims-wizard",  # lives in another session
}


def victim_values(w: AccessWorld, pattern: Pattern, run: InferenceRun | None = None) -> dict:
    """Every argument of the pattern filled with the victim's objects (KeyError when unknown)."""
    run = run or w.run
    missing = [name for name in pattern.kwargs if name not in KWARG_BUILDERS]
    if missing:
        raise KeyError(
            f"{pattern.name or pattern.route}: no object for {missing}; add to KWARG_BUILDERS"
        )
    return {name: KWARG_BUILDERS[name](w, run, pattern) for name in pattern.kwargs}


# ---------------------------------------------------------------- "nothing changed"


_SKIPPED_MODELS = {Session}
# Fields that reading pages may update: a token used by its own user, a login.
_VOLATILE = {("validation", "apitoken"): {"last_used_at"}, ("auth", "user"): {"last_login"}}


def db_state() -> dict[str, str]:
    """A digest of every row of every model (sessions aside): any change shows."""
    state: dict[str, str] = {}
    for model in apps.get_models():
        if model in _SKIPPED_MODELS or not model._meta.managed or model._meta.proxy:
            continue
        skip = _VOLATILE.get((model._meta.app_label, model._meta.model_name), set())
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in skip]
        digest = hashlib.sha256()
        for row in model.objects.order_by("pk").values_list(*fields):
            digest.update(repr(row).encode())
        state[model._meta.label] = f"{model.objects.count()}:{digest.hexdigest()[:16]}"
    return state


def file_state(*roots: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file under the roots."""
    found: dict[str, tuple[int, int]] = {}
    for root in roots:
        if root.exists():
            for path in root.rglob("*"):
                if path.is_file():
                    stat = path.stat()
                    found[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return found


def changes(before: dict, after: dict) -> list[str]:
    """What differs between two states, by key."""
    keys = sorted(set(before) | set(after))
    return [key for key in keys if before.get(key) != after.get(key)]


def annotation_count() -> int:
    return Annotation.objects.count()
