"""Bounded retries of the requests MLflow sends to a tracking server.

MLflow's REST client retries a failed request (a refused connection, a timeout,
or a 429, 500, 502, 503 or 504 answer) with an exponential backoff. Its
defaults (7 retries, backoff factor 2, 120 s per attempt) make one request to a
server that is down wait for minutes, and one key sends many requests. kronos
applies its own, shorter policy while it runs a key, through the environment
variables that MLflow reads on every request, and restores them afterwards.

With ``max_retries`` retries and backoff factor ``f``, MLflow waits about
``f * (2 + 4 + ... + 2 ** (max_retries - 1))`` seconds between the attempts of
one request (the first retry follows at once), plus up to one second of random
jitter per later retry; each attempt may take up to ``timeout_s`` when the server
accepts connections but does not answer.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

logger = logging.getLogger(__name__)

#: MLflow's environment variables for retries, backoff and request timeout.
MAX_RETRIES_VARIABLE = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
BACKOFF_FACTOR_VARIABLE = "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"
TIMEOUT_VARIABLE = "MLFLOW_HTTP_REQUEST_TIMEOUT"

#: The largest retry count and backoff factor MLflow accepts.
MAX_RETRIES_LIMIT = 10
MAX_BACKOFF_FACTOR = 120


def worst_wait_s(max_retries: int, backoff_factor: int) -> float:
    """Return the longest backoff one failing request waits, jitter included.

    Timeouts of the attempts themselves are not counted.
    """
    sleeps = sum(backoff_factor * 2**attempt for attempt in range(1, max_retries))
    return float(sleeps + max(max_retries - 1, 0))


@contextlib.contextmanager
def http_policy(
    max_retries: int, backoff_factor: int, timeout_s: int
) -> Iterator[None]:
    """Apply a retry policy to MLflow's requests inside the ``with`` block.

    The variables are process-wide: a Spark Python worker runs one key at a
    time, and the previous values come back when the block ends.

    Parameters
    ----------
    max_retries
        Retries of one failed request, 0 to :data:`MAX_RETRIES_LIMIT`.
    backoff_factor
        Seconds of the exponential backoff's unit, 0 to
        :data:`MAX_BACKOFF_FACTOR`.
    timeout_s
        Seconds one attempt may wait for an answer.
    """
    wanted = {
        MAX_RETRIES_VARIABLE: str(max_retries),
        BACKOFF_FACTOR_VARIABLE: str(backoff_factor),
        TIMEOUT_VARIABLE: str(timeout_s),
    }
    previous = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    logger.debug(
        "MLflow requests: %d retries, backoff factor %d, timeout %d s",
        max_retries,
        backoff_factor,
        timeout_s,
    )
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


__all__ = [
    "BACKOFF_FACTOR_VARIABLE",
    "MAX_BACKOFF_FACTOR",
    "MAX_RETRIES_LIMIT",
    "MAX_RETRIES_VARIABLE",
    "TIMEOUT_VARIABLE",
    "http_policy",
    "worst_wait_s",
]
