"""Each test builds its own app, and FastAPI works out the dependencies of every route again for
each app it routes: it reads each endpoint's and dependency's signature (``inspect.signature``
with the annotations evaluated) and builds their pydantic fields, some 0.3-0.6 s of CPU per app
that reaches the later routers. The same functions give the same answers, so the test processes
work each out once; the product is not changed (a server builds its app once).

What is kept: FastAPI's typed signature per callable, and the dependency tree per route (its
path, endpoint and the app's and routers' dependencies): FastAPI reads the tree at each request
and never changes it once built, and overrides are looked up at request time."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import fastapi.dependencies.utils as dependency_utils
import fastapi.routing as routing

_signatures: dict[Callable[..., Any], inspect.Signature] = {}
_trees: dict[tuple[Any, ...], tuple[Any, ...]] = {}
_typed_signature = dependency_utils.get_typed_signature
_dependency_tree = getattr(routing, "_build_dependant_with_parameterless_dependencies", None)


def _signature_once(call: Callable[..., Any]) -> inspect.Signature:
    try:
        return _signatures[call]
    except KeyError:
        signature = _signatures[call] = _typed_signature(call)
        return signature
    except TypeError:  # an unhashable callable: read each time, as FastAPI does
        return _typed_signature(call)


def _tree_once(*, path: str, call: Callable[..., Any], dependencies: Sequence[Any]) -> Any:
    assert _dependency_tree is not None
    # The dependencies themselves are kept in the entry, so their ids stay theirs.
    key = (path, call, *(id(d) for d in dependencies))
    try:
        kept = _trees.get(key)
    except TypeError:
        kept = None
    if kept is None:
        built = _dependency_tree(path=path, call=call, dependencies=dependencies)
        kept = (built, tuple(dependencies))
        try:
            _trees[key] = kept
        except TypeError:
            return built
    return kept[0]


def read_signatures_once() -> None:
    dependency_utils.get_typed_signature = _signature_once
    if _dependency_tree is not None:
        routing._build_dependant_with_parameterless_dependencies = _tree_once  # type: ignore[attr-defined]
