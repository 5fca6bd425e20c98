"""The forecasting function as tests build it: their columns, their defaults.

``forecast_udf_gen`` takes sixteen required arguments. Most tests give the same
column names, since their frames share them, and a small test window; they
differ in the models, the dates, the sizes and the keyword settings they are
about. :func:`udf_arguments` fills the required arguments from those defaults,
and every keyword setting a test passes stays written in that test.
:func:`key_rows` makes one key's input in those columns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
from mlflow.tracking import MlflowClient

from kronos.forecast_udf import forecast_udf_gen

#: The column names of the test frames, by argument of ``forecast_udf_gen``.
COLUMNS = {
    "key_col": "id",
    "date_col": "date",
    "metric_col": "value",
    "quality_col": "quality",
    "action_col": "action",
    "models_col": "models",
    "days_from_last_obs_col": "days",
    "dt_creation_col": "dt_creation",
    "dt_reference_col": "dt_reference",
}
#: The processing date unless a test gives another.
DAY = dt.date(2024, 3, 1)


def udf_arguments(
    client: MlflowClient, models_config: str | Mapping[str, Any], **overrides: Any
) -> dict[str, Any]:
    """Return the keyword arguments of ``forecast_udf_gen`` for a test.

    The required arguments default to :data:`COLUMNS`, ``current_date=DAY``,
    ``n_test=7``, ``n_unit_test=5`` and ``forecast_horizon=5``;
    ``fcst_first_date`` defaults to the current date. ``overrides`` replace any
    of them and add keyword settings.
    """
    arguments = {
        "client": client,
        **COLUMNS,
        "models_config": models_config,
        "current_date": DAY,
        "n_test": 7,
        "n_unit_test": 5,
        "forecast_horizon": 5,
    }
    arguments.update(overrides)
    arguments.setdefault("fcst_first_date", arguments["current_date"])
    return arguments


def key_rows(key: str, dates: pd.DatetimeIndex, values: Any) -> pd.DataFrame:
    """Return one key's input rows: good quality, competition, no model list."""
    return pd.DataFrame(
        {
            "id": key,
            "date": dates.date,
            "value": values,
            "quality": "good",
            "action": "competition",
            "models": "",
        }
    )


def make_udf(
    client: MlflowClient, models_config: str | Mapping[str, Any], **overrides: Any
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Return ``forecast_udf_gen`` called with :func:`udf_arguments`."""
    return forecast_udf_gen(**udf_arguments(client, models_config, **overrides))
