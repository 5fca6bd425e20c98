"""Shared fixtures: a local Spark session, real MLflow servers, a real PostgreSQL.

Everything these fixtures make lives in temporary folders, so a test
run leaves no ``mlflow.db``, ``mlruns`` or ``spark-warehouse`` in the repository.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from _mlflow_server import MlflowServer
from _postgres import LocalPostgres, unavailable_reason

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Spark's Python workers must run this interpreter, with the packages of this
# environment; the driver must bind to the loopback address, whatever the
# host name resolves to.
os.environ["PYSPARK_PYTHON"] = sys.executable
os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """A ``local[2]`` session, with Delta Lake when bootstrap fetched its jars."""
    # Imported here so that tests without Spark do not pay for importing it.
    from _spark import build_local_session

    session = build_local_session(
        "kronos-tests", warehouse_dir=tmp_path_factory.mktemp("spark-warehouse")
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def mlflow_sqlite_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[MlflowServer]:
    """An MLflow server on a SQLite store, shared by the whole session."""
    with MlflowServer(tmp_path_factory.mktemp("mlflow-sqlite")) as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """A PostgreSQL server with one empty database; skips when none is installed."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with LocalPostgres() as server:
        yield server


@pytest.fixture(scope="session")
def mlflow_postgres_server(
    postgres: LocalPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlflowServer]:
    """An MLflow server on the PostgreSQL database, shared by the whole session."""
    root_dir = tmp_path_factory.mktemp("mlflow-postgres")
    with MlflowServer(root_dir, backend_store_uri=postgres.uri) as server:
        yield server


@pytest.fixture
def mlflow_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., MlflowServer]]:
    """Start private MLflow servers, each in its own folder, for one test.

    The factory takes ``MlflowServer``'s keyword arguments and returns a running
    server; the test may stop and restart it at will. All are stopped after the
    test.
    """
    servers: list[MlflowServer] = []

    def start(**kwargs: Any) -> MlflowServer:
        server = MlflowServer(tmp_path_factory.mktemp("mlflow-private"), **kwargs)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def mlflow_tracking_uri(
    mlflow_sqlite_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """Point MLflow's default client at the SQLite server for one test."""
    import mlflow

    uri = mlflow_sqlite_server.tracking_uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    yield uri
    # None makes MLflow forget the URI and read the environment again, which
    # monkeypatch restores next.
    mlflow.set_tracking_uri(None)
