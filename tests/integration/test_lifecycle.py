"""The user flow on local Spark against a real MLflow server, two days running."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from pyspark.sql.types import (
    DateType,
    FloatType,
    IntegerType,
    StringType,
    StructField,
    StructType,
)

import kronos
from kronos.forecast_udf import forecast_udf_gen
from kronos.registry import UNIT_TEST_TAG

pytestmark = pytest.mark.integration

key_col, date_col, metric_col = "id", "date", "value"
quality_col, action_col, models_col = "quality", "action", "models"
fcst_col, dt_creation_col, dt_reference_col = "fcst", "dt_creation", "dt_reference"
days_from_last_obs_col = "days_from_last_obs"

models_config = json.dumps(
    {
        "prophet_1": {"model_flavor": "prophet", "weekly_seasonality": True},
        "arima_1": {"model_flavor": "pmdarima", "seasonal": False, "max_p": 2},
        "naive_1": {"model_flavor": "naive"},
    }
)
n_test, n_unit_test, forecast_horizon = 14, 7, 10
DAY_1 = dt.date(2024, 3, 1)
DAY_2 = DAY_1 + dt.timedelta(days=1)
KEYS = ["good_a", "good_b", "bad_c", "predict_d", "training_e", "garbage_f"]


def make_panel(end: dt.date, days: int = 150) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    dates = pd.date_range(end=end - dt.timedelta(days=1), periods=days, freq="D")
    t = np.arange(days)
    frames = []
    for index, key in enumerate(KEYS):
        values = 50 + 5 * index + 0.1 * t + 8 * np.sin(2 * np.pi * t / 7)
        values = values + rng.normal(0, 1, days)
        frame = pd.DataFrame(
            {
                key_col: key,
                date_col: dates.date,
                metric_col: values.astype(str),
                quality_col: "bad" if key == "bad_c" else "good",
                action_col: "competition",
                models_col: "prophet_1,naive_1" if key == "good_b" else "",
            }
        )
        if key == "garbage_f":
            frame[metric_col] = "n/a"
        frames.append(frame)
    panel = pd.concat(frames, ignore_index=True)
    if end == DAY_2:
        panel.loc[panel[key_col] == "predict_d", action_col] = "predict"
        panel.loc[panel[key_col] == "training_e", action_col] = "training"
    return panel


def hand_written_schema() -> StructType:
    """The result schema of the notebook flow, as users write it."""
    return StructType(
        [
            StructField(key_col, StringType()),
            StructField(date_col, DateType()),
            StructField(fcst_col, FloatType()),
            StructField(dt_creation_col, DateType()),
            StructField(dt_reference_col, DateType()),
            StructField(days_from_last_obs_col, IntegerType()),
        ]
    )


def user_arguments(client, current_date) -> dict:
    """The arguments of ``forecast_udf_gen`` in the notebook flow."""
    return dict(
        client=client,
        key_col=key_col,
        date_col=date_col,
        metric_col=metric_col,
        quality_col=quality_col,
        action_col=action_col,
        models_col=models_col,
        models_config=models_config,
        days_from_last_obs_col=days_from_last_obs_col,
        current_date=current_date,
        fcst_first_date=current_date,
        n_test=n_test,
        n_unit_test=n_unit_test,
        forecast_horizon=forecast_horizon,
        dt_creation_col=dt_creation_col,
        dt_reference_col=dt_reference_col,
    )


def run_user_flow(spark, client, current_date, **extra):
    """The notebook flow, as users write it."""
    df = spark.createDataFrame(make_panel(current_date))
    result_schema = hand_written_schema()
    partition_key = "id"
    partition_number = df.select(partition_key).distinct().count()
    df = df.repartition(partition_number, partition_key)

    forecast_udf = forecast_udf_gen(**user_arguments(client, current_date), **extra)
    df_pred = df.groupby(partition_key).applyInPandas(
        forecast_udf, schema=result_schema
    )
    return df_pred.toPandas()


def run_of_day(client, experiment_name: str, current_date: dt.date):
    """The first run of an experiment for one processing date."""
    experiment = client.get_experiment_by_name(experiment_name)
    return client.search_runs(
        [experiment.experiment_id],
        f"tags.`kronos.current_date` = '{current_date.isoformat()}'",
    )[0]


@pytest.fixture(scope="module")
def client(mlflow_sqlite_server):
    return MlflowClient(mlflow_sqlite_server.tracking_uri)


@pytest.fixture(scope="module", params=["aliases", "stages"])
def two_days(request, spark, client):
    mode = request.param
    templates = {
        "experiment_name_template": f"{mode}/{{key}}",
        "model_name_template": f"{mode}_{{key}}",
        "registry_mode": mode,
    }
    day_1 = run_user_flow(spark, client, DAY_1, **templates)
    day_2 = run_user_flow(spark, client, DAY_2, **templates)
    return mode, day_1, day_2


def production_versions(client, mode, key):
    name = f"{mode}_{key}"
    if mode == "aliases":
        # An alias points at one version at most: this is the production version.
        return [client.get_model_version_by_alias(name, "champion")]
    return client.get_latest_versions(name, stages=["Production"])


def test_every_key_returns_the_horizon_from_the_first_forecast_date(two_days):
    _, day_1, day_2 = two_days
    for current_date, result in ((DAY_1, day_1), (DAY_2, day_2)):
        assert sorted(result[key_col].unique()) == sorted(KEYS)
        assert len(result) == len(KEYS) * forecast_horizon
        for _, rows in result.groupby(key_col):
            expected = [
                current_date + dt.timedelta(days=i) for i in range(forecast_horizon)
            ]
            assert sorted(rows[date_col]) == expected
        assert set(result[dt_creation_col]) == {current_date}
        assert set(result[dt_reference_col]) == {current_date}


def test_days_from_last_obs_counts_from_the_last_observation(two_days):
    _, day_1, _ = two_days
    good = day_1[day_1[key_col] == "good_a"]
    assert set(good[days_from_last_obs_col]) == {1}
    garbage = day_1[day_1[key_col] == "garbage_f"]
    assert garbage[days_from_last_obs_col].isna().all()


def test_forecasts_are_finite_except_for_a_key_without_any_value(two_days):
    _, _, day_2 = two_days
    usable = day_2[day_2[key_col] != "garbage_f"]
    assert np.isfinite(usable[fcst_col]).all()
    assert day_2[day_2[key_col] == "garbage_f"][fcst_col].isna().all()


def test_one_experiment_per_key_with_runs_named_by_iso_timestamps(two_days, client):
    mode, _, _ = two_days
    for key in KEYS:
        experiment = client.get_experiment_by_name(f"{mode}/{key}")
        runs = client.search_runs([experiment.experiment_id])
        assert len(runs) == 2
        for run in runs:
            assert re.fullmatch(
                r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", run.info.run_name
            )
            assert run.data.tags["kronos.key"] == key
            assert run.data.tags["kronos.version"] == kronos.__version__
            assert run.info.status == "FINISHED"


def test_candidates_are_logged_with_params_and_scores(two_days, client):
    mode, _, _ = two_days
    first = run_of_day(client, f"{mode}/good_a", DAY_1)
    assert first.data.params["prophet_1.model_flavor"] == "prophet"
    assert first.data.params["arima_1.max_p"] == "2"
    for name in ("prophet_1", "arima_1", "naive_1"):
        assert np.isfinite(first.data.metrics[f"{name}.rmse"])
        assert first.data.metrics[f"{name}.rank"] >= 1
    assert first.data.tags["kronos.winner"] in ("prophet_1", "arima_1", "naive_1")
    artifacts = {a.path for a in client.list_artifacts(first.info.run_id)}
    assert {"model", "candidates"} <= artifacts


def test_models_column_limits_the_candidates(two_days, client):
    mode, _, _ = two_days
    experiment = client.get_experiment_by_name(f"{mode}/good_b")
    run = client.search_runs([experiment.experiment_id])[0]
    assert "arima_1.model_flavor" not in run.data.params
    assert "prophet_1.model_flavor" in run.data.params


def test_a_bad_key_trains_only_the_naive_model(two_days, client):
    mode, _, _ = two_days
    run = run_of_day(client, f"{mode}/bad_c", DAY_1)
    flavors = {k for k in run.data.params if k.endswith(".model_flavor")}
    assert flavors == {"naive.model_flavor"}
    assert run.data.tags["kronos.winner"] == "naive"
    assert run.data.tags["kronos.promoted"] == "True"


def test_a_key_without_usable_data_records_its_fallback_reason(two_days, client):
    mode, _, _ = two_days
    experiment = client.get_experiment_by_name(f"{mode}/garbage_f")
    for run in client.search_runs([experiment.experiment_id]):
        assert run.data.tags["kronos.fallback_reason"].startswith("unusable data")
    assert client.search_model_versions(f"name='{mode}_garbage_f'") == []


def test_exactly_one_production_version_per_key_after_two_days(two_days, client):
    mode, _, _ = two_days
    for key in KEYS:
        if key == "garbage_f":
            continue
        production = production_versions(client, mode, key)
        assert len(production) == 1, key
        assert production[0].tags[UNIT_TEST_TAG] == "passed"


def test_day_one_registers_and_promotes_version_one(two_days, client):
    mode, _, _ = two_days
    versions = client.search_model_versions(f"name='{mode}_good_a'")
    first = min(versions, key=lambda v: int(v.version))
    assert first.version == "1"
    assert first.tags["kronos.current_date"] == "2024-03-01"
    assert first.tags[UNIT_TEST_TAG] == "passed"


def test_training_key_registers_a_new_version_of_the_production_config(
    two_days, client
):
    mode, _, _ = two_days
    versions = client.search_model_versions(f"name='{mode}_training_e'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    latest = max(versions, key=lambda v: int(v.version))
    first = min(versions, key=lambda v: int(v.version))
    assert latest.tags["kronos.candidate"] == first.tags["kronos.candidate"]
    assert production_versions(client, mode, "training_e")[0].version == "2"


def test_predict_key_trains_nothing_on_day_two(two_days, client):
    mode, _, _ = two_days
    versions = client.search_model_versions(f"name='{mode}_predict_d'")
    assert [v.version for v in versions] == ["1"]
    run = run_of_day(client, f"{mode}/predict_d", DAY_2)
    assert run.data.tags["kronos.action"] == "predict"
    assert run.data.tags["kronos.forecast_version"] == "1"
    assert not any(k.endswith(".model_flavor") for k in run.data.params)


def test_day_two_competes_against_production(two_days, client):
    mode, _, _ = two_days
    run = run_of_day(client, f"{mode}/good_a", DAY_2)
    assert "production.score" in run.data.metrics
    assert "production" in run.data.tags["kronos.notes"]


def test_spark_result_equals_the_function_called_on_each_pandas_frame(spark, client):
    panel = make_panel(DAY_1)
    common = user_arguments(client, DAY_1)
    spark_fn = forecast_udf_gen(
        **common,
        experiment_name_template="oracle_spark/{key}",
        model_name_template="oracle_spark_{key}",
    )
    pandas_fn = forecast_udf_gen(
        **common,
        experiment_name_template="oracle_pandas/{key}",
        model_name_template="oracle_pandas_{key}",
    )
    schema = kronos.result_schema(
        key_col,
        date_col,
        fcst_col,
        dt_creation_col,
        dt_reference_col,
        days_from_last_obs_col,
    )
    from_spark = (
        spark.createDataFrame(panel)
        .groupby(key_col)
        .applyInPandas(spark_fn, schema=schema)
        .toPandas()
    )
    from_pandas = pd.concat(
        [pandas_fn(rows) for _, rows in panel.groupby(key_col)], ignore_index=True
    )
    order = [key_col, date_col]
    left = from_spark.sort_values(order).reset_index(drop=True)
    right = from_pandas.sort_values(order).reset_index(drop=True)
    right[days_from_last_obs_col] = right[days_from_last_obs_col].astype("Int32")
    left[days_from_last_obs_col] = left[days_from_last_obs_col].astype("Int32")
    pd.testing.assert_frame_equal(left, right, check_dtype=False, atol=1e-4)


def test_result_schema_matches_the_hand_written_schema():
    expected = hand_written_schema()
    assert (
        kronos.result_schema(
            key_col,
            date_col,
            fcst_col,
            dt_creation_col,
            dt_reference_col,
            days_from_last_obs_col,
        )
        == expected
    )
