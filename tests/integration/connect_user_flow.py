"""The notebook flow of kronos run as a Spark Connect client, in its own process.

``test_spark_connect.py`` runs this script with the interpreter of the tests: a
process that holds a Spark Connect session cannot also hold the classic session
of the other tests. The script forecasts a few keys through a Spark Connect
server, with the MLflow server it is given, and writes the forecast rows and
the session's class to a JSON file.

Usage::

    python connect_user_flow.py --remote sc://127.0.0.1:15002 \
        --tracking-uri http://127.0.0.1:5000 --prefix connect --out result.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient
from pyspark.sql import SparkSession

import kronos
from kronos.forecast_udf import forecast_udf_gen
from kronos.spark import partition_by_key

KEYS = ["store_a", "store_b", "store_c"]
CURRENT_DATE = dt.date(2024, 3, 1)
FORECAST_HORIZON = 7
MODELS_CONFIG = json.dumps(
    {
        "naive_1": {"model_flavor": "naive"},
        "weekly_1": {"model_flavor": "seasonal_naive", "season_length": 7},
    }
)


def make_panel(days: int = 56) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    dates = pd.date_range(end=CURRENT_DATE - dt.timedelta(days=1), periods=days)
    t = np.arange(days)
    frames = [
        pd.DataFrame(
            {
                "id": key,
                "date": dates.date,
                "value": 20
                + 3 * index
                + 4 * np.sin(2 * np.pi * t / 7)
                + rng.normal(0, 0.5, days),
                "quality": "good",
                "action": "competition",
                "models": "",
            }
        )
        for index, key in enumerate(KEYS)
    ]
    return pd.concat(frames, ignore_index=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--remote", required=True)
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    spark = SparkSession.builder.remote(args.remote).getOrCreate()
    client = MlflowClient(args.tracking_uri)

    df = spark.createDataFrame(make_panel())
    df = partition_by_key(df, "id")
    result_schema = kronos.result_schema(
        "id", "date", "fcst", "dt_creation", "dt_reference", "days_from_last_obs"
    )
    forecast_udf = forecast_udf_gen(
        client=client,
        key_col="id",
        date_col="date",
        metric_col="value",
        quality_col="quality",
        action_col="action",
        models_col="models",
        models_config=MODELS_CONFIG,
        days_from_last_obs_col="days_from_last_obs",
        current_date=CURRENT_DATE,
        fcst_first_date=CURRENT_DATE,
        n_test=7,
        n_unit_test=3,
        forecast_horizon=FORECAST_HORIZON,
        dt_creation_col="dt_creation",
        dt_reference_col="dt_reference",
        experiment_name_template=f"{args.prefix}/{{key}}",
        model_name_template=f"{args.prefix}_{{key}}",
    )
    df_pred = df.groupby("id").applyInPandas(forecast_udf, schema=result_schema)
    rows = df_pred.toPandas()

    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "session": f"{type(spark).__module__}.{type(spark).__name__}",
                "rows": rows.to_json(orient="records", date_format="iso"),
            },
            handle,
        )
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
