"""The demo job: a generated daily panel forecast on two consecutive days.

Run it with ``kronos demo`` (or ``python -m kronos.demo``, or
``scripts/demo.sh``). It generates a
panel of daily series with trend, weekly and yearly seasonality and noise,
then runs the full lifecycle on local Spark with a local MLflow store:

- day 1 registers and promotes a model for every key;
- day 2 brings one more day of data; the candidates compete against the
  production models, one key only predicts and one key retrains.

It ends with a per-key summary and the head of the forecast, and says where
the MLflow store is and how to open the MLflow UI on it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

KEY_COL = "id"
DATE_COL = "date"
METRIC_COL = "value"
QUALITY_COL = "quality"
ACTION_COL = "action"
MODELS_COL = "models"

DEMO_MODELS_CONFIG = {
    "prophet_1": {
        "model_flavor": "prophet",
        "yearly_seasonality": True,
        "weekly_seasonality": True,
        "daily_seasonality": False,
    },
    "arima_1": {
        "model_flavor": "pmdarima",
        "seasonal": False,
        "max_p": 3,
        "max_q": 3,
    },
    "naive_1": {"model_flavor": "naive"},
}

#: Keys of the demo panel with a special role.
BAD_KEYS = ("meter_17", "meter_18", "meter_19")
PREDICT_KEY = "meter_01"
TRAINING_KEY = "meter_02"


def generate_panel(
    n_keys: int = 20, days: int = 760, end: dt.date = dt.date(2024, 6, 30), seed=7
) -> pd.DataFrame:
    """Return a realistic daily panel: one row per key and date.

    Each series has a level, a linear trend, weekly and yearly seasonality and
    Gaussian noise. The keys of :data:`BAD_KEYS` are noisy and flagged ``bad``.
    """
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end=pd.Timestamp(end), periods=days, freq="D")
    t = np.arange(days)
    frames = []
    for index in range(1, n_keys + 1):
        key = f"meter_{index:02d}"
        level = rng.uniform(50, 200)
        trend = rng.uniform(-0.02, 0.08) * level / 100
        weekly = rng.uniform(0.05, 0.2) * level * np.sin(2 * np.pi * t / 7)
        yearly = rng.uniform(0.1, 0.3) * level * np.sin(2 * np.pi * t / 365.25)
        noise_scale = 0.3 if key in BAD_KEYS else 0.04
        noise = rng.normal(0, noise_scale * level, days)
        values = np.maximum(level + trend * t + weekly + yearly + noise, 0.0)
        frames.append(
            pd.DataFrame(
                {
                    KEY_COL: key,
                    DATE_COL: dates.date,
                    METRIC_COL: values.round(3),
                    QUALITY_COL: "bad" if key in BAD_KEYS else "good",
                    ACTION_COL: "competition",
                    MODELS_COL: "prophet_1,arima_1,naive_1",
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def day_inputs(panel: pd.DataFrame, current_date: dt.date, day: int) -> pd.DataFrame:
    """Return the rows observed before ``current_date``, with that day's actions."""
    rows = panel[panel[DATE_COL] < current_date].copy()
    if day == 2:
        rows.loc[rows[KEY_COL] == PREDICT_KEY, ACTION_COL] = "predict"
        rows.loc[rows[KEY_COL] == TRAINING_KEY, ACTION_COL] = "training"
    return rows


def run_demo(workdir: str, n_keys: int = 20, horizon: int = 14) -> pd.DataFrame:
    """Run the two-day demo in ``workdir`` and return the per-key summary."""
    from mlflow.tracking import MlflowClient

    from kronos import report, result_schema
    from kronos.forecast_udf import forecast_udf_gen
    from kronos.spark import local_session

    os.makedirs(workdir, exist_ok=True)
    workdir = os.path.abspath(workdir)
    tracking_uri = f"sqlite:///{os.path.join(workdir, 'mlflow.db')}"
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    # Create the store's tables once here, before workers connect to it.
    client.search_experiments(max_results=1)

    spark = local_session("kronos-demo")
    panel = generate_panel(n_keys=n_keys)
    first_day = panel[DATE_COL].max()
    summaries = []
    forecast = None
    for day, current_date in enumerate((first_day, first_day + dt.timedelta(1)), 1):
        emit(f"\n== day {day}: processing date {current_date} ==")
        df = spark.createDataFrame(day_inputs(panel, current_date, day))
        n_keys_in = df.select(KEY_COL).distinct().count()
        df = df.repartition(n_keys_in, KEY_COL)
        forecast_udf = forecast_udf_gen(
            client=client,
            key_col=KEY_COL,
            date_col=DATE_COL,
            metric_col=METRIC_COL,
            quality_col=QUALITY_COL,
            action_col=ACTION_COL,
            models_col=MODELS_COL,
            models_config=json.dumps(DEMO_MODELS_CONFIG),
            days_from_last_obs_col="days_from_last_obs",
            current_date=current_date,
            fcst_first_date=current_date,
            n_test=28,
            n_unit_test=7,
            forecast_horizon=horizon,
            dt_creation_col="dt_creation",
            dt_reference_col="dt_reference",
            with_outcome=True,
        )
        schema = result_schema(KEY_COL, DATE_COL, outcome=True)
        result = df.groupby(KEY_COL).applyInPandas(forecast_udf, schema=schema)
        rows = result.toPandas()
        summary = report.summarize(rows, KEY_COL)
        summary.insert(0, "day", day)
        summaries.append(summary)
        emit(report.summary_table(rows, KEY_COL))
        forecast = rows
    emit("\nHead of the day-2 forecast:")
    emit(forecast.iloc[:, :6].head(10).to_string(index=False))
    emit(
        f"\nMLflow store: {tracking_uri}\n"
        "Open the MLflow UI on it with:\n"
        f"  mlflow ui --backend-store-uri {tracking_uri} --port 5000\n"
        "then browse http://127.0.0.1:5000"
    )
    return pd.concat(summaries, ignore_index=True)


def emit(text: str) -> None:
    """Write a line of the demo's report to standard output."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Run the demo as ``kronos demo`` does, with the same options."""
    # The command line is the layer above the demo; it is imported here only,
    # when the demo is started as a program.
    from kronos.cli import main as cli_main

    return cli_main(["demo", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
