"""What happened to each key: the outcome report of an execution.

A forecasting function built with ``with_outcome=True`` repeats the key's
outcome (see :data:`kronos.spark.OUTCOME_FIELDS`) on each of its rows. This
module folds those rows into one line per key:

- :func:`outcome_report` as a Spark DataFrame, for notebooks and for tables
  that an operator reads the morning after;
- :func:`summarize` and :func:`summary_table` as pandas and as text, for the
  command line and the demo.
"""

from __future__ import annotations

import json
import logging
import math
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

#: The columns of :func:`summarize`, in order.
SUMMARY_COLUMNS = (
    "key",
    "action",
    "winner",
    "scores",
    "version",
    "unit_test",
    "promoted",
    "fallback",
)

#: Name of the column of :func:`outcome_report` counting a key's forecast rows.
FORECAST_ROWS_COL = "forecast_rows"


def outcome_report(df_pred: DataFrame, key_col: str | None = None) -> DataFrame:
    """Return one row per key with the outcome columns of a forecast result.

    Parameters
    ----------
    df_pred
        The result of ``applyInPandas`` with a forecasting function built with
        ``with_outcome=True`` and a schema from
        ``kronos.result_schema(..., outcome=True)``.
    key_col
        The key column; the first column of ``df_pred`` when not given (the
        result schema puts the key first).

    Returns
    -------
    pyspark.sql.DataFrame
        The key, ``dt_creation`` and ``dt_reference`` when the result has them
        under their default names, every ``kronos_*`` outcome column and
        ``forecast_rows`` (the key's number of forecast rows), sorted by key.
        Nothing is computed until an action runs on it.

    Raises
    ------
    ValueError
        When ``key_col`` is not a column of ``df_pred`` or the outcome columns
        are missing.
    """
    from pyspark.sql import functions as sf

    from kronos.spark import OUTCOME_FIELDS

    key_col = key_col or df_pred.columns[0]
    if key_col not in df_pred.columns:
        raise ValueError(
            f"key_col={key_col!r} is not a column of the result; it has "
            f"{df_pred.columns}. Pass the key column's name"
        )
    outcome_cols = [name for name, _ in OUTCOME_FIELDS]
    missing = [name for name in outcome_cols if name not in df_pred.columns]
    if missing:
        raise ValueError(
            f"the result lacks the outcome column(s) {missing}; build the "
            "forecasting function with with_outcome=True and its schema with "
            "kronos.result_schema(..., outcome=True)"
        )

    # The outcome is the same on every row of a key: any non-null value is it.
    dates = [c for c in ("dt_creation", "dt_reference") if c in df_pred.columns]
    per_key = [sf.first(c, ignorenulls=True).alias(c) for c in dates + outcome_cols]
    return (
        df_pred.groupBy(key_col)
        .agg(*per_key, sf.count(sf.lit(1)).alias(FORECAST_ROWS_COL))
        .orderBy(key_col)
    )


def summarize(rows: pd.DataFrame, key_col: str = "id") -> pd.DataFrame:
    """Return one short line per key from rows that carry the outcome columns.

    Parameters
    ----------
    rows
        Forecast rows with the ``kronos_*`` columns (several per key), or the
        rows of :func:`outcome_report` (one per key), as pandas.
    key_col
        The key column of ``rows``.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`SUMMARY_COLUMNS`, one row per key, sorted by key.
        ``scores`` lists each candidate's combined score (lower is better).

    Raises
    ------
    ValueError
        When ``key_col`` or an outcome column is missing from ``rows``.
    """
    needed = [
        key_col,
        "kronos_action",
        "kronos_winner",
        "kronos_scores",
        "kronos_registered_version",
        "kronos_unit_test",
        "kronos_promoted",
        "kronos_fallback_reason",
    ]
    missing = [name for name in needed if name not in rows.columns]
    if missing:
        raise ValueError(
            f"the rows lack column(s) {missing}; run the forecast with "
            "with_outcome=True and pass key_col when the key is not 'id'"
        )
    per_key = rows.drop_duplicates(key_col).sort_values(key_col)
    return pd.DataFrame(
        {
            "key": per_key[key_col].astype(str),
            "action": per_key["kronos_action"].map(_text),
            "winner": per_key["kronos_winner"].map(_text),
            "scores": per_key["kronos_scores"].map(short_scores),
            "version": per_key["kronos_registered_version"].map(_text),
            "unit_test": per_key["kronos_unit_test"].map(_text),
            "promoted": per_key["kronos_promoted"].map(_yes_no),
            "fallback": per_key["kronos_fallback_reason"].map(_text),
        },
        columns=list(SUMMARY_COLUMNS),
    ).reset_index(drop=True)


def summary_table(rows: pd.DataFrame, key_col: str = "id") -> str:
    """Return the per-key summary as a text table followed by a totals line.

    Parameters
    ----------
    rows
        As for :func:`summarize`.
    key_col
        The key column of ``rows``.

    Returns
    -------
    str
        The table (one line per key) and a last line such as
        ``"4 key(s): 3 registered, 3 promoted, 1 fallback"``, without a
        trailing newline.
    """
    summary = summarize(rows, key_col)
    if summary.empty:
        return "no key was forecast"
    return f"{summary.to_string(index=False)}\n{summary_totals(summary)}"


def summary_totals(summary: pd.DataFrame) -> str:
    """Return one line counting keys, registrations, promotions and fallbacks."""
    registered = int((summary["version"] != "-").sum())
    promoted = int((summary["promoted"] == "yes").sum())
    fallback = int((summary["fallback"] != "-").sum())
    return (
        f"{len(summary)} key(s): {registered} registered, {promoted} promoted, "
        f"{fallback} fallback"
    )


def short_scores(scores_json: str | None) -> str:
    """Render the JSON object of combined scores as ``name=score`` pairs.

    Names are sorted; a score that is not a finite number is shown as it is.
    """
    if not isinstance(scores_json, str) or not scores_json.strip():
        return "-"
    try:
        scores = json.loads(scores_json)
    except json.JSONDecodeError:
        logger.debug("scores are not JSON: %.80s", scores_json)
        return scores_json
    if not isinstance(scores, dict) or not scores:
        return "-"
    return " ".join(
        f"{name}={_number(value)}" for name, value in sorted(scores.items())
    )


def _number(value: object) -> str:
    if isinstance(value, int | float) and math.isfinite(value):
        return f"{value:.3g}"
    return str(value)


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    text = str(value)
    return text if text else "-"


def _yes_no(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return "yes" if bool(value) else "no"


__all__ = [
    "FORECAST_ROWS_COL",
    "SUMMARY_COLUMNS",
    "outcome_report",
    "short_scores",
    "summarize",
    "summary_table",
    "summary_totals",
]
