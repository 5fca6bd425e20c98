"""Spark helpers: the output schema and input checks."""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame
from pyspark.sql.types import (
    BooleanType,
    DateType,
    FloatType,
    IntegerType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

logger = logging.getLogger(__name__)

#: Columns added by ``with_outcome=True``: what happened to the key, repeated on
#: each of its rows. ``kronos_scores`` is a JSON object of combined scores.
OUTCOME_FIELDS = (
    ("kronos_action", StringType()),
    ("kronos_quality", StringType()),
    ("kronos_winner", StringType()),
    ("kronos_scores", StringType()),
    ("kronos_dropped", StringType()),
    ("kronos_registered_version", StringType()),
    ("kronos_unit_test", StringType()),
    ("kronos_promoted", BooleanType()),
    ("kronos_forecast_version", StringType()),
    ("kronos_fallback_reason", StringType()),
    ("kronos_run_id", StringType()),
)


def result_schema(
    key_col: str = "id",
    date_col: str = "date",
    fcst_col: str = "fcst",
    dt_creation_col: str = "dt_creation",
    dt_reference_col: str = "dt_reference",
    days_from_last_obs_col: str = "days_from_last_obs",
    *,
    interval: bool = False,
    fcst_lower_col: str = "fcst_lower",
    fcst_upper_col: str = "fcst_upper",
    sub_daily: bool = False,
    outcome: bool = False,
) -> StructType:
    """Return the schema of the rows the forecasting function returns.

    Parameters
    ----------
    key_col, date_col, fcst_col, dt_creation_col, dt_reference_col,
    days_from_last_obs_col
        The output column names, as given to
        :func:`kronos.forecast_udf.forecast_udf_gen`.
    interval
        Add the lower and upper bound columns (when ``interval_width`` is set).
    fcst_lower_col, fcst_upper_col
        Names of the bound columns.
    sub_daily
        Use a timestamp instead of a date for ``date_col`` (hourly series).
    outcome
        Add the outcome columns of ``with_outcome=True`` (see
        :data:`OUTCOME_FIELDS`).
    """
    fields = [
        StructField(key_col, StringType()),
        StructField(date_col, TimestampType() if sub_daily else DateType()),
        StructField(fcst_col, FloatType()),
        StructField(dt_creation_col, DateType()),
        StructField(dt_reference_col, DateType()),
        StructField(days_from_last_obs_col, IntegerType()),
    ]
    if interval:
        fields += [
            StructField(fcst_lower_col, FloatType()),
            StructField(fcst_upper_col, FloatType()),
        ]
    if outcome:
        fields += [StructField(name, kind) for name, kind in OUTCOME_FIELDS]
    return StructType(fields)


def check_input_columns(df: DataFrame, required: list[str]) -> None:
    """Raise ValueError naming the columns of ``required`` missing from ``df``."""
    missing = [name for name in required if name not in df.columns]
    if missing:
        raise ValueError(
            f"the input lacks column(s) {missing}; it has {sorted(df.columns)}. "
            "Rename the columns or pass their names to forecast_udf_gen"
        )


class JavaMissingError(RuntimeError):
    """Spark cannot start because no Java runtime was found."""


def check_java() -> None:
    """Raise :class:`JavaMissingError` unless a Java runtime can be started."""
    import os
    import shutil

    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.path.exists(os.path.join(java_home, "bin", "java")):
        return
    if shutil.which("java") is None:
        raise JavaMissingError(
            "Spark needs Java 17 or later and none was found: install a JDK "
            "(for example 'apt-get install openjdk-17-jdk-headless') or set JAVA_HOME"
        )


def local_session(app_name: str = "kronos", jars_dir: str | None = None):
    """Start (or return) a local Spark session for laptops, demos and tests.

    The Python workers run the driver's own interpreter. When ``jars_dir`` (or
    the ``KRONOS_JARS_DIR`` environment variable, or ``.cache/jars`` in the
    working directory) holds the Delta Lake jars, Delta is enabled.
    """
    import glob
    import os
    import sys

    from pyspark.sql import SparkSession

    check_java()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master("local[2]")
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
    )
    jars_dir = jars_dir or os.environ.get("KRONOS_JARS_DIR") or ".cache/jars"
    jars = sorted(glob.glob(os.path.join(os.path.abspath(jars_dir), "delta-*.jar")))
    if jars:
        builder = (
            builder.config("spark.jars", ",".join(jars))
            .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
            .config(
                "spark.sql.catalog.spark_catalog",
                "org.apache.spark.sql.delta.catalog.DeltaCatalog",
            )
        )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
