"""Timers the throughput benchmark installs in Spark's Python workers.

They wrap, in the worker process only and without touching kronos's code:

- ``requests.Session.request``: every HTTP request MLflow's client sends, so
  that each key's requests to the tracking server and the time spent waiting
  for them are known;
- the ``fit`` and ``predict`` methods of every kronos model class: the model
  work, which the plain pattern does too;
- the ``save`` and ``load`` methods of every kronos model class: writing and
  reading MLflow model directories.

Time spent inside a wrapped call that is itself inside another wrapped call of
the same kind (an ensemble fitting its members) is counted once. The totals
are per process: a Spark Python worker runs one key at a time.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from typing import Any

#: The per-key figures, in the order of :func:`columns`.
FIELDS = (
    "bench_key_ms",
    "bench_http_calls",
    "bench_http_ms",
    "bench_model_ms",
    "bench_model_io_ms",
    "bench_pid",
)

_MARK = "_kronos_bench_probe"
_state = threading.local()
_totals: dict[str, float] = dict.fromkeys(FIELDS, 0.0)


def _timed(kind: str, total: str, count: str | None = None) -> Callable:
    """Return a decorator adding the time of outermost calls to ``total``."""

    def decorate(function: Callable) -> Callable:
        if getattr(function, _MARK, False):
            return function

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(_state, kind, 0)
            if depth:
                return function(*args, **kwargs)
            setattr(_state, kind, 1)
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                setattr(_state, kind, 0)
                _totals[total] += (time.perf_counter() - start) * 1000
                if count is not None:
                    _totals[count] += 1

        setattr(wrapper, _MARK, True)
        return wrapper

    return decorate


def install() -> None:
    """Wrap the timed functions in this process; a no-op once done."""
    import requests

    from kronos.models import FLAVORS

    session = requests.Session
    if getattr(session.request, _MARK, False):
        return
    session.request = _timed("http", "bench_http_ms", "bench_http_calls")(
        session.request
    )
    model_work = _timed("model", "bench_model_ms")
    model_io = _timed("io", "bench_model_io_ms")
    for model_class in FLAVORS.values():
        own = vars(model_class)
        for name, wrap in (("fit", model_work), ("predict", model_work)):
            if name in own:
                setattr(model_class, name, wrap(own[name]))
        if "save" in own:
            model_class.save = model_io(own["save"])
        if "load" in own:
            model_class.load = classmethod(model_io(own["load"].__func__))


def reset() -> None:
    """Start counting for a new key."""
    for name in _totals:
        _totals[name] = 0.0
    _state.start = time.perf_counter()


def columns() -> dict[str, float]:
    """Return the figures of the key counted since :func:`reset`."""
    values = dict(_totals)
    values["bench_key_ms"] = (time.perf_counter() - _state.start) * 1000
    values["bench_pid"] = float(os.getpid())
    return values
