"""Run the points of a sweep one after another or as Ray tasks, and return results in input order.

A sweep is a list of independent points (a serving run per (trace, rate, scheduler), a bootstrap
replicate, a price grid cell). ``parallel_map(fn, items)`` applies ``fn`` to every item and returns
the results in the order of ``items``, whichever backend ran them:

- ``"serial"``: a plain loop in this process;
- ``"ray"``: one Ray task per item (the ``ray`` extra: ``pip install 'tokenomy[ray]'``); ``fn`` is
  shipped once to the object store; a Ray session already started (``ray.init``) is reused, else one
  is started for the call and shut down after it;
- ``"auto"``: Ray when it is importable, serial otherwise.

Determinism is the caller's part: every random draw must come from a seed carried in the item, never
from a generator created inside ``fn`` without one, so both backends give the same results. Layers
never import this module (nor Ray): they take a ``map_fn`` argument and the interfaces pass
``parallel_map`` in. Ray's old single-process ``local_mode`` was removed (Ray 2.60 raises on it);
``ray.init(num_cpus=1, include_dashboard=False)`` is the small local session to use in tests.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

from tokenomy.core.errors import ValidationError

__all__ = ["BACKENDS", "Backend", "parallel_map", "ray_available", "resolve_backend"]

T = TypeVar("T")
R = TypeVar("R")

Backend = Literal["auto", "serial", "ray"]
BACKENDS: tuple[Backend, ...] = ("auto", "serial", "ray")
RAY_EXTRA = "pip install 'tokenomy[ray]' (or -c constraints.txt -e '.[ray]' in a checkout)"


def ray_available() -> bool:
    """Whether Ray can be imported here (looked up, not imported)."""
    return importlib.util.find_spec("ray") is not None


def resolve_backend(backend: str) -> Literal["serial", "ray"]:
    """The backend that will run: ``auto`` becomes ``ray`` when Ray is importable, else ``serial``.

    Args:
        backend: ``auto``, ``serial`` or ``ray``.

    Returns:
        ``"serial"`` or ``"ray"``.

    Raises:
        ValidationError: an unknown name, or ``ray`` asked for where Ray is not installed.
    """
    if backend not in BACKENDS:
        raise ValidationError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "serial":
        return "serial"
    if ray_available():
        return "ray"
    if backend == "ray":
        raise ValidationError(f"backend 'ray' needs Ray, which is not installed: {RAY_EXTRA}")
    return "serial"


def parallel_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    backend: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> list[R]:
    """``[fn(x) for x in items]``, run serially or as Ray tasks; results keep the input order.

    Args:
        fn: a function of one item; for Ray it must pickle (cloudpickle: closures do) and must not
            rely on state of this process (open files, progress bars, a shared generator).
        items: the sweep's points, each carrying its own seed where ``fn`` draws at random.
        backend: ``auto``, ``serial`` or ``ray`` (see ``resolve_backend``).
        progress: called as ``progress(done, total)`` after each item finishes (in finishing
            order under Ray), in this process.

    Returns:
        ``fn`` of each item, in the order of ``items``.

    Raises:
        ValidationError: a bad ``backend`` (``resolve_backend``).
        Exception: whatever ``fn`` raised on the first failing item (under Ray, an error that is
            also an instance of the original class).
    """
    todo = list(items)
    if resolve_backend(backend) == "ray":
        return _ray_map(fn, todo, progress)
    out: list[R] = []
    for x in todo:
        out.append(fn(x))
        if progress is not None:
            progress(len(out), len(todo))
    return out


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)


def _ray_map(fn: Callable[[T], R], items: list[T], progress: Callable[[int, int], None] | None) -> list[R]:
    import ray  # the optional extra; imported only when a sweep asks for it

    started = not ray.is_initialized()
    if started:
        ray.init(include_dashboard=False, log_to_driver=True)
    try:
        task = ray.remote(_call)
        fn_ref = ray.put(fn)
        refs = [task.remote(fn_ref, x) for x in items]
        index = {ref: i for i, ref in enumerate(refs)}
        out: list[Any] = [None] * len(refs)
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                out[index[ref]] = ray.get(ref)
            if progress is not None:
                progress(len(refs) - len(pending), len(refs))
        return out
    finally:
        if started:
            ray.shutdown()
