"""The naive model: every future period repeats the last observed value.

``models_config`` entry: ``{"model_flavor": "naive"}``, no other parameter.

Intervals assume the one-step naive errors of the history are normal with a
constant spread: the ``h``-step bound is ``yhat ± z * sigma * sqrt(h)``, where
``sigma`` is the root mean square of the history's first differences. A history
of one point has no difference and gives intervals of zero width.

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

_STATE_FILE = "naive_state.json"


class NaiveModel(ForecastModel):
    """Forecast the last observed value, with random-walk intervals."""

    flavor = "naive"

    def __init__(self, params: Mapping[str, Any], freq: str = "D") -> None:
        super().__init__(params, freq)
        self.last_value: float | None = None
        self.sigma: float = 0.0

    @classmethod
    def validate_params(cls, model_name: str, params: Mapping[str, Any]) -> None:
        """Accept no parameter.

        Raises
        ------
        ModelConfigError
            When any parameter is given.
        """
        _validation.check_known(model_name, cls.flavor, params, ())

    @classmethod
    def min_train_length(cls, params: Mapping[str, Any]) -> int:
        """Return 1: one observation is enough to repeat it."""
        return 1

    def fit(self, history: pd.DataFrame) -> NaiveModel:
        """Remember the last value and the spread of one-step changes."""
        self._check_history(history)
        y = history["y"].to_numpy(dtype="float64")
        self.last_value = float(y[-1])
        steps = np.diff(y)
        self.sigma = float(np.sqrt(np.mean(steps**2))) if steps.size else 0.0
        self.last_date = pd.Timestamp(history["ds"].iloc[-1])
        return self

    def predict(
        self, dates: pd.DatetimeIndex, interval_width: float | None = None
    ) -> pd.DataFrame:
        """Forecast ``dates``; see :meth:`ForecastModel.predict`."""
        steps = self._steps_ahead(dates)
        yhat = np.full(len(steps), self.last_value, dtype="float64")
        if interval_width is None:
            return forecast_frame(dates, yhat)
        spread = normal_quantile(interval_width) * self.sigma * np.sqrt(steps)
        return forecast_frame(dates, yhat, yhat - spread, yhat + spread)

    def save(self, path: str) -> None:
        """Write a kronos pyfunc directory with the last value and spread."""
        _mlflow.save_pyfunc(self, path)
        state = {"last_value": self.last_value, "sigma": self.sigma}
        with open(os.path.join(path, _STATE_FILE), "w") as handle:
            json.dump(state, handle)

    @classmethod
    def load(cls, path: str, metadata: Mapping[str, Any]) -> NaiveModel:
        """Rebuild the model saved at ``path``."""
        model = _mlflow.restore_base(cls, metadata)
        with open(os.path.join(path, _STATE_FILE)) as handle:
            state = json.load(handle)
        model.last_value = float(state["last_value"])
        model.sigma = float(state["sigma"])
        return model
