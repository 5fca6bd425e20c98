"""The test machinery itself: Spark, MLflow servers, PostgreSQL and Delta Lake."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

pytestmark = pytest.mark.integration


def summarise_each_key(spark, panel: pd.DataFrame) -> pd.DataFrame:
    # Spark's workers cannot import test modules, so the function they run is
    # defined here and travels to them by value.
    def summarise_key(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "key": [frame["key"].iloc[0]],
                "total": [frame["y"].sum()],
                "rows": [len(frame)],
                "python": [sys.executable],
            }
        )

    return (
        spark.createDataFrame(panel)
        .groupBy("key")
        .applyInPandas(
            summarise_key, "key string, total double, rows long, python string"
        )
        .toPandas()
        .sort_values("key", ignore_index=True)
    )


def test_spark_calls_apply_in_pandas_once_per_key(spark):
    panel = pd.DataFrame({"key": ["a", "a", "b"], "y": [1.0, 2.0, 5.0]})

    result = summarise_each_key(spark, panel)

    expected = pd.DataFrame(
        {"key": ["a", "b"], "total": [3.0, 5.0], "rows": [2, 1]},
    )
    pd.testing.assert_frame_equal(result[["key", "total", "rows"]], expected)


def test_spark_workers_run_the_interpreter_of_the_tests(spark):
    panel = pd.DataFrame({"key": ["a"], "y": [1.0]})

    result = summarise_each_key(spark, panel)

    assert result["python"].tolist() == [sys.executable]


def test_mlflow_server_answers_health(mlflow_sqlite_server):
    url = f"{mlflow_sqlite_server.tracking_uri}/health"
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200


def test_client_creates_an_experiment_and_logs_a_metric(mlflow_sqlite_server):
    client = MlflowClient(mlflow_sqlite_server.tracking_uri)

    experiment_id = client.create_experiment("infrastructure/metric")
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "smape", 0.25)
    client.set_terminated(run.info.run_id)

    history = client.get_metric_history(run.info.run_id, "smape")
    assert [metric.value for metric in history] == [0.25]


def test_restarted_server_keeps_its_port_and_experiments(mlflow_server_factory):
    server = mlflow_server_factory()
    client = MlflowClient(server.tracking_uri)
    experiment_id = client.create_experiment("infrastructure/restart")
    port = server.port

    server.stop()
    assert not server.is_healthy()
    server.start()

    assert server.port == port
    experiment = client.get_experiment_by_name("infrastructure/restart")
    assert experiment is not None
    assert experiment.experiment_id == experiment_id


def test_served_artifacts_go_through_the_server(mlflow_server_factory, tmp_path):
    server = mlflow_server_factory(serve_artifacts=True)
    client = MlflowClient(server.tracking_uri)
    run = client.create_run(client.create_experiment("infrastructure/artifacts"))
    note = tmp_path / "note.txt"
    note.write_text("kronos", encoding="utf-8")

    client.log_artifact(run.info.run_id, str(note))
    downloaded = client.download_artifacts(
        run.info.run_id, "note.txt", str(tmp_path / "downloaded")
    )

    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    assert [path.name for path in server.artifacts_dir.rglob("note.txt")] == [
        "note.txt"
    ]
    assert Path(downloaded).read_text(encoding="utf-8") == "kronos"


def test_postgres_backed_server_stores_runs(mlflow_postgres_server):
    client = MlflowClient(mlflow_postgres_server.tracking_uri)

    experiment_id = client.create_experiment("infrastructure/postgres")
    run = client.create_run(experiment_id)
    client.log_param(run.info.run_id, "model", "naive")
    client.log_metric(run.info.run_id, "smape", 0.5)

    (found,) = client.search_runs([experiment_id])
    assert mlflow_postgres_server.backend_store_uri.startswith("postgresql")
    assert found.data.params == {"model": "naive"}
    assert found.data.metrics == {"smape": 0.5}


def test_tracking_uri_fixture_points_the_default_client_at_the_server(
    mlflow_tracking_uri, mlflow_sqlite_server
):
    experiment_id = mlflow.create_experiment("infrastructure/default-client")
    with mlflow.start_run(experiment_id=experiment_id):
        mlflow.log_metric("mae", 1.5)

    client = MlflowClient(mlflow_sqlite_server.tracking_uri)
    (run,) = client.search_runs([experiment_id])
    assert mlflow.get_tracking_uri() == mlflow_tracking_uri
    assert run.data.metrics == {"mae": 1.5}


def test_delta_table_written_then_merged_then_read(spark, tmp_path):
    if "DeltaSparkSessionExtension" not in spark.conf.get("spark.sql.extensions", ""):
        pytest.skip(
            "Delta Lake jars not found in .cache/jars or KRONOS_JARS_DIR: "
            "run scripts/bootstrap.sh"
        )
    path = str(tmp_path / "forecasts")
    first = pd.DataFrame({"key": ["a", "b"], "yhat": [1.0, 2.0]})
    update = pd.DataFrame({"key": ["b", "c"], "yhat": [20.0, 30.0]})

    spark.createDataFrame(first).write.format("delta").save(path)
    spark.createDataFrame(update).createOrReplaceTempView("forecast_update")
    spark.sql(
        f"MERGE INTO delta.`{path}` AS t USING forecast_update AS u ON t.key = u.key "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    result = (
        spark.read.format("delta")
        .load(path)
        .toPandas()
        .sort_values("key", ignore_index=True)
    )

    expected = pd.DataFrame({"key": ["a", "b", "c"], "yhat": [1.0, 20.0, 30.0]})
    pd.testing.assert_frame_equal(result, expected)
