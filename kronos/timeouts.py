"""Time limits on model fitting, so that no key can stall a job.

:func:`run_within` runs a piece of work (fitting and scoring one candidate)
in a worker thread and stops waiting for it after the limit. The key then goes
on without it: the caller drops the candidate with the reason.

Python cannot stop a thread from outside, so work that runs over is not
killed: it goes on in the background until it ends, using a core meanwhile,
and its result is thrown away. The thread is a daemon thread, so it never
keeps the worker process from exiting. A fit that never ends keeps its thread
for the life of the process; a limit that is hit often is a sign to fix the
model's configuration, not to rely on the limit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class TimeLimitError(RuntimeError):
    """Work ran over its time limit and was abandoned."""


def run_within(limit_s: float | None, work: Callable[[], T], what: str) -> T:
    """Return ``work()``, or raise when it runs for more than ``limit_s`` seconds.

    Parameters
    ----------
    limit_s
        The limit in seconds; None runs ``work`` in this thread, unlimited.
    work
        The work, without arguments.
    what
        What the work is, for the error message and the thread's name.

    Raises
    ------
    TimeLimitError
        When the limit passes first; the work goes on in the background and
        its result is discarded.
    Exception
        Whatever ``work`` raised, when it ended within the limit.
    """
    if limit_s is None:
        return work()

    outcome: dict[str, object] = {}
    finished = threading.Event()

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            finished.set()

    thread = threading.Thread(target=target, name=f"kronos: {what}", daemon=True)
    thread.start()
    if not finished.wait(limit_s):
        logger.info("%s ran over %g s; left running in the background", what, limit_s)
        raise TimeLimitError(
            f"{what} ran over candidate_timeout_s={limit_s:g} s and was abandoned"
        )
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


__all__ = ["TimeLimitError", "run_within"]
