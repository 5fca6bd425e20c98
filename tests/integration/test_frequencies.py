"""Every supported frequency, end to end through the forecasting function on Spark."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from _udf import make_udf
from mlflow.tracking import MlflowClient

import kronos

pytestmark = pytest.mark.integration

MODELS = {
    "naive_1": {"model_flavor": "naive"},
    "ets_1": {"model_flavor": "statsforecast", "model": "AutoETS"},
}
CURRENT_DATE = dt.date(2024, 6, 1)  # a Saturday
HORIZON = 4

#: Key, pandas alias of its history, its length, and the forecast dates expected
#: from ``CURRENT_DATE`` on: the first anchor of the frequency on or after it.
CASES = {
    "daily": ("D", 60, ["2024-06-01", "2024-06-02", "2024-06-03", "2024-06-04"]),
    "weekly": ("W-SUN", 40, ["2024-06-02", "2024-06-09", "2024-06-16", "2024-06-23"]),
    "monthly": ("MS", 36, ["2024-06-01", "2024-07-01", "2024-08-01", "2024-09-01"]),
    "quarterly": ("QS", 24, ["2024-07-01", "2024-10-01", "2025-01-01", "2025-04-01"]),
    "yearly": ("YS", 15, ["2025-01-01", "2026-01-01", "2027-01-01", "2028-01-01"]),
}


def history(key: str, freq: str, periods: int, end: str) -> pd.DataFrame:
    rng = np.random.default_rng(len(key))
    dates = pd.date_range(end=end, periods=periods, freq=freq)
    values = 100 + np.arange(periods) + rng.normal(0, 1, periods)
    return pd.DataFrame(
        {
            "id": key,
            "date": dates,
            "value": values,
            "quality": "good",
            "action": "competition",
            "models": "",
        }
    )


def run(spark, client, panel: pd.DataFrame, prefix: str, **settings) -> pd.DataFrame:
    sub_daily = settings.pop("sub_daily", False)
    udf = make_udf(
        client,
        MODELS,
        days_from_last_obs_col="days_from_last_obs",
        current_date=CURRENT_DATE,
        n_test=3,
        n_unit_test=2,
        forecast_horizon=HORIZON,
        experiment_name_template=f"{prefix}/{{key}}",
        model_name_template=f"{prefix}_{{key}}",
        log_candidate_models=False,
        log_plots=False,
        with_outcome=True,
        **settings,
    )
    schema = kronos.result_schema(outcome=True, sub_daily=sub_daily)
    df = spark.createDataFrame(panel).repartition(2, "id")
    return df.groupby("id").applyInPandas(udf, schema=schema).toPandas()


@pytest.fixture(scope="module")
def client(mlflow_sqlite_server):
    return MlflowClient(mlflow_sqlite_server.tracking_uri)


@pytest.fixture(scope="module")
def inferred(spark, client):
    """One key per frequency, the frequency inferred from the dates."""
    frames = [
        history(key, freq, periods, "2024-05-31")
        for key, (freq, periods, _) in CASES.items()
    ]
    # Monthly data with a missing month and a date given twice.
    messy = history("monthly_messy", "MS", 36, "2024-05-31")
    messy = messy.drop(index=10)
    messy = pd.concat([messy, messy.iloc[[20]].assign(value=0.0)])
    frames.append(messy)
    panel = pd.concat(frames, ignore_index=True)
    panel["date"] = panel["date"].dt.date
    return run(spark, client, panel, "freq_inferred")


def rows_of(result: pd.DataFrame, key: str) -> pd.DataFrame:
    return result[result["id"] == key].sort_values("date").reset_index(drop=True)


@pytest.mark.parametrize("key", list(CASES))
def test_each_frequency_is_forecast_at_its_own_dates(inferred, key):
    rows = rows_of(inferred, key)

    assert rows["kronos_fallback_reason"].isna().all()
    assert rows["kronos_winner"].iloc[0] in MODELS
    assert rows["kronos_promoted"].all()
    assert [str(d) for d in rows["date"]] == CASES[key][2]
    assert np.isfinite(rows["fcst"]).all()


def test_the_inferred_frequency_is_noted_on_the_run(inferred, client):
    run_id = rows_of(inferred, "weekly")["kronos_run_id"].iloc[0]

    notes = client.get_run(run_id).data.tags["kronos.notes"]

    assert "inferred frequency W-SUN" in notes


def test_gaps_are_filled_and_duplicates_aggregated_and_both_noted(inferred, client):
    rows = rows_of(inferred, "monthly_messy")
    run_id = rows["kronos_run_id"].iloc[0]

    notes = client.get_run(run_id).data.tags["kronos.notes"]

    assert rows["kronos_fallback_reason"].isna().all()
    assert [str(d) for d in rows["date"]] == CASES["monthly"][2]
    assert "aggregated 1 duplicate date by mean" in notes
    assert "filled 1 missing date" in notes


def test_hourly_series_give_timestamps_with_a_sub_daily_schema(spark, client):
    panel = history("hourly", "h", 96, "2024-05-31 23:00")

    result = run(spark, client, panel, "freq_hourly", freq="h", sub_daily=True)

    rows = rows_of(result, "hourly")
    assert rows["kronos_fallback_reason"].isna().all()
    assert list(pd.DatetimeIndex(rows["date"])) == list(
        pd.date_range("2024-06-01 00:00", periods=HORIZON, freq="h")
    )
    assert np.isfinite(rows["fcst"]).all()


def test_a_given_frequency_moves_dates_to_its_anchor(spark, client):
    panel = history("mid_month", "MS", 30, "2024-05-31")
    panel["date"] = (panel["date"] + pd.Timedelta(days=14)).dt.date

    result = run(spark, client, panel, "freq_given", freq="MS")

    rows = rows_of(result, "mid_month")
    assert rows["kronos_fallback_reason"].isna().all()
    assert [str(d) for d in rows["date"]] == CASES["monthly"][2]


def test_rejected_gaps_and_duplicates_give_the_fallback_with_the_reason(spark, client):
    clean = history("clean", "D", 40, "2024-05-31")
    gap = history("gap", "D", 40, "2024-05-31").drop(index=[5, 6])
    dup = history("dup", "D", 40, "2024-05-31")
    dup = pd.concat([dup, dup.iloc[[3]]])
    panel = pd.concat([clean, gap, dup], ignore_index=True)
    panel["date"] = panel["date"].dt.date

    result = run(
        spark, client, panel, "freq_reject", duplicates="reject", gaps="reject"
    )

    reasons = {
        key: rows_of(result, key)["kronos_fallback_reason"].iloc[0]
        for key in ("clean", "gap", "dup")
    }
    assert reasons["clean"] is None
    assert reasons["gap"].startswith("unusable data")
    assert reasons["dup"].startswith("unusable data")
    for key in ("gap", "dup"):
        rows = rows_of(result, key)
        last = float(panel[panel["id"] == key].sort_values("date")["value"].iloc[-1])
        np.testing.assert_allclose(rows["fcst"], last, rtol=1e-6)
        assert json.loads(rows["kronos_scores"].iloc[0]) == {}
