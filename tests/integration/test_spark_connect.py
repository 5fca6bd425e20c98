"""The user flow through a Spark Connect server, as on serverless Databricks.

A local Spark Connect server (the one that ships in pyspark's jars) runs in its
own JVM; the notebook flow runs as its client in another process, since a
process that holds the classic session of the other tests cannot also hold a
Spark Connect session. Only the client's pickled forecasting function reaches
the server, which runs it in its Python workers against the MLflow server.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyspark
import pytest
from _mlflow_server import free_port, read_tail
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
FLOW_SCRIPT = HERE / "connect_user_flow.py"
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
START_TIMEOUT_S = 240
FLOW_TIMEOUT_S = 600
KEYS = ["store_a", "store_b", "store_c"]
CURRENT_DATE = dt.date(2024, 3, 1)
FORECAST_HORIZON = 7


def listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Spark Connect server on 127.0.0.1, in its own process group."""
    try:
        import grpc  # noqa: F401
    except ImportError:
        pytest.fail(
            "Spark Connect clients need pyspark's connect extras (grpcio, "
            "grpcio-status, googleapis-common-protos, zstandard): run "
            "scripts/bootstrap.sh"
        )
    folder = tmp_path_factory.mktemp("spark-connect")
    log_path = folder / "server.log"
    port = free_port()
    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    settings = {
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.warehouse.dir": str(folder / "warehouse"),
        "spark.pyspark.python": sys.executable,
    }
    command = [str(spark_submit), "--master", "local[2]", "--class", SERVER_CLASS]
    for name, value in settings.items():
        command += ["--conf", f"{name}={value}"]
    env = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            command,
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"the Spark Connect server did not listen on port {port}:\n"
                    f"{read_tail(log_path)}"
                )
            time.sleep(1)
        yield f"sc://127.0.0.1:{port}"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


@pytest.fixture(scope="module")
def connect_flow(connect_url, mlflow_sqlite_server, tmp_path_factory):
    out = tmp_path_factory.mktemp("connect-flow") / "result.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(FLOW_SCRIPT),
            "--remote",
            connect_url,
            "--tracking-uri",
            mlflow_sqlite_server.tracking_uri,
            "--prefix",
            "connect",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=FLOW_TIMEOUT_S,
        env={**os.environ, "PYSPARK_PYTHON": sys.executable},
    )
    if completed.returncode != 0:
        pytest.fail(
            f"the Spark Connect flow failed ({completed.returncode}):\n"
            f"{completed.stderr[-4000:]}"
        )
    payload = json.loads(out.read_text(encoding="utf-8"))
    rows = pd.read_json(io.StringIO(payload["rows"]), orient="records")
    for column in ("date", "dt_creation", "dt_reference"):
        rows[column] = pd.to_datetime(rows[column]).dt.date
    return payload["session"], rows


@pytest.fixture(scope="module")
def client(mlflow_sqlite_server):
    return MlflowClient(mlflow_sqlite_server.tracking_uri)


def test_the_flow_ran_on_a_spark_connect_session(connect_flow):
    session, _ = connect_flow
    assert session == "pyspark.sql.connect.session.SparkSession"


def test_every_key_returns_the_horizon_from_the_first_forecast_date(connect_flow):
    _, rows = connect_flow
    assert sorted(rows["id"].unique()) == KEYS
    assert len(rows) == len(KEYS) * FORECAST_HORIZON
    expected = [CURRENT_DATE + dt.timedelta(days=i) for i in range(FORECAST_HORIZON)]
    for _, key_rows in rows.groupby("id"):
        assert sorted(key_rows["date"]) == expected
    assert set(rows["dt_creation"]) == {CURRENT_DATE}
    assert set(rows["dt_reference"]) == {CURRENT_DATE}
    assert np.isfinite(rows["fcst"]).all()


def test_each_key_registered_and_promoted_a_tested_version(connect_flow, client):
    for key in KEYS:
        versions = client.search_model_versions(f"name='connect_{key}'")
        assert [v.version for v in versions] == ["1"], key
        champion = client.get_model_version_by_alias(f"connect_{key}", "champion")
        assert champion.version == "1"
        assert champion.tags["kronos.unit_test"] == "passed"
        assert champion.tags["kronos.candidate"] in ("naive_1", "weekly_1")


def test_each_key_logged_one_run_with_both_candidates(connect_flow, client):
    for key in KEYS:
        experiment = client.get_experiment_by_name(f"connect/{key}")
        runs = client.search_runs([experiment.experiment_id])
        assert len(runs) == 1
        assert runs[0].data.params["naive_1.model_flavor"] == "naive"
        assert runs[0].data.params["weekly_1.model_flavor"] == "seasonal_naive"
