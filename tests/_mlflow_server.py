"""A real MLflow tracking server on the loopback address, started for tests.

:class:`MlflowServer` is kronos's own :class:`~kronos.local_server.LocalServer`
(the server runs as its own process group with the interpreter that runs the
tests, so ``stop`` ends its workers too) with what tests need on top: its folder
exists from the start, it is stopped when the interpreter exits, and ``stop``
returns only once nothing answers on its port, so that ``start`` brings it back
on the same port and store. Tests use this to see what clients do while the
server is down.
"""

from __future__ import annotations

import atexit
import os
import time
from typing import Any

from kronos.local_server import (
    LocalServer,
    LocalServerError,
    free_port,
    read_tail,
)

__all__ = [
    "MlflowServer",
    "MlflowServerError",
    "free_port",
    "read_tail",
]

#: The server did not come up, or did not go down, in time.
MlflowServerError = LocalServerError


class MlflowServer(LocalServer):
    """An ``mlflow server`` process with its store and artifacts in one folder.

    Parameters
    ----------
    root_dir
        Folder for the SQLite store (unless ``backend_store_uri`` is given), the
        artifacts and ``server.log``; the server also runs from there, so any
        default file it makes stays out of the repository. It is made here.
    backend_store_uri
        SQLAlchemy URI of the tracking and registry store; defaults to
        ``sqlite:///<root_dir>/mlflow.db``.
    options
        ``LocalServer``'s keyword arguments: ``serve_artifacts`` (clients send
        artifacts through the server instead of writing them to
        ``<root_dir>/artifacts`` themselves), ``port`` (a free one by default),
        ``startup_timeout`` (seconds to wait for ``GET /health``), and so on.
    """

    def __init__(
        self,
        root_dir: str | os.PathLike[str],
        backend_store_uri: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(root_dir, backend_store_uri, **options)
        self.root_dir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server and its workers; a no-op if it is not running.

        The process group gets SIGTERM, and SIGKILL for whatever is left of it
        after ``timeout`` seconds; then the port must fall silent within
        ``timeout`` seconds more.

        Raises
        ------
        MlflowServerError
            If something still answers on the port after that.
        """
        if self.pid is None:
            return
        super().stop(timeout)

        # A restart binds the same port, so nothing may answer on it any more.
        deadline = time.monotonic() + timeout
        while self.is_healthy(timeout=0.5):
            if time.monotonic() > deadline:
                raise MlflowServerError(
                    f"mlflow server still answers on port {self.port} after stop"
                )
            time.sleep(0.1)
