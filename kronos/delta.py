"""Reading the input table and writing the forecasts, with Delta Lake or parquet.

A scheduled job reads its input with :func:`read_input` and stores what
``applyInPandas`` returned with :func:`write_forecasts`: a Delta MERGE keyed on
the key, the forecast date and ``dt_reference``, so that running the same
processing day again replaces that day's rows of the keys it forecast, and the
other days and keys stay as they were. :func:`write_parquet` is the fallback
where Delta Lake is not available: it overwrites whole ``dt_reference``
partitions.

The Delta functions need the ``delta-spark`` package (``pip install
kronos[delta]``) and a session with the Delta Lake jars, its SQL extension and
its catalog, as :func:`kronos.spark.local_session` or Databricks provide.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812

logger = logging.getLogger(__name__)

#: The values ``format`` of :func:`read_input` accepts; ``table`` reads a table
#: of the catalog by name.
INPUT_FORMATS = ("delta", "parquet", "csv", "table")

#: Reader options used for CSV unless ``options`` overrides them.
CSV_DEFAULTS = {"header": "true", "inferSchema": "true"}

# Marks, in the MERGE source, the rows of the table that the new forecast of
# their key and day no longer has: they are deleted.
_STALE = "_kronos_stale"


def looks_like_path(source: str) -> bool:
    """Tell a storage path (``/data/x``, ``s3://b/x``) from a table name (``db.x``)."""
    return "/" in source or "\\" in source or source.startswith(".")


def read_input(
    spark: SparkSession,
    source: str,
    format: str | None = None,
    *,
    options: Mapping[str, str] | None = None,
) -> DataFrame:
    """Read the input of a forecast: a Delta table, parquet, CSV or a catalog table.

    Parameters
    ----------
    spark
        The session, classic or Spark Connect.
    source
        A path (it contains ``/``) or a table name such as ``main.sales.daily``.
    format
        One of :data:`INPUT_FORMATS`. When None it is inferred: a name without
        ``/`` is a catalog table (Delta or not); a path ending in ``.parquet`` or
        ``.csv`` is read as such; any other path must hold a Delta table (a
        ``_delta_log`` folder).
    options
        Reader options; CSV gets :data:`CSV_DEFAULTS` (a header line, inferred
        column types) unless they are given here.

    Returns
    -------
    DataFrame
        The table, not yet read: Spark reads it when a job needs it.

    Raises
    ------
    ValueError
        When ``format`` is unknown, or a path has no known suffix and is not a
        Delta table.
    ImportError
        When a Delta path must be recognised and ``delta-spark`` is missing.
    """
    if not isinstance(source, str) or not source:
        raise ValueError(
            f"source={source!r} is invalid; pass a path or a table name as a string"
        )
    if format is not None and format not in INPUT_FORMATS:
        raise ValueError(
            f"format={format!r} is not supported; use one of {list(INPUT_FORMATS)}, "
            "or None to infer it from source"
        )
    chosen = format or infer_format(spark, source)
    options = dict(options or {})
    logger.info("reading %s as %s", source, chosen)

    if chosen == "table" or (chosen == "delta" and not looks_like_path(source)):
        return spark.read.options(**options).table(source)
    if chosen == "csv":
        options = {**CSV_DEFAULTS, **options}
    return spark.read.format(chosen).options(**options).load(source)


def infer_format(spark: SparkSession, source: str) -> str:
    """Return the :data:`INPUT_FORMATS` entry that :func:`read_input` infers."""
    if not looks_like_path(source):
        return "table"
    lowered = source.lower().rstrip("/")
    for suffix in ("parquet", "csv"):
        if lowered.endswith(f".{suffix}"):
            return suffix
    if _delta_table_class().isDeltaTable(spark, source):
        return "delta"
    raise ValueError(
        f"source={source!r} is neither a Delta table (it has no _delta_log folder) "
        "nor a path ending in .parquet or .csv; pass format='parquet', 'csv' or "
        "'delta'"
    )


def write_forecasts(
    spark: SparkSession,
    df_pred: DataFrame,
    target: str,
    key_col: str = "id",
    date_col: str = "date",
    dt_reference_col: str = "dt_reference",
) -> dict[str, int]:
    """MERGE the forecasts into a Delta table, creating it on the first write.

    For every key and ``dt_reference`` of ``df_pred``, the table ends up with
    exactly the rows of ``df_pred``: rows with the same key, date and
    ``dt_reference`` are updated, new ones inserted, and rows of that key and
    day that the new forecast no longer has (a shorter horizon) are deleted.
    Other days, and keys that ``df_pred`` does not hold, are left untouched, so
    a job may forecast its keys in several batches. All of it is one MERGE: a
    reader sees the table before or after, never half-written.

    ``df_pred`` is computed once (a local checkpoint), so the forecasting
    function that produced it runs once per key, however often the MERGE reads
    its source.

    Parameters
    ----------
    spark
        The session with Delta Lake enabled.
    df_pred
        What ``applyInPandas`` returned: one row per key, date and
        ``dt_reference``.
    target
        A path (it contains ``/``) or a table name such as
        ``main.forecasts.daily``.
    key_col, date_col, dt_reference_col
        The columns the rows are matched on.

    Returns
    -------
    dict of str to int
        ``num_inserted_rows``, ``num_updated_rows`` and ``num_deleted_rows``.

    Raises
    ------
    ValueError
        When a matching column is not in ``df_pred``.
    ImportError
        When ``delta-spark`` is missing.
    """
    delta_table = _delta_table_class()
    match_cols = [key_col, date_col, dt_reference_col]
    _check_columns(df_pred, match_cols)

    rows = df_pred.localCheckpoint(eager=True)
    days = [row[0] for row in rows.select(dt_reference_col).distinct().collect()]
    is_path = looks_like_path(target)

    if not _table_exists(spark, delta_table, target, is_path):
        writer = rows.write.format("delta").mode("append")
        if is_path:
            writer.save(target)
        else:
            writer.saveAsTable(target)
        inserted = rows.count()
        logger.info("created Delta table %s with %d row(s)", target, inserted)
        return {
            "num_inserted_rows": inserted,
            "num_updated_rows": 0,
            "num_deleted_rows": 0,
        }
    if not days:
        logger.info("no forecast rows: Delta table %s left as it was", target)
        return {"num_inserted_rows": 0, "num_updated_rows": 0, "num_deleted_rows": 0}

    table = (
        delta_table.forPath(spark, target)
        if is_path
        else delta_table.forName(spark, target)
    )
    source = _merge_source(table.toDF(), rows, match_cols, days)
    matched = [
        F.col(f"t.{_quote(c)}").eqNullSafe(F.col(f"s.{_quote(c)}")) for c in match_cols
    ]
    # The literal list of days lets Delta skip the files of other days.
    condition = F.col(f"t.{_quote(dt_reference_col)}").isin(days)
    for clause in matched:
        condition = condition & clause
    values = {_quote(c): F.col(f"s.{_quote(c)}") for c in rows.columns}
    metrics = (
        table.alias("t")
        .merge(source.alias("s"), condition)
        .whenMatchedDelete(condition=F.col(f"s.{_STALE}"))
        .whenMatchedUpdate(set=values)
        .whenNotMatchedInsert(condition=~F.col(f"s.{_STALE}"), values=values)
        .execute()
        .collect()
    )
    counts = _merge_counts(metrics)
    logger.info(
        "merged forecasts of %d day(s) into Delta table %s: %d inserted, "
        "%d updated, %d deleted",
        len(days),
        target,
        counts["num_inserted_rows"],
        counts["num_updated_rows"],
        counts["num_deleted_rows"],
    )
    return counts


def write_parquet(
    df_pred: DataFrame, target: str, dt_reference_col: str = "dt_reference"
) -> None:
    """Write the forecasts as parquet partitioned by ``dt_reference``.

    The write overwrites only the ``dt_reference`` partitions that ``df_pred``
    holds (dynamic partition overwrite): a rerun of a day replaces that whole
    day, earlier days stay. Unlike :func:`write_forecasts`, a day is replaced
    whole, so a job that forecasts its keys in batches must write them together.
    A failed write can leave a day half-written; Delta Lake does not.

    Parameters
    ----------
    df_pred
        What ``applyInPandas`` returned.
    target
        The folder of the parquet dataset.
    dt_reference_col
        The partition column.

    Raises
    ------
    ValueError
        When ``dt_reference_col`` is not in ``df_pred``.
    """
    _check_columns(df_pred, [dt_reference_col])
    (
        df_pred.write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy(dt_reference_col)
        .parquet(target)
    )
    logger.info("wrote forecasts to parquet %s by %s", target, dt_reference_col)


def _merge_source(
    existing: DataFrame, rows: DataFrame, match_cols: list[str], days: list[Any]
) -> DataFrame:
    """Return the new rows plus, flagged, the table's rows they make stale."""
    key_col, _, dt_reference_col = match_cols
    touched = rows.select(key_col, dt_reference_col).distinct()
    stale = (
        existing.where(F.col(dt_reference_col).isin(days))
        .select(*match_cols)
        .join(touched, [key_col, dt_reference_col], "left_semi")
        .join(rows.select(*match_cols), match_cols, "left_anti")
        .withColumn(_STALE, F.lit(True))
    )
    fresh = rows.withColumn(_STALE, F.lit(False))
    return fresh.unionByName(stale, allowMissingColumns=True)


def _merge_counts(metrics: list[Any]) -> dict[str, int]:
    names = ("num_inserted_rows", "num_updated_rows", "num_deleted_rows")
    if not metrics:
        return dict.fromkeys(names, 0)
    row = metrics[0].asDict()
    return {name: int(row.get(name) or 0) for name in names}


def _table_exists(
    spark: SparkSession, delta_table: Any, target: str, is_path: bool
) -> bool:
    if is_path:
        return bool(delta_table.isDeltaTable(spark, target))
    return bool(spark.catalog.tableExists(target))


def _check_columns(df: DataFrame, required: list[str]) -> None:
    missing = [name for name in required if name not in df.columns]
    if missing:
        raise ValueError(
            f"the forecasts lack column(s) {missing}; they have {sorted(df.columns)}. "
            "Pass the names given to forecast_udf_gen as key_col, date_col and "
            "dt_reference_col"
        )


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _delta_table_class() -> Any:
    try:
        from delta.tables import DeltaTable
    except ImportError as exc:
        raise ImportError(
            "Delta Lake support needs the delta-spark package: "
            "pip install 'kronos[delta]'"
        ) from exc
    return DeltaTable
