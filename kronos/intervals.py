"""Prediction intervals from backtest residuals, for models that give none.

Most flavors return their own bounds when asked for an ``interval_width``.
Those that have none (statsforecast's intermittent-demand models, Prophet with
``uncertainty_samples`` 0, an ensemble with such a member) get bounds from
their errors on the key's backtest windows: the model's configuration is
refit on each window's training rows and forecasts the window, as in the
competition, and the errors set the spread.

The errors are taken as normal with a spread growing like the square root of
the step ahead, the step being 1 for the first period after the training
rows. The one-step spread ``sigma`` is the root mean square of each error
divided by the square root of its step, and the bound ``h`` steps after the
history is ``yhat ± z * sigma * sqrt(h)``, ``z`` being the normal quantile of
the interval width. The bounds therefore always contain the forecast and
widen with the width and with the horizon.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from kronos import backtest
from kronos.models.base import ForecastModel, normal_quantile

__all__ = ["add_residual_bounds", "backtest_residuals", "one_step_sigma"]

logger = logging.getLogger(__name__)


def backtest_residuals(
    model: ForecastModel, data: pd.DataFrame, windows: Sequence[backtest.Window]
) -> list[np.ndarray]:
    """Return the errors (actual minus forecast) of ``model`` on each window.

    A copy of ``model`` is refit on each window's training rows; ``model``
    itself is left as it is.

    Raises
    ------
    Exception
        Whatever fitting or forecasting a window raises.
    """
    residuals = []
    for window in windows:
        train, test = backtest.window_frames(data, window)
        refit = copy.deepcopy(model).fit(train)
        yhat = refit.predict(pd.DatetimeIndex(test["ds"]))["yhat"].to_numpy(float)
        residuals.append(test["y"].to_numpy(dtype="float64") - yhat)
    return residuals


def one_step_sigma(residuals: Sequence[np.ndarray]) -> float:
    """Return the one-step spread of errors whose spread grows like ``sqrt(step)``.

    Each window's errors are in step order, the first one step after its
    training rows. Non-finite errors are ignored; NaN when none is left.
    """
    scaled = [
        np.asarray(window, dtype="float64") / np.sqrt(np.arange(1, len(window) + 1))
        for window in residuals
    ]
    values = np.concatenate(scaled) if scaled else np.array([])
    values = values[np.isfinite(values)]
    return float(np.sqrt(np.mean(values**2))) if values.size else math.nan


def add_residual_bounds(
    forecast: pd.DataFrame,
    model: ForecastModel,
    data: pd.DataFrame,
    windows: Sequence[backtest.Window],
    interval_width: float,
) -> pd.DataFrame:
    """Return ``forecast`` with bounds from ``model``'s backtest errors.

    Parameters
    ----------
    forecast
        The model's forecast: ``ds`` and ``yhat``, all after the history.
    model
        The fitted model that forecast it (fitted on ``data``).
    data
        The key's whole history (``ds``, ``y``).
    windows
        The key's backtest windows over ``data``.
    interval_width
        The probability the interval covers, in ``(0, 1)``.

    Returns
    -------
    pandas.DataFrame
        A copy of ``forecast`` with ``yhat_lower`` and ``yhat_upper``; both are
        NaN when the backtest could not be run, which is logged.
    """
    z = normal_quantile(interval_width)
    out = forecast.copy()
    try:
        sigma = one_step_sigma(backtest_residuals(model, data, windows))
    except Exception as exc:
        logger.info("no backtest errors to set interval bounds: %s", exc)
        sigma = math.nan
    # Steps count from the model's own last date: a production model loaded to
    # predict may have been fitted before the latest observations.
    last_date = pd.Timestamp(model.last_date or data["ds"].iloc[-1])
    dates = pd.DatetimeIndex(out["ds"])
    future = pd.date_range(last_date, dates.max(), freq=model.freq)
    steps = future.get_indexer(dates).astype("float64")
    steps[steps < 1] = math.nan
    spread = z * sigma * np.sqrt(steps)
    yhat = out["yhat"].to_numpy(dtype="float64")
    out["yhat_lower"] = yhat - spread
    out["yhat_upper"] = yhat + spread
    return out
