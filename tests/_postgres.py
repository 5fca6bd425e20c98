"""A throwaway PostgreSQL server for tests, run from Debian's server binaries.

The cluster lives in a fresh temporary folder, listens on 127.0.0.1 at a free
port with trust authentication, and is deleted on ``stop``. PostgreSQL refuses to
run as root, so under root every server command runs as the ``postgres`` user
that Debian's package creates, in a folder that user owns.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from _mlflow_server import free_port, read_tail

POSTGRES_LIB = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"
NOT_INSTALLED = (
    "PostgreSQL server not installed: run scripts/bootstrap.sh --with-postgres"
)


def find_bin_dir() -> Path | None:
    """Return the newest ``/usr/lib/postgresql/<major>/bin`` with a server."""
    candidates = [
        path
        for path in POSTGRES_LIB.glob("*/bin")
        if re.fullmatch(r"\d+", path.parent.name)
        and all((path / tool).exists() for tool in ("postgres", "initdb", "pg_ctl"))
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda path: int(path.parent.name))


def unavailable_reason() -> str | None:
    """Say why ``LocalPostgres`` cannot run here, or return None if it can."""
    if find_bin_dir() is None:
        return NOT_INSTALLED
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no '{SERVER_USER}' user to run as"
        if shutil.which("runuser") is None:
            return "running as root and 'runuser' is not on PATH"
    return None


class LocalPostgresError(RuntimeError):
    """A PostgreSQL command failed; the message carries its output."""


class LocalPostgres:
    """A PostgreSQL cluster with one database, for the life of a test session.

    Parameters
    ----------
    database
        Name of the database created at start.
    user
        Superuser of the cluster, and the user in ``uri``.
    port
        Port to listen on; a free one by default.
    startup_timeout
        Seconds ``pg_ctl`` waits for the server to accept connections.
    """

    def __init__(
        self,
        database: str = "kronos",
        user: str = "kronos",
        *,
        port: int | None = None,
        startup_timeout: int = 60,
    ) -> None:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise LocalPostgresError(NOT_INSTALLED)
        self.bin_dir = bin_dir
        self.database = database
        self.user = user
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.root_dir: Path | None = None
        atexit.register(self.stop)

    @property
    def uri(self) -> str:
        """SQLAlchemy URI of the database, as MLflow's backend store takes it.

        The driver is named: SQLAlchemy 2.1 would otherwise pick psycopg 3, and
        the tested package set installs psycopg2.
        """
        address = f"{self.user}@127.0.0.1:{self.port}"
        return f"postgresql+psycopg2://{address}/{self.database}"

    @property
    def data_dir(self) -> Path:
        """The cluster's data folder."""
        if self.root_dir is None:
            raise LocalPostgresError("the server has not been started")
        return self.root_dir / "data"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        if self.root_dir is None:
            raise LocalPostgresError("the server has not been started")
        return self.root_dir / "postgres.log"

    def _run(self, *args: str, as_server_user: bool = True) -> None:
        """Run one PostgreSQL tool, as the server's user where root must switch."""
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if as_server_user and os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        result = subprocess.run(
            command,
            cwd=self.root_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LocalPostgresError(
                f"{shlex.join(command)} exited with code {result.returncode}:\n"
                f"{result.stdout}{result.stderr}"
            )

    def start(self) -> LocalPostgres:
        """Create the cluster, start the server and create the database.

        Raises
        ------
        LocalPostgresError
            If a step fails; the message holds the tool's output or the log.
        """
        if self.root_dir is not None:
            return self

        self.root_dir = Path(tempfile.mkdtemp(prefix="kronos-postgres-"))
        if os.geteuid() == 0:
            server_user = pwd.getpwnam(SERVER_USER)
            os.chown(self.root_dir, server_user.pw_uid, server_user.pw_gid)

        try:
            self._init_cluster()
            self._start_server()
            self._create_database()
        except BaseException:
            self.stop()
            raise
        return self

    def _init_cluster(self) -> None:
        self._run(
            "initdb",
            "--pgdata",
            str(self.data_dir),
            "--username",
            self.user,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )

    def _start_server(self) -> None:
        # A test cluster needs no durability: skipping disk syncs keeps each
        # MLflow request fast.
        server_options = [
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-k",
            str(self.root_dir),
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
        try:
            self._run(
                "pg_ctl",
                "--pgdata",
                str(self.data_dir),
                "--log",
                str(self.log_path),
                "--wait",
                "--timeout",
                str(self.startup_timeout),
                "--options",
                shlex.join(server_options),
                "start",
            )
        except LocalPostgresError as exc:
            raise LocalPostgresError(
                f"{exc}\nserver log:\n{read_tail(self.log_path)}"
            ) from exc

    def _create_database(self) -> None:
        self._run(
            "createdb",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--username",
            self.user,
            self.database,
            as_server_user=False,
        )

    def stop(self) -> None:
        """Stop the server and delete its folder; a no-op if it is not running."""
        if self.root_dir is None:
            return

        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run(
                    "pg_ctl", "--pgdata", str(self.data_dir), "--mode", "fast", "stop"
                )
        finally:
            shutil.rmtree(self.root_dir, ignore_errors=True)
            self.root_dir = None

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
