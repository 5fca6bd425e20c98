"""An MLflow tracking server on the loopback address, for one machine.

Benchmarks, demos and tests need a real ``mlflow server`` rather than a local
store: Spark workers then talk to tracking and the registry over HTTP, as they
do on a cluster. :class:`LocalServer` starts one on ``127.0.0.1``, waits until
it answers, and stops it with all its worker processes.

By default the server does not serve artifacts: clients write and read model
files directly in ``<root_dir>/artifacts``, the way Spark workers reach a
shared volume on a cluster, and only tracking and registry calls go over HTTP.

Every request the server answers is written to its log (one access line per
request), which :func:`count_requests` reads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)

#: Environment given to the server: its job runner (worker processes that
#: serve MLflow's GenAI features) does nothing for forecasting and would
#: compete with Spark for the cores.
SERVER_ENVIRONMENT = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}

#: The HTTP servers ``mlflow server`` can run under.
HTTP_SERVERS = ("uvicorn", "gunicorn")
#: How much of the end of a log an error message quotes.
LOG_TAIL_CHARS = 4000

_ACCESS_LINE = re.compile(r'"(GET|POST|PATCH|PUT|DELETE) (/[^ ?"]*)[^"]*" \d{3}')


class LocalServerError(RuntimeError):
    """The server did not come up, or did not go down, in time."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(
    port: int,
    backend_store_uri: str,
    artifacts_dir: str | os.PathLike[str],
    *,
    serve_artifacts: bool = False,
    workers: int = 1,
    http_server: str = "uvicorn",
    threads: int = 1,
) -> list[str]:
    """Return the command line of an ``mlflow server`` on 127.0.0.1.

    Parameters
    ----------
    port
        Port to listen on.
    backend_store_uri
        SQLAlchemy URI of the tracking and registry store.
    artifacts_dir
        Folder of the artifacts: written by clients directly, or by the server
        when ``serve_artifacts`` is true.
    serve_artifacts
        Send artifacts through the server instead of letting clients write
        them to ``artifacts_dir`` themselves.
    workers
        Server worker processes.
    http_server
        ``"uvicorn"`` (MLflow's default: the FastAPI application around the
        Flask one) or ``"gunicorn"`` (the Flask application alone). Both log
        one access line per request.
    threads
        Threads per gunicorn worker: requests one worker serves at once.

    Raises
    ------
    ValueError
        When ``http_server`` is neither.
    """
    if http_server not in HTTP_SERVERS:
        raise ValueError(
            f"http_server={http_server!r} is not supported; use one of "
            f"{list(HTTP_SERVERS)}"
        )
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--backend-store-uri",
        backend_store_uri,
    ]
    if http_server == "gunicorn":
        options = f"--access-logfile - --log-level warning --threads {threads}"
        command += ["--gunicorn-opts", options]
    if serve_artifacts:
        command += ["--serve-artifacts", "--artifacts-destination"]
    else:
        command += ["--no-serve-artifacts", "--default-artifact-root"]
    return [*command, str(artifacts_dir)]


def count_requests(log_text: str) -> dict[str, int]:
    """Count the API requests in a piece of the server's log, by method and path.

    Parameters
    ----------
    log_text
        Lines of the server log, as written by its access logger.

    Returns
    -------
    dict
        ``"<METHOD> <path>"`` to the number of requests; health checks are
        left out.
    """
    counts: dict[str, int] = {}
    for method, path in _ACCESS_LINE.findall(log_text):
        if path == "/health":
            continue
        name = f"{method} {path}"
        counts[name] = counts.get(name, 0) + 1
    return counts


def read_tail(path: Path, chars: int = LOG_TAIL_CHARS) -> str:
    """Return the last ``chars`` characters of a text file, or '' if it is absent."""
    if not path.exists():
        return ""
    return path.read_text(encoding="utf-8", errors="replace")[-chars:]


class LocalServer:
    """An ``mlflow server`` process with its store and artifacts in one folder.

    Parameters
    ----------
    root_dir
        Folder of the SQLite store (unless ``backend_store_uri`` is given), of
        the artifacts and of ``server.log``. The server runs from there.
    backend_store_uri
        SQLAlchemy URI of the store; ``sqlite:///<root_dir>/mlflow.db`` by
        default.
    serve_artifacts
        See :func:`server_command`.
    port
        Port to listen on; a free one by default.
    startup_timeout
        Seconds to wait for ``GET /health`` to answer.
    http_server, workers, threads
        See :func:`server_command`.
    """

    def __init__(
        self,
        root_dir: str | os.PathLike[str],
        backend_store_uri: str | None = None,
        *,
        serve_artifacts: bool = False,
        port: int | None = None,
        startup_timeout: float = 120.0,
        http_server: str = "uvicorn",
        workers: int = 1,
        threads: int = 1,
    ) -> None:
        self.root_dir = Path(root_dir).resolve()
        self.backend_store_uri = (
            backend_store_uri or f"sqlite:///{self.root_dir / 'mlflow.db'}"
        )
        self.artifacts_dir = self.root_dir / "artifacts"
        self.log_path = self.root_dir / "server.log"
        self.serve_artifacts = serve_artifacts
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.http_server = http_server
        self.workers = workers
        self.threads = threads
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def tracking_uri(self) -> str:
        """The URI to give MLflow clients."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's process id (its process group leader), or None."""
        return self._process.pid if self._process is not None else None

    @property
    def is_running(self) -> bool:
        """Whether the server process is alive (it may still be starting)."""
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """Return the command line that starts the server."""
        return server_command(
            self.port,
            self.backend_store_uri,
            self.artifacts_dir,
            serve_artifacts=self.serve_artifacts,
            workers=self.workers,
            http_server=self.http_server,
            threads=self.threads,
        )

    def is_healthy(self, timeout: float = 2.0) -> bool:
        """Whether ``GET /health`` answers 200 right now."""
        try:
            with urllib.request.urlopen(
                f"{self.tracking_uri}/health", timeout=timeout
            ) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def log_size(self) -> int:
        """Return the size of the server log now, a mark for :meth:`log_since`."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, mark: int) -> str:
        """Return what the server logged after ``mark``."""
        with self.log_path.open("rb") as log:
            log.seek(mark)
            return log.read().decode("utf-8", errors="replace")

    def start(self) -> LocalServer:
        """Start the server and wait until it answers; a no-op if it runs.

        Raises
        ------
        LocalServerError
            When the process exits or stays silent past ``startup_timeout``;
            the message ends with the tail of the server log.
        """
        if self.is_running:
            return self
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        command = self.command()
        with self.log_path.open("ab") as log:
            log.write(f"\n$ {' '.join(command)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                command,
                cwd=self.root_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **SERVER_ENVIRONMENT},
            )
        deadline = time.monotonic() + self.startup_timeout
        while not self.is_healthy():
            if self._process.poll() is not None:
                code, self._process = self._process.returncode, None
                raise LocalServerError(
                    f"mlflow server exited with code {code} before answering; "
                    f"log {self.log_path}:\n{read_tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise LocalServerError(
                    f"mlflow server did not answer {self.tracking_uri}/health "
                    f"within {self.startup_timeout:.0f} s; "
                    f"log {self.log_path}:\n{read_tail(self.log_path)}"
                )
            time.sleep(0.2)
        logger.info("mlflow server answers at %s", self.tracking_uri)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server and its workers; a no-op if it is not running.

        Its process group gets SIGTERM, then SIGKILL for whatever is left
        after ``timeout`` seconds.
        """
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
