"""Spark helpers: the output schema, input checks, partitioning by key, sessions."""

from __future__ import annotations

import logging
from typing import Any

from pyspark.errors import PySparkException
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


def local_session(
    app_name: str = "kronos", jars_dir: str | None = None, task_slots: int = 2
):
    """Start (or return) a local Spark session for laptops, demos and tests.

    Spark runs up to ``task_slots`` tasks at once (``local[<task_slots>]``),
    each in its own Python worker. The Python workers run the driver's own
    interpreter. When ``jars_dir`` (or
    the ``KRONOS_JARS_DIR`` environment variable, or ``.cache/jars`` in the
    working directory) holds the Delta Lake jars, Delta is enabled.
    """
    import glob
    import os
    import sys

    from pyspark.sql import SparkSession

    if not _is_int_at_least(task_slots, 1):
        raise ValueError(
            f"task_slots must be a positive integer, got {task_slots!r}; pass for "
            "example 2"
        )
    check_java()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(f"local[{task_slots}]")
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


#: The session setting that lets adaptive execution merge small shuffle
#: partitions; :func:`partition_by_key` turns it off.
COALESCE_SETTING = "spark.sql.adaptive.coalescePartitions.enabled"

#: Partitions per core of the default partition count of
#: :func:`partition_by_key`; chosen by ``benchmarks/partitioning.py`` (the
#: figures are in docs/benchmarks.md, section "Partitioning").
PARTITIONS_PER_CORE = 4


def choose_partition_count(
    n_keys: int, parallelism: int, partitions_per_core: int = PARTITIONS_PER_CORE
) -> int:
    """Return how many partitions :func:`partition_by_key` makes by default.

    One partition per key up to ``parallelism * partitions_per_core``
    partitions, and never fewer than one. Each partition is one Spark task, so
    a few tasks per core keep every core busy when keys take uneven times,
    while thousands of keys do not pay one task's overhead each.

    Parameters
    ----------
    n_keys
        Distinct keys of the input (0 or more).
    parallelism
        Cores the session runs tasks on (1 or more).
    partitions_per_core
        Tasks per core (1 or more).

    Returns
    -------
    int
        The partition count, between 1 and ``max(n_keys, 1)``.

    Raises
    ------
    ValueError
        When an argument is not an integer in its range.
    """
    for name, value, least in (
        ("n_keys", n_keys, 0),
        ("parallelism", parallelism, 1),
        ("partitions_per_core", partitions_per_core, 1),
    ):
        if not _is_int_at_least(value, least):
            raise ValueError(
                f"{name}={value!r} is invalid; pass an integer of at least {least}"
            )
    return max(1, min(n_keys, parallelism * partitions_per_core))


def session_parallelism(spark: Any) -> int | None:
    """Return the cores a session runs tasks on, or None when it does not say.

    A classic session answers with ``sparkContext.defaultParallelism``. A
    Spark Connect session has no ``sparkContext``: it answers only when
    ``spark.default.parallelism`` is set in its configuration.
    """
    try:
        return int(spark.sparkContext.defaultParallelism)
    except (AttributeError, PySparkException):
        value = spark.conf.get("spark.default.parallelism", None)
        return int(value) if value else None


def disable_partition_coalescing(spark: Any) -> bool:
    """Turn adaptive coalescing of shuffle partitions off for the whole session.

    This is a session setting: it holds for every later query of the session,
    not only for the forecast. Sessions that refuse the setting (some managed
    Spark Connect services accept only a short list) keep theirs; a warning
    says so.

    Returns
    -------
    bool
        Whether coalescing is now off.
    """
    try:
        if spark.conf.get(COALESCE_SETTING, "true").lower() == "false":
            logger.debug("%s is already false", COALESCE_SETTING)
            return True
        spark.conf.set(COALESCE_SETTING, "false")
    except PySparkException as exc:
        logger.warning(
            "could not set %s=false on this session (%s); Spark may merge "
            "small partitions of a groupby that is not partitioned by key first",
            COALESCE_SETTING,
            type(exc).__name__,
        )
        return False
    logger.info("set %s=false for this Spark session", COALESCE_SETTING)
    return True


def partition_by_key(
    df: DataFrame,
    key_col: str,
    n_partitions: int | None = None,
    *,
    n_keys: int | None = None,
    partitions_per_core: int = PARTITIONS_PER_CORE,
    disable_coalescing: bool = True,
) -> DataFrame:
    """Hash-partition ``df`` by ``key_col`` so that each key sits in one partition.

    ``df.groupby(key_col).applyInPandas(...)`` on the result runs one Spark
    task per partition, with no further shuffle. By default the count is
    :func:`choose_partition_count` of the number of keys and the session's
    parallelism; on a session that does not tell its parallelism (Spark
    Connect), the count is capped by ``spark.sql.shuffle.partitions`` instead.

    Parameters
    ----------
    df
        The input, classic or Spark Connect.
    key_col
        The key column.
    n_partitions
        An explicit partition count; ``n_keys`` and ``partitions_per_core``
        are then unused and no key count is made.
    n_keys
        The number of distinct keys when already known; counted otherwise
        (one Spark job).
    partitions_per_core
        Tasks per core of the default count.
    disable_coalescing
        Also set ``spark.sql.adaptive.coalescePartitions.enabled=false`` on the
        session (see :func:`disable_partition_coalescing`).

    Returns
    -------
    DataFrame
        ``df.repartition(count, key_col)``.

    Raises
    ------
    ValueError
        When ``key_col`` is not a column of ``df``, or a count is not a
        positive integer.
    """
    if key_col not in df.columns:
        raise ValueError(
            f"key_col={key_col!r} is not a column of the input; it has "
            f"{sorted(df.columns)}. Pass the name of the key column"
        )
    spark = df.sparkSession
    if n_partitions is not None:
        if not _is_int_at_least(n_partitions, 1):
            raise ValueError(
                f"n_partitions={n_partitions!r} is invalid; pass a positive "
                "integer, or None to choose it from the keys and the cores"
            )
        count = n_partitions
    else:
        if n_keys is None:
            n_keys = df.select(key_col).distinct().count()
        parallelism = session_parallelism(spark)
        if parallelism is None:
            cap = int(spark.conf.get("spark.sql.shuffle.partitions"))
            count = choose_partition_count(n_keys, cap, 1)
            logger.info(
                "the session does not tell its parallelism: %d partition(s) for "
                "%d key(s), capped by spark.sql.shuffle.partitions=%d",
                count,
                n_keys,
                cap,
            )
        else:
            count = choose_partition_count(n_keys, parallelism, partitions_per_core)
            logger.info(
                "%d partition(s) for %d key(s) on %d core(s), %d per core",
                count,
                n_keys,
                parallelism,
                partitions_per_core,
            )

    # Set after counting the keys, whose own small shuffle may still be merged.
    # The setting is read when the forecast job runs, not here.
    if disable_coalescing:
        disable_partition_coalescing(spark)
    return df.repartition(count, key_col)


def _is_int_at_least(value: object, least: int) -> bool:
    """Whether ``value`` is an int of at least ``least`` (a bool is not a count)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least
