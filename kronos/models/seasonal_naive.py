"""The seasonal naive model: the future repeats the last observed season.

``models_config`` entry: ``{"model_flavor": "seasonal_naive", "season_length": 7}``;
``season_length`` is an integer >= 1 (default 7) counted in periods of the
series' frequency. The history needs at least ``season_length`` points.

The forecast for ``h`` periods ahead is the value observed ``season_length``
periods before, taken from the last season of the history. Intervals assume the
seasonal differences of the history are normal: the bound is
``yhat ± z * sigma * sqrt(k + 1)`` where ``k`` is the number of whole seasons
between the history and the period, and ``sigma`` the root mean square of the
seasonal differences (zero, so intervals of zero width, when the history is a
single season).

Saved as an MLflow Python-function model whose input is a frame with a ``ds``
column of dates; it returns ``ds`` and ``yhat`` (plus ``yhat_lower`` and
``yhat_upper`` with ``params={"interval_width": w}``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from kronos.models import _mlflow, _validation
from kronos.models.base import ForecastModel, forecast_frame, normal_quantile

logger = logging.getLogger(__name__)

_STATE_FILE = "seasonal_naive_state.json"
_DEFAULT_SEASON_LENGTH = 7


class SeasonalNaiveModel(ForecastModel):
    """Repeat the last season, with seasonal random-walk intervals."""

    flavor = "seasonal_naive"

    def __init__(self, params: Mapping[str, Any], freq: str = "D") -> None:
        super().__init__(params, freq)
        self.season_length = int(params.get("season_length", _DEFAULT_SEASON_LENGTH))
        self.last_season: np.ndarray | None = None
        self.sigma: float = 0.0

    @classmethod
    def validate_params(cls, model_name: str, params: Mapping[str, Any]) -> None:
        """Check ``season_length``.

        Raises
        ------
        ModelConfigError
            When a parameter is unknown or ``season_length`` is not an integer
            >= 1.
        """
        _validation.check_known(model_name, cls.flavor, params, ("season_length",))
        if "season_length" in params:
            _validation.check_int(
                model_name, "season_length", params["season_length"], minimum=1
            )

    @classmethod
    def min_train_length(cls, params: Mapping[str, Any]) -> int:
        """Return ``season_length``: one full season to repeat."""
        return int(params.get("season_length", _DEFAULT_SEASON_LENGTH))

    def fit(self, history: pd.DataFrame) -> SeasonalNaiveModel:
        """Remember the last season and the spread of seasonal differences."""
        self._check_history(history)
        y = history["y"].to_numpy(dtype="float64")
        m = self.season_length
        self.last_season = y[-m:].copy()
        changes = y[m:] - y[:-m]
        self.sigma = float(np.sqrt(np.mean(changes**2))) if changes.size else 0.0
        self.last_date = pd.Timestamp(history["ds"].iloc[-1])
        return self

    def predict(
        self, dates: pd.DatetimeIndex, interval_width: float | None = None
    ) -> pd.DataFrame:
        """Forecast ``dates``; see :meth:`ForecastModel.predict`."""
        steps = self._steps_ahead(dates)
        m = self.season_length
        yhat = self.last_season[(steps - 1) % m]
        if interval_width is None:
            return forecast_frame(dates, yhat)
        seasons_ahead = (steps - 1) // m
        spread = (
            normal_quantile(interval_width) * self.sigma * np.sqrt(seasons_ahead + 1)
        )
        return forecast_frame(dates, yhat, yhat - spread, yhat + spread)

    def save(self, path: str) -> None:
        """Write a kronos pyfunc directory with the last season and spread."""
        _mlflow.save_pyfunc(self, path)
        state = {"last_season": self.last_season.tolist(), "sigma": self.sigma}
        with open(os.path.join(path, _STATE_FILE), "w") as handle:
            json.dump(state, handle)

    @classmethod
    def load(cls, path: str, metadata: Mapping[str, Any]) -> SeasonalNaiveModel:
        """Rebuild the model saved at ``path``."""
        model = _mlflow.restore_base(cls, metadata)
        with open(os.path.join(path, _STATE_FILE)) as handle:
            state = json.load(handle)
        model.last_season = np.asarray(state["last_season"], dtype="float64")
        model.sigma = float(state["sigma"])
        return model
