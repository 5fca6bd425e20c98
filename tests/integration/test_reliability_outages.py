"""Outages of the tracking server: the job completes, every key gets a forecast.

A key whose tracking fails gets its production model's forecast when that
model was already loaded, the naive forecast otherwise, and the reason in the
outcome. Requests are retried with a bounded backoff. A version registered but
not tested when the server died stays marked ``pending`` and is completed by
the next execution of the key.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading

import numpy as np
import pandas as pd
import pytest
from _mlflow_server import MlflowServer
from _udf import key_rows, udf_arguments
from mlflow.tracking import MlflowClient

import kronos
from kronos import registry, tracking
from kronos.forecast_udf import forecast_udf_gen
from kronos.registry import UNIT_TEST_TAG

pytestmark = pytest.mark.integration

DAY_1 = dt.date(2024, 3, 1)
DAY_2 = DAY_1 + dt.timedelta(days=1)
MODELS = {
    "naive_1": {"model_flavor": "naive"},
    "weekly": {"model_flavor": "seasonal_naive", "season_length": 7},
}
HORIZON = 5


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> MlflowServer:
    """One private server for the module; each test stops or starts it.

    Starting a server takes long on a busy machine, so the tests share one
    and each brings it to the state it needs (a no-op when it is there).
    """
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-outages"))
    yield server
    server.stop()


def make_udf(client: MlflowClient, current_date: dt.date, **settings):
    return forecast_udf_gen(
        **udf_arguments(
            client,
            MODELS,
            current_date=current_date,
            forecast_horizon=HORIZON,
            with_outcome=True,
            **settings,
        )
    )


def trend_frame(key: str, current_date: dt.date, n: int = 70) -> pd.DataFrame:
    """A straight line: the naive model beats the weekly one."""
    dates = pd.date_range(end=current_date - dt.timedelta(days=1), periods=n)
    values = 100 + 0.5 * np.arange(n)
    return key_rows(key, dates, values)


def weekly_frame(key: str, current_date: dt.date, n: int = 70) -> pd.DataFrame:
    """A weekly pattern: the weekly model beats the naive one."""
    dates = pd.date_range(end=current_date - dt.timedelta(days=1), periods=n)
    values = 50 + 10 * np.sin(2 * np.pi * np.arange(n) / 7)
    return key_rows(key, dates, values)


def run_on_spark(spark, function, panel: pd.DataFrame) -> pd.DataFrame:
    schema = kronos.result_schema(
        "id", "date", "fcst", "dt_creation", "dt_reference", "days", outcome=True
    )
    return (
        spark.createDataFrame(panel)
        .groupby("id")
        .applyInPandas(function, schema=schema)
        .toPandas()
    )


def by_key(result: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {key: rows for key, rows in result.groupby("id")}


def test_a_short_outage_is_ridden_out_by_the_retries(server):
    client = MlflowClient(server.tracking_uri)
    udf = make_udf(client, DAY_1, http_max_retries=7, http_backoff_factor=1)
    tracking.quiet_mlflow()
    server.stop()
    restart = threading.Timer(1.0, server.start)
    restart.start()
    try:
        result = udf(trend_frame("short_outage", DAY_1))
    finally:
        restart.join()

    outcome = result.iloc[0]
    assert outcome["kronos_fallback_reason"] is None
    assert outcome["kronos_registered_version"] == "1"
    assert outcome["kronos_promoted"]


def test_every_key_gets_the_naive_forecast_when_the_server_is_down_at_start(
    spark, server
):
    client = MlflowClient(server.tracking_uri)
    udf = make_udf(client, DAY_1, http_max_retries=1)
    server.stop()
    panel = pd.concat([trend_frame(f"down_{i}", DAY_1) for i in range(3)])

    result = run_on_spark(spark, udf, panel)

    assert len(result) == 3 * HORIZON
    for key, rows in by_key(result).items():
        last = panel.loc[panel["id"] == key, "value"].iloc[-1]
        assert np.allclose(rows["fcst"], last)
        reason = rows["kronos_fallback_reason"].iloc[0]
        assert reason.startswith("tracking unavailable: MlflowException")
        assert rows["kronos_run_id"].isna().all()


def test_a_key_failing_mid_way_ends_its_run_failed_and_marks_its_version(
    server, monkeypatch
):
    server.start()
    client = MlflowClient(server.tracking_uri)

    def broken_stage(self, version):
        raise RuntimeError("registry error")

    monkeypatch.setattr(registry.Registry, "stage", broken_stage)
    tracking.quiet_mlflow()

    result = make_udf(client, DAY_1)(trend_frame("mid_way", DAY_1))

    outcome = result.iloc[0]
    assert outcome["kronos_fallback_reason"].startswith(
        "lifecycle failed: RuntimeError: registry error"
    )
    assert outcome["kronos_forecast_version"] is None
    last = trend_frame("mid_way", DAY_1)["value"].iloc[-1]
    assert np.allclose(result["fcst"], last)
    run = client.get_run(outcome["kronos_run_id"])
    assert run.info.status == "FAILED"
    version = client.get_model_version("mid_way", "1")
    assert version.tags[UNIT_TEST_TAG].startswith("abandoned: run")


def test_a_server_killed_mid_job_leaves_forecasts_and_a_state_the_rerun_completes(
    spark, server
):
    server.start()
    client = MlflowClient(server.tracking_uri)
    keys = ["killer", "other_a", "other_b"]
    for key in keys:
        day_1 = make_udf(client, DAY_1)(trend_frame(key, DAY_1))
        assert day_1["kronos_winner"].iloc[0] == "naive_1"
    day_2_panel = pd.concat([weekly_frame(key, DAY_2) for key in keys])
    udf = make_udf(client, DAY_2, http_max_retries=1)
    # The server runs in its own process group, whose id is its process id.
    server_group = server._process.pid

    def kill_the_server_while_staging(frame: pd.DataFrame) -> pd.DataFrame:
        from kronos import registry  # the worker's own module

        if frame["id"].iloc[0] != "killer":
            return udf(frame)
        stage = registry.Registry.stage

        def kill_then_stage(self, version):
            os.killpg(server_group, signal.SIGKILL)
            stage(self, version)

        registry.Registry.stage = kill_then_stage
        try:
            return udf(frame)
        finally:
            registry.Registry.stage = stage

    result = run_on_spark(spark, kill_the_server_while_staging, day_2_panel)

    # The job completed and every key has its rows and a finite forecast.
    assert len(result) == len(keys) * HORIZON
    assert np.isfinite(result["fcst"]).all()
    rows = by_key(result)
    killer = rows["killer"].iloc[0]
    assert killer["kronos_registered_version"] == "2"
    assert killer["kronos_fallback_reason"].startswith("lifecycle failed")
    # Production was loaded before the server died: it made the forecast.
    assert killer["kronos_forecast_version"] == "1"
    production_forecast = trend_frame("killer", DAY_1)["value"].iloc[-1]
    assert np.allclose(rows["killer"]["fcst"], production_forecast)
    for key in ("other_a", "other_b"):
        outcome = rows[key].iloc[0]
        if outcome["kronos_fallback_reason"] is None:
            continue  # processed before the kill
        if outcome["kronos_forecast_version"] is None:
            last = day_2_panel.loc[day_2_panel["id"] == key, "value"].iloc[-1]
            assert np.allclose(rows[key]["fcst"], last)
        else:
            assert outcome["kronos_forecast_version"] == "1"

    # Back up: the registry shows the untested version for what it is.
    server.stop()
    server.start()
    assert client.get_model_version("killer", "2").tags[UNIT_TEST_TAG] == "pending"
    assert client.get_model_version_by_alias("killer", "champion").version == "1"

    # The operator reruns the day once the server is back.
    rerun = run_on_spark(
        spark, make_udf(client, DAY_2, stale_run_after_s=0), day_2_panel
    )

    assert rerun["kronos_fallback_reason"].isna().all()
    for key in keys:
        versions = client.search_model_versions(f"name='{key}'")
        assert all(v.tags[UNIT_TEST_TAG] == "passed" for v in versions), key
        champion = client.get_model_version_by_alias(key, "champion")
        assert champion.version == str(max(int(v.version) for v in versions))
        experiment = client.get_experiment_by_name(key)
        statuses = {
            r.info.status for r in client.search_runs([experiment.experiment_id])
        }
        assert "RUNNING" not in statuses, key
    assert client.get_model_version_by_alias("killer", "champion").version == "2"
