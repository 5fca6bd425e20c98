"""A real MLflow tracking server on the loopback address, started for tests.

The server runs as its own process group with the interpreter that runs the
tests, so ``stop`` ends its workers too and ``start`` brings it back on the same
port and store: tests use this to see what clients do while the server is down.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

LOG_TAIL_CHARS = 4000


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_tail(path: Path, chars: int = LOG_TAIL_CHARS) -> str:
    """Return the last ``chars`` characters of a text file, or '' if it is absent."""
    if not path.exists():
        return ""
    return path.read_text(encoding="utf-8", errors="replace")[-chars:]


class MlflowServerError(RuntimeError):
    """The server did not come up, or did not go down, in time."""


class MlflowServer:
    """An ``mlflow server`` process with its store and artifacts in one folder.

    Parameters
    ----------
    root_dir
        Folder for the SQLite store (unless ``backend_store_uri`` is given), the
        artifacts and ``server.log``; the server also runs from there, so any
        default file it makes stays out of the repository.
    backend_store_uri
        SQLAlchemy URI of the tracking and registry store; defaults to
        ``sqlite:///<root_dir>/mlflow.db``.
    serve_artifacts
        When true, clients send artifacts through the server, which keeps them
        in ``<root_dir>/artifacts``; when false, clients write them straight to
        that folder.
    port
        Port to listen on; a free one by default.
    startup_timeout
        Seconds to wait for ``GET /health`` to answer before giving up.
    """

    def __init__(
        self,
        root_dir: str | os.PathLike[str],
        backend_store_uri: str | None = None,
        *,
        serve_artifacts: bool = False,
        port: int | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.root_dir = Path(root_dir).resolve()
        self.root_dir.mkdir(parents=True, exist_ok=True)
        self.backend_store_uri = (
            backend_store_uri or f"sqlite:///{self.root_dir / 'mlflow.db'}"
        )
        self.artifacts_dir = self.root_dir / "artifacts"
        self.log_path = self.root_dir / "server.log"
        self.serve_artifacts = serve_artifacts
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        atexit.register(self.stop)

    @property
    def tracking_uri(self) -> str:
        """The URI to give MLflow clients."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def is_running(self) -> bool:
        """Whether the server process is alive (it may still be starting)."""
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """Return the command line that starts the server."""
        command = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--backend-store-uri",
            self.backend_store_uri,
        ]
        if self.serve_artifacts:
            command += ["--serve-artifacts", "--artifacts-destination"]
        else:
            command += ["--no-serve-artifacts", "--default-artifact-root"]
        return [*command, str(self.artifacts_dir)]

    def _environment(self) -> dict[str, str]:
        # The server's job runner (a dozen worker processes that serve MLflow's
        # GenAI features) does nothing for forecasting and competes with Spark
        # for the cores.
        return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}

    def is_healthy(self, timeout: float = 2.0) -> bool:
        """Whether ``GET /health`` answers 200 right now."""
        try:
            with urllib.request.urlopen(
                f"{self.tracking_uri}/health", timeout=timeout
            ) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def start(self) -> MlflowServer:
        """Start the server and wait until it answers; a no-op if it runs.

        Raises
        ------
        MlflowServerError
            If the process exits or ``/health`` stays silent past
            ``startup_timeout``; the message ends with the server's log.
        """
        if self.is_running:
            return self

        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n$ {' '.join(self.command())}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                self.command(),
                cwd=self.root_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self._environment(),
            )

        deadline = time.monotonic() + self.startup_timeout
        while not self.is_healthy():
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise MlflowServerError(
                    f"mlflow server exited with code {code} before answering; "
                    f"log {self.log_path}:\n{read_tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise MlflowServerError(
                    f"mlflow server did not answer {self.tracking_uri}/health "
                    f"within {self.startup_timeout:.0f}s; "
                    f"log {self.log_path}:\n{read_tail(self.log_path)}"
                )
            time.sleep(0.2)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server and its workers; a no-op if it is not running.

        The process group gets SIGTERM, and SIGKILL for whatever is left of it
        after ``timeout`` seconds.
        """
        process, self._process = self._process, None
        if process is None:
            return

        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
        # Whatever is left of the group, a stuck worker included, is killed.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

        # A restart binds the same port, so nothing may answer on it any more.
        deadline = time.monotonic() + timeout
        while self.is_healthy(timeout=0.5):
            if time.monotonic() > deadline:
                raise MlflowServerError(
                    f"mlflow server still answers on port {self.port} after stop"
                )
            time.sleep(0.1)

    def __enter__(self) -> MlflowServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
