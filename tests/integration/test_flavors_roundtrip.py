"""Every flavor competes, is registered, and forecasts again in a fresh process."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from _udf import udf_arguments
from mlflow.tracking import MlflowClient

import kronos
from kronos.forecast_udf import forecast_udf_gen

pytestmark = pytest.mark.integration

MODELS = {
    "naive_1": {"model_flavor": "naive"},
    "snaive_1": {"model_flavor": "seasonal_naive", "season_length": 7},
    "prophet_1": {
        "model_flavor": "prophet",
        "weekly_seasonality": True,
        "yearly_seasonality": False,
        "uncertainty_samples": 100,
    },
    "arima_1": {"model_flavor": "pmdarima", "seasonal": False, "max_p": 2},
    "ets_1": {"model_flavor": "statsforecast", "model": "AutoETS", "season_length": 7},
    "croston_1": {"model_flavor": "statsforecast", "model": "CrostonOptimized"},
    "ridge_1": {"model_flavor": "sklearn", "estimator": "Ridge", "lags": 7},
    "mean_1": {
        "model_flavor": "ensemble",
        "method": "mean",
        "members": ["ets_1", "snaive_1"],
    },
    "top_2": {"model_flavor": "ensemble", "method": "median", "k": 2},
}
#: One key per model, competing alone, plus one key where every model competes.
SOLO = [name for name in MODELS if name != "top_2"]
EVERYONE = "everyone"
CURRENT_DATE = dt.date(2024, 6, 1)
N_DAYS, HORIZON = 70, 7

# The input each registered model's pyfunc takes (see the README).
LOAD_AND_FORECAST = textwrap.dedent(
    """
    import json, sys
    import mlflow.pyfunc
    import pandas as pd
    from mlflow.tracking import MlflowClient

    names, first = json.loads(sys.argv[1]), sys.argv[2]
    dates = pd.date_range(first, periods=3, freq="D")
    client = MlflowClient()
    out = {}
    for name, flavor in names.items():
        version = client.get_model_version_by_alias(name, "champion")
        uri = version.source if flavor == "naive" else f"models:/{name}@champion"
        model = mlflow.pyfunc.load_model(uri)
        if flavor == "pmdarima":
            frame = model.predict(pd.DataFrame({"n_periods": [3]}))
        elif flavor == "prophet":
            frame = model.predict(pd.DataFrame({"ds": dates}))
        else:
            frame = model.predict(
                pd.DataFrame({"ds": dates}), params={"interval_width": 0.8}
            )
        out[name] = {
            "yhat": [float(v) for v in frame["yhat"]],
            "bounds": "yhat_lower" in frame and "yhat_upper" in frame,
        }
    print(json.dumps(out))
    """
)


def make_panel() -> pd.DataFrame:
    rng = np.random.default_rng(17)
    dates = pd.date_range(end=CURRENT_DATE - dt.timedelta(days=1), periods=N_DAYS)
    t = np.arange(N_DAYS)
    frames = []
    for index, key in enumerate([*SOLO, EVERYONE]):
        values = 30 + index + 0.05 * t + 5 * np.sin(2 * np.pi * t / 7)
        frames.append(
            pd.DataFrame(
                {
                    "id": key,
                    "date": dates.date,
                    "value": values + rng.normal(0, 0.7, N_DAYS),
                    "quality": "good",
                    "action": "competition",
                    "models": "" if key == EVERYONE else key,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def make_udf(client: MlflowClient, **settings):
    """The forecasting function over ``MODELS`` on ``CURRENT_DATE``."""
    return forecast_udf_gen(
        **udf_arguments(
            client,
            MODELS,
            days_from_last_obs_col="days_from_last_obs",
            current_date=CURRENT_DATE,
            n_test=7,
            n_unit_test=3,
            forecast_horizon=HORIZON,
            **settings,
        )
    )


@pytest.fixture(scope="module")
def client(mlflow_sqlite_server):
    return MlflowClient(mlflow_sqlite_server.tracking_uri)


@pytest.fixture(scope="module")
def result(spark, client):
    udf = make_udf(
        client,
        competition_metrics=["rmse", "mase"],
        season_length=7,
        experiment_name_template="roundtrip/{key}",
        model_name_template="roundtrip_{key}",
        log_plots=False,
        with_outcome=True,
    )
    schema = kronos.result_schema(outcome=True)
    df = spark.createDataFrame(make_panel()).repartition(2, "id")
    return df.groupby("id").applyInPandas(udf, schema=schema).toPandas()


@pytest.fixture(scope="module")
def outcomes(result):
    return result.groupby("id").first()


@pytest.fixture(scope="module")
def fresh(result, mlflow_sqlite_server):
    """Each registered champion's forecast of 3 days, from a fresh process."""
    names = {f"roundtrip_{name}": MODELS[name]["model_flavor"] for name in SOLO}
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_sqlite_server.tracking_uri}
    first = CURRENT_DATE.isoformat()
    completed = subprocess.run(
        [sys.executable, "-c", LOAD_AND_FORECAST, json.dumps(names), first],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_each_model_alone_wins_its_key_and_is_promoted(outcomes):
    for name in SOLO:
        row = outcomes.loc[name]
        assert row["kronos_fallback_reason"] is None, row["kronos_fallback_reason"]
        assert row["kronos_winner"] == name
        assert row["kronos_unit_test"] == "passed"
        assert row["kronos_promoted"]


def test_every_model_competes_on_one_key(outcomes):
    row = outcomes.loc[EVERYONE]

    scores = json.loads(row["kronos_scores"])

    assert json.loads(row["kronos_dropped"]) == {}
    assert sorted(scores) == sorted(MODELS)
    assert all(np.isfinite(value) for value in scores.values())
    # Each score is at least 1, the best value of every metric counting as 1.
    assert min(scores.values()) >= 1.0
    assert row["kronos_winner"] in MODELS


def test_every_flavor_forecasts_from_the_registry_in_a_fresh_process(fresh):
    assert sorted(fresh) == sorted(f"roundtrip_{name}" for name in SOLO)
    for name, forecast in fresh.items():
        assert len(forecast["yhat"]) == 3, name
        assert np.isfinite(forecast["yhat"]).all(), name
    # Bounds from the model itself, except for an intermittent-demand model.
    assert fresh["roundtrip_ets_1"]["bounds"]
    assert fresh["roundtrip_mean_1"]["bounds"]
    assert not fresh["roundtrip_croston_1"]["bounds"]


@pytest.mark.parametrize("name", SOLO)
def test_the_fresh_process_forecasts_what_the_job_forecast(result, fresh, name):
    rows = result[result["id"] == name].sort_values("date")

    job = rows["fcst"].to_numpy(dtype=float)[:3]

    np.testing.assert_allclose(fresh[f"roundtrip_{name}"]["yhat"], job, rtol=1e-5)


def test_registered_versions_name_their_candidate_and_flavor(result, client):
    version = client.get_model_version_by_alias("roundtrip_ets_1", "champion")

    assert version.tags["kronos.candidate"] == "ets_1"
    assert version.tags["kronos.flavor"] == "statsforecast"


def test_a_run_with_interval_width_returns_bounds_around_the_forecast(spark, client):
    keys = ["ets_1", "croston_1", "mean_1"]
    panel = make_panel()
    panel = panel[panel["id"].isin(keys)]
    udf = make_udf(
        client,
        n_windows=2,
        interval_width=0.8,
        experiment_name_template="intervals/{key}",
        model_name_template="intervals_{key}",
        log_plots=False,
        log_candidate_models=False,
    )
    schema = kronos.result_schema(interval=True)
    df = spark.createDataFrame(panel).repartition(2, "id")

    out = df.groupby("id").applyInPandas(udf, schema=schema).toPandas()

    assert sorted(out["id"].unique()) == sorted(keys)
    bounds = out[["fcst_lower", "fcst", "fcst_upper"]].to_numpy(dtype=float)
    assert np.isfinite(bounds).all()
    assert (bounds[:, 0] < bounds[:, 1]).all()
    assert (bounds[:, 1] < bounds[:, 2]).all()
