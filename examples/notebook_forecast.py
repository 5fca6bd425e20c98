# Databricks notebook source
"""Nightly forecast with kronos, as a Databricks notebook.

The same work as ``kronos run --config job.toml``, written out step by step:
read the input, forecast every key with the full lifecycle, merge the
forecasts into a Delta table, and look at what happened to each key. The
cluster needs kronos installed (see the README, "Install on a Databricks
cluster").
"""

# COMMAND ----------

import datetime as dt
import json
import zoneinfo

from mlflow.tracking import MlflowClient
from pyspark.sql import SparkSession

import kronos
from kronos.delta import read_input, write_forecasts
from kronos.forecast_udf import forecast_udf_gen
from kronos.report import outcome_report
from kronos.spark import partition_by_key

spark = SparkSession.builder.getOrCreate()

# COMMAND ----------

# Settings: the fields of examples/job.toml.
source_table = "main.energy.meter_readings"
target_table = "main.energy.meter_forecasts"
key_col, date_col, metric_col = "meter_id", "reading_date", "kwh"
quality_col, action_col, models_col = "quality", "action", "models"
current_date = dt.datetime.now(zoneinfo.ZoneInfo("Europe/Rome")).date()
models_config = {
    "prophet_1": {"model_flavor": "prophet", "yearly_seasonality": True},
    "arima_1": {"model_flavor": "pmdarima", "seasonal": True, "m": 7},
    "naive_1": {"model_flavor": "naive"},
}

# COMMAND ----------

client = MlflowClient(tracking_uri="databricks", registry_uri="databricks-uc")
forecast_udf = forecast_udf_gen(
    client=client,
    key_col=key_col,
    date_col=date_col,
    metric_col=metric_col,
    quality_col=quality_col,
    action_col=action_col,
    models_col=models_col,
    models_config=json.dumps(models_config),
    days_from_last_obs_col="days_from_last_obs",
    current_date=current_date,
    fcst_first_date=current_date,
    n_test=28,
    n_unit_test=7,
    forecast_horizon=14,
    dt_creation_col="dt_creation",
    dt_reference_col="dt_reference",
    experiment_name_template="/Shared/kronos/experiments/{key}",
    model_name_template="main.forecasts.meter_{key}",
    with_outcome=True,
)
schema = kronos.result_schema(key_col, date_col, outcome=True)

# COMMAND ----------

df = partition_by_key(read_input(spark, source_table), key_col)
df_pred = df.groupby(key_col).applyInPandas(forecast_udf, schema=schema)
# Keep the result: the lifecycle registers models, so it must run once.
df_pred = df_pred.cache()
df_pred.count()

# COMMAND ----------

outcome_columns = [c for c in df_pred.columns if c.startswith("kronos_")]
write_forecasts(
    df_pred.drop(*outcome_columns), target_table, key_col, date_col, "dt_reference"
)

# COMMAND ----------

# MAGIC %md
# MAGIC One row per key: the winner, the scores, the registered version, whether
# MAGIC it was promoted and, when the key fell back to the naive forecast, why.

# COMMAND ----------

report = outcome_report(df_pred, key_col)
report.show(truncate=False)
