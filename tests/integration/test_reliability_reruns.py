"""Reruns and retries: one execution of a key registers and promotes once.

An execution is a key, a processing date and a configuration. Running it again
(a Spark task retry, an operator rerunning a day) must not register or
promote a second version; an attempt that died half-way is cleaned up and
completed by the next one.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import uuid

import numpy as np
import pandas as pd
import pytest
from _udf import key_rows, udf_arguments
from mlflow.tracking import MlflowClient

from kronos import executions, registry, tracking
from kronos.forecast_udf import forecast_udf_gen
from kronos.registry import UNIT_TEST_TAG

pytestmark = pytest.mark.integration

DAY = dt.date(2024, 3, 1)
MODELS = {
    "naive_1": {"model_flavor": "naive"},
    "weekly": {"model_flavor": "seasonal_naive", "season_length": 7},
}


class TaskKilled(BaseException):
    """Stands for the end of a worker: nothing in kronos catches it."""


@pytest.fixture(scope="module")
def client(mlflow_sqlite_server) -> MlflowClient:
    tracking.quiet_mlflow()
    return MlflowClient(mlflow_sqlite_server.tracking_uri)


def make_udf(client: MlflowClient, current_date: dt.date = DAY, **settings):
    """A new factory call: a new job, with the given settings."""
    arguments = udf_arguments(
        client,
        MODELS,
        current_date=current_date,
        experiment_name_template="reruns/{key}",
        model_name_template="reruns_{key}",
        with_outcome=True,
    )
    arguments.update(settings)
    return forecast_udf_gen(**arguments)


def key_frame(key: str, current_date: dt.date = DAY, n: int = 70) -> pd.DataFrame:
    dates = pd.date_range(end=current_date - dt.timedelta(days=1), periods=n)
    values = 20 + 4 * np.sin(2 * np.pi * np.arange(n) / 7) + 0.05 * np.arange(n)
    return key_rows(key, dates, values)


def new_key(name: str) -> str:
    return f"{name}_{uuid.uuid4().hex[:6]}"


def versions(client: MlflowClient, key: str) -> dict[str, str]:
    """Version number to unit-test tag, for the key's registered model."""
    found = client.search_model_versions(f"name='reruns_{key}'")
    return {v.version: v.tags.get(UNIT_TEST_TAG) for v in found}


def aliases(client: MlflowClient, key: str) -> dict[str, str]:
    return dict(client.get_registered_model(f"reruns_{key}").aliases)


def runs(client: MlflowClient, key: str) -> list:
    experiment = client.get_experiment_by_name(f"reruns/{key}")
    return client.search_runs(
        [experiment.experiment_id], order_by=["attributes.start_time ASC"]
    )


def outcome(result: pd.DataFrame) -> dict:
    return result.iloc[0].filter(like="kronos_").to_dict()


def kill_during(monkeypatch, method: str, after: bool = True) -> None:
    """Make ``Registry.<method>`` end the attempt, after doing its work."""
    original = getattr(registry.Registry, method)

    def die(self, *args, **kwargs):
        if after:
            original(self, *args, **kwargs)
        raise TaskKilled(method)

    monkeypatch.setattr(registry.Registry, method, die)


def test_the_execution_key_is_the_same_for_every_job_of_one_execution():
    client = MlflowClient("http://127.0.0.1:1")
    first, second = make_udf(client).settings, make_udf(client).settings
    entries = {"naive_1": MODELS["naive_1"]}

    assert first.job_id != second.job_id
    assert executions.execution_key(
        "k", first, "competition", entries
    ) == executions.execution_key("k", second, "competition", entries)


@pytest.mark.parametrize(
    "change",
    [
        {"current_date": DAY + dt.timedelta(days=1)},
        {"n_unit_test": 3},
        {"n_windows": 2},
        {"competition_metrics": "mae"},
        {"gaps": "zero"},
        {"registry_mode": "stages"},
    ],
)
def test_a_setting_that_changes_training_or_testing_changes_the_execution_key(change):
    client = MlflowClient("http://127.0.0.1:1")
    entries = {"naive_1": MODELS["naive_1"]}
    base = executions.execution_key(
        "k", make_udf(client).settings, "competition", entries
    )
    changed = executions.execution_key(
        "k", make_udf(client, **change).settings, "competition", entries
    )
    assert changed != base
    assert (
        executions.execution_key("k", make_udf(client).settings, "training", entries)
        != base
    )
    assert (
        executions.execution_key(
            "k2", make_udf(client).settings, "competition", entries
        )
        != base
    )


def test_a_second_execution_forecasts_with_the_version_of_the_first(client):
    key = new_key("rerun")
    first = make_udf(client)(key_frame(key))
    second = make_udf(client)(key_frame(key))

    assert outcome(first)["kronos_registered_version"] == "1"
    assert outcome(second)["kronos_registered_version"] is None
    assert outcome(second)["kronos_forecast_version"] == "1"
    assert outcome(second)["kronos_fallback_reason"] is None
    np.testing.assert_allclose(second["fcst"], first["fcst"])
    assert versions(client, key) == {"1": "passed"}
    first_run, second_run = runs(client, key)
    assert second_run.data.tags[executions.REPEATS_TAG] == first_run.info.run_id
    assert not any(name.endswith(".model_flavor") for name in second_run.data.params)


def test_a_rerun_of_an_earlier_day_repeats_that_day_s_forecast(client):
    key = new_key("rerun_after_a_new_champion")
    trend = key_frame(key).assign(value=100 + 0.5 * np.arange(70))
    day_1 = make_udf(client)(trend)
    day_2 = DAY + dt.timedelta(days=1)
    make_udf(client, day_2)(key_frame(key, day_2))
    assert aliases(client, key) == {"champion": "2"}

    rerun = make_udf(client)(trend)

    assert outcome(rerun)["kronos_forecast_version"] == "1"
    np.testing.assert_allclose(rerun["fcst"], day_1["fcst"])
    assert aliases(client, key) == {"champion": "2"}


def test_an_earlier_day_run_late_does_not_replace_a_later_champion(client):
    key = new_key("backfill")
    day_2 = DAY + dt.timedelta(days=1)
    make_udf(client, day_2)(key_frame(key, day_2))

    late = make_udf(client)(key_frame(key).assign(value=100 + 0.5 * np.arange(70)))

    assert outcome(late)["kronos_registered_version"] == "2"
    assert outcome(late)["kronos_unit_test"] == "passed"
    assert not outcome(late)["kronos_promoted"]
    assert outcome(late)["kronos_forecast_version"] == "2"
    assert aliases(client, key) == {"champion": "1"}
    assert "production" not in json.loads(outcome(late)["kronos_scores"])


def test_a_new_processing_date_is_a_new_execution(client):
    key = new_key("next_day")
    make_udf(client)(key_frame(key))
    day_2 = DAY + dt.timedelta(days=1)
    result = make_udf(client, day_2)(key_frame(key, day_2))

    assert "production" in json.loads(outcome(result)["kronos_scores"])
    assert executions.REPEATS_TAG not in runs(client, key)[-1].data.tags


def test_a_changed_configuration_is_a_new_execution(client):
    key = new_key("new_config")
    make_udf(client)(key_frame(key))
    result = make_udf(client, competition_metrics="mae")(key_frame(key))

    assert "production" in json.loads(outcome(result)["kronos_scores"])


def test_idempotency_can_be_switched_off(client):
    key = new_key("retrain")
    make_udf(client)(key_frame(key))
    result = make_udf(client, idempotent_executions=False)(key_frame(key))

    # It competes again; production, trained on the same data, keeps its place.
    assert "production" in json.loads(outcome(result)["kronos_scores"])
    assert executions.REPEATS_TAG not in runs(client, key)[-1].data.tags


def test_a_retried_attempt_tests_and_promotes_the_version_its_first_attempt_left(
    client, monkeypatch
):
    key = new_key("killed_after_register")
    udf = make_udf(client)
    with monkeypatch.context() as patch:
        kill_during(patch, "stage")
        with pytest.raises(TaskKilled):
            udf(key_frame(key))
    assert versions(client, key) == {"1": "pending"}
    assert aliases(client, key) == {"challenger": "1"}

    result = udf(key_frame(key))  # the retry: same job, same settings

    assert outcome(result)["kronos_registered_version"] == "1"
    assert outcome(result)["kronos_promoted"]
    assert versions(client, key) == {"1": "passed"}
    assert aliases(client, key) == {"champion": "1"}
    killed, retry = runs(client, key)
    assert killed.info.status == "FAILED"
    assert retry.info.status == "FINISHED"
    assert retry.data.tags[executions.RESUMES_TAG] == killed.info.run_id


def test_a_version_tested_before_the_kill_is_promoted_without_retraining(
    client, monkeypatch
):
    key = new_key("killed_before_promotion")
    udf = make_udf(client)
    with monkeypatch.context() as patch:
        kill_during(patch, "promote", after=False)
        with pytest.raises(TaskKilled):
            udf(key_frame(key))
    assert versions(client, key) == {"1": "passed"}
    assert "champion" not in aliases(client, key)

    result = udf(key_frame(key))

    assert outcome(result)["kronos_registered_version"] is None
    assert outcome(result)["kronos_forecast_version"] == "1"
    assert aliases(client, key) == {"champion": "1"}
    assert versions(client, key) == {"1": "passed"}


def test_an_attempt_killed_before_registering_is_simply_redone(client, monkeypatch):
    key = new_key("killed_before_register")
    udf = make_udf(client)
    with monkeypatch.context() as patch:
        kill_during(patch, "register", after=False)
        with pytest.raises(TaskKilled):
            udf(key_frame(key))

    result = udf(key_frame(key))

    assert outcome(result)["kronos_registered_version"] == "1"
    assert versions(client, key) == {"1": "passed"}
    killed, _ = runs(client, key)
    assert killed.info.status == "FAILED"
    assert killed.data.tags[executions.CLEANED_TAG].startswith("by run")


def test_a_fresh_run_of_another_job_is_taken_for_a_concurrent_execution(
    client, monkeypatch
):
    key = new_key("young_run_of_other_job")
    with monkeypatch.context() as patch:
        kill_during(patch, "stage")
        with pytest.raises(TaskKilled):
            make_udf(client)(key_frame(key))

    # Another job, moments later: it waits for the owner (here, in vain), then
    # forecasts with production, which does not exist yet.
    result = make_udf(client, registration_timeout_s=1)(key_frame(key))

    owner = runs(client, key)[0].info.run_id
    assert outcome(result)["kronos_registered_version"] is None
    assert outcome(result)["kronos_fallback_reason"] == (
        "no production model to predict with"
    )
    assert runs(client, key)[-1].data.tags[executions.DEFERS_TAG] == owner
    assert versions(client, key) == {"1": "pending"}


def test_an_operator_rerun_with_no_stale_delay_completes_a_dead_job(
    client, monkeypatch
):
    key = new_key("operator_rerun")
    with monkeypatch.context() as patch:
        kill_during(patch, "stage")
        with pytest.raises(TaskKilled):
            make_udf(client)(key_frame(key))

    result = make_udf(client, stale_run_after_s=0)(key_frame(key))

    assert outcome(result)["kronos_promoted"]
    assert versions(client, key) == {"1": "passed"}
    assert aliases(client, key) == {"champion": "1"}


def test_a_pending_version_of_a_dead_run_is_marked_when_the_key_next_registers(
    client, monkeypatch
):
    key = new_key("swept")
    with monkeypatch.context() as patch:
        kill_during(patch, "stage")
        with pytest.raises(TaskKilled):
            make_udf(client)(key_frame(key))
    day_2 = DAY + dt.timedelta(days=1)

    result = make_udf(client, day_2, stale_run_after_s=0)(key_frame(key, day_2))

    assert outcome(result)["kronos_registered_version"] == "2"
    tags = versions(client, key)
    assert tags["1"].startswith("abandoned: registered by run")
    assert tags["2"] == "passed"
    assert aliases(client, key) == {"champion": "2"}
    assert runs(client, key)[0].info.status == "FAILED"


# --------------------------------------------------------------------------
# A real Spark task retry
# --------------------------------------------------------------------------

SPARK_JOB = textwrap.dedent(
    """
    import datetime as dt
    import json
    import os
    import sys

    import numpy as np
    import pandas as pd
    from mlflow.tracking import MlflowClient
    from pyspark.sql import SparkSession

    import kronos
    from kronos.forecast_udf import forecast_udf_gen

    tracking_uri, output, *jobs = sys.argv[1:]
    # One thread, two attempts per task: local mode retries a failed task only
    # when the master says how many failures it allows.
    spark = (
        SparkSession.builder.master("local[1,2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("OFF")
    day = dt.date(2024, 3, 1)
    dates = pd.date_range(end=day - dt.timedelta(days=1), periods=70)
    values = 20 + 4 * np.sin(2 * np.pi * np.arange(70) / 7) + 0.05 * np.arange(70)
    def make_flaky(mode, udf):
        def flaky(frame):
            from pyspark import TaskContext

            from kronos import registry

            first_attempt = TaskContext.get().attemptNumber() == 0
            if first_attempt and mode == "killed":
                stage = registry.Registry.stage

                def stage_then_die(self, version):
                    stage(self, version)
                    os._exit(3)

                registry.Registry.stage = stage_then_die
            result = udf(frame)
            if first_attempt and mode == "lost":
                raise RuntimeError("the task is lost after its forecast")
            return result

        return flaky

    results = {}
    for job in jobs:
        mode, key = job.split(":", 1)
        udf = forecast_udf_gen(
            client=MlflowClient(tracking_uri),
            key_col="id", date_col="date", metric_col="value",
            quality_col="quality", action_col="action", models_col="models",
            models_config={"naive_1": {"model_flavor": "naive"}},
            days_from_last_obs_col="days", current_date=day, fcst_first_date=day,
            n_test=7, n_unit_test=5, forecast_horizon=5,
            dt_creation_col="dt_creation", dt_reference_col="dt_reference",
            experiment_name_template="reruns/{key}",
            model_name_template="reruns_{key}",
            with_outcome=True,
        )

        panel = pd.DataFrame(
            {"id": key, "date": dates.date, "value": values, "quality": "good",
             "action": "competition", "models": ""}
        )
        schema = kronos.result_schema(
            "id", "date", "fcst", "dt_creation", "dt_reference", "days",
            outcome=True,
        )
        rows = (
            spark.createDataFrame(panel)
            .groupby("id")
            .applyInPandas(make_flaky(mode, udf), schema=schema)
            .toPandas()
        )
        results[mode] = {
            "rows": len(rows),
            "fcst": rows["fcst"].tolist(),
            "registered": rows["kronos_registered_version"].unique().tolist(),
            "forecast_version": rows["kronos_forecast_version"].unique().tolist(),
        }
    with open(output, "w") as handle:
        json.dump(results, handle)
    spark.stop()
    """
)


@pytest.fixture(scope="module")
def spark_retries(client, mlflow_sqlite_server, tmp_path_factory):
    """Run two Spark jobs whose tasks fail on their first attempt."""
    killed, lost = new_key("spark_killed"), new_key("spark_lost")
    output = tmp_path_factory.mktemp("spark-retry") / "results.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            SPARK_JOB,
            mlflow_sqlite_server.tracking_uri,
            str(output),
            f"killed:{killed}",
            f"lost:{lost}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(output.read_text()), killed, lost


def test_a_spark_task_killed_after_registering_ends_with_one_tested_version(
    client, spark_retries
):
    results, key, _ = spark_retries
    assert results["killed"]["rows"] == 5
    assert results["killed"]["registered"] == ["1"]
    assert versions(client, key) == {"1": "passed"}
    assert aliases(client, key) == {"champion": "1"}
    first, retry = runs(client, key)
    assert first.info.status == "FAILED"
    assert retry.data.tags[executions.RESUMES_TAG] == first.info.run_id


def test_a_spark_task_lost_after_its_forecast_is_not_trained_again(
    client, spark_retries
):
    results, _, key = spark_retries
    assert results["lost"]["rows"] == 5
    assert results["lost"]["registered"] == [None]
    assert results["lost"]["forecast_version"] == ["1"]
    assert versions(client, key) == {"1": "passed"}
    first, retry = runs(client, key)
    assert first.info.status == "FINISHED"
    assert retry.data.tags[executions.REPEATS_TAG] == first.info.run_id
