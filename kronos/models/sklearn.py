"""A scikit-learn regressor on lag and calendar features, forecast recursively.

``models_config`` entry::

    {"model_flavor": "sklearn", "estimator": "RandomForestRegressor",
     "lags": 14, "calendar_features": ["dayofweek", "month"],
     "n_estimators": 200}

- ``estimator`` (required): one of ``Ridge``, ``LinearRegression``,
  ``RandomForestRegressor``, ``GradientBoostingRegressor``,
  ``HistGradientBoostingRegressor``, ``ExtraTreesRegressor``;
- ``lags``: a list of positive integers, or an integer ``n`` meaning ``1..n``
  (default ``1..7``);
- ``calendar_features``: a subset of ``dayofweek``, ``month``, ``dayofyear``,
  ``weekofyear``, ``quarter``, ``hour``, used as integers (default chosen by
  the frequency: ``hour`` and ``dayofweek`` below a day, ``dayofweek`` and
  ``month`` below a week, ``weekofyear`` and ``month`` below a month,
  ``month`` below a quarter, ``quarter`` below a year, none above);
- every other key is an argument of the estimator, checked against its
  ``get_params()`` names and its own parameter rules. Estimators with a
  ``random_state`` get ``0`` unless it is set, so that fits are repeatable.

The history needs at least ``max(lags) + 10`` points. Each future period is
predicted from the lags of the values before it, observed or already
predicted, so a gap after the history is forecast through. Intervals take the
in-sample residuals as normal with a spread growing like ``sqrt(h)``; for
trees, which fit their training data closely, they are narrow.

Saved with MLflow's native ``sklearn`` flavor (the estimator alone, so
``mlflow.sklearn.load_model`` gives the regressor) plus a state file with the
last ``max(lags)`` values, the lags, the features and the residual spread.
The directory's ``python_function`` flavor is kronos's: its input is a frame
with a ``ds`` column of dates; it returns ``ds`` and ``yhat`` (plus
``yhat_lower`` and ``yhat_upper`` with ``params={"interval_width": w}``).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from kronos.models import _mlflow, _validation
from kronos.models.base import (
    ForecastModel,
    ModelConfigError,
    ModelFitError,
    forecast_frame,
    normal_quantile,
)

logger = logging.getLogger(__name__)

_STATE_FILE = "sklearn_state.json"
_DEFAULT_LAGS = 7
_EXTRA_POINTS = 10
_OWN_PARAMS = ("estimator", "lags", "calendar_features")

_CALENDAR: dict[str, Callable[[pd.DatetimeIndex], Any]] = {
    "dayofweek": lambda index: index.dayofweek,
    "month": lambda index: index.month,
    "dayofyear": lambda index: index.dayofyear,
    "weekofyear": lambda index: index.isocalendar().week.to_numpy(),
    "quarter": lambda index: index.quarter,
    "hour": lambda index: index.hour,
}


@functools.cache
def _estimators() -> dict[str, type]:
    """Return the allowed estimator classes by name."""
    from sklearn.ensemble import (
        ExtraTreesRegressor,
        GradientBoostingRegressor,
        HistGradientBoostingRegressor,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LinearRegression, Ridge

    return {
        "Ridge": Ridge,
        "LinearRegression": LinearRegression,
        "RandomForestRegressor": RandomForestRegressor,
        "GradientBoostingRegressor": GradientBoostingRegressor,
        "HistGradientBoostingRegressor": HistGradientBoostingRegressor,
        "ExtraTreesRegressor": ExtraTreesRegressor,
    }


def _lags(params: Mapping[str, Any]) -> list[int]:
    """Return the sorted lags of an entry."""
    lags = params.get("lags", _DEFAULT_LAGS)
    if _validation.is_int(lags):
        return list(range(1, lags + 1))
    return sorted(lags)


def default_calendar_features(freq: str) -> list[str]:
    """Return the calendar features used for ``freq`` when none are given."""
    first, second = pd.date_range("2001-01-01", periods=2, freq=freq)
    period = second - first
    if period < pd.Timedelta(days=1):
        return ["hour", "dayofweek"]
    if period < pd.Timedelta(days=7):
        return ["dayofweek", "month"]
    if period < pd.Timedelta(days=28):
        return ["weekofyear", "month"]
    if period < pd.Timedelta(days=89):
        return ["month"]
    if period < pd.Timedelta(days=365):
        return ["quarter"]
    return []


def _calendar_matrix(dates: pd.DatetimeIndex, features: list[str]) -> np.ndarray:
    """Return one row of calendar features per date."""
    columns = [np.asarray(_CALENDAR[name](dates), dtype="float64") for name in features]
    if not columns:
        return np.empty((len(dates), 0))
    return np.column_stack(columns)


class SklearnModel(ForecastModel):
    """A recursive forecaster around a scikit-learn regressor."""

    flavor = "sklearn"

    def __init__(self, params: Mapping[str, Any], freq: str = "D") -> None:
        super().__init__(params, freq)
        self.lags = _lags(params)
        self.features = list(
            params.get("calendar_features", default_calendar_features(freq))
        )
        self.estimator: Any = None
        self.last_values: np.ndarray | None = None
        self.sigma: float = 0.0

    @classmethod
    def validate_params(cls, model_name: str, params: Mapping[str, Any]) -> None:
        """Check the estimator, lags, calendar features and estimator arguments.

        Raises
        ------
        ModelConfigError
            When the estimator is missing or not allowed, the lags or features
            are malformed, or an estimator argument is unknown or invalid.
        """
        allowed = list(_estimators())
        if "estimator" not in params:
            raise ModelConfigError(
                f"models_config[{model_name!r}]: sklearn entries need 'estimator', "
                f"one of {', '.join(allowed)}; add for example "
                '"estimator": "Ridge"'
            )
        _validation.check_choice(model_name, "estimator", params["estimator"], allowed)
        estimator_class = _estimators()[params["estimator"]]
        own = sorted(estimator_class().get_params())
        _validation.check_known(
            model_name,
            cls.flavor,
            params,
            (*_OWN_PARAMS, *own),
            detail=f"estimator {params['estimator']!r}",
        )
        if "lags" in params:
            _check_lags(model_name, params["lags"])
        if "calendar_features" in params:
            _validation.check_str_list(
                model_name,
                "calendar_features",
                params["calendar_features"],
                '["month"]',
            )
            for name in params["calendar_features"]:
                _validation.check_choice(
                    model_name, "calendar_features", name, list(_CALENDAR)
                )

        arguments = {key: value for key, value in params.items() if key in own}
        try:
            estimator_class(**arguments)._validate_params()
        except (TypeError, ValueError) as exc:
            raise ModelConfigError(
                f"models_config[{model_name!r}]: an argument of "
                f"{params['estimator']} is invalid: {exc}"
            ) from None

    @classmethod
    def min_train_length(cls, params: Mapping[str, Any]) -> int:
        """Return ``max(lags) + 10``: the lag window plus ten training rows."""
        return max(_lags(params)) + _EXTRA_POINTS

    def _build(self) -> Any:
        """Return an unfitted estimator configured from the params."""
        estimator_class = _estimators()[self.params["estimator"]]
        arguments = {
            key: value for key, value in self.params.items() if key not in _OWN_PARAMS
        }
        if "random_state" in estimator_class().get_params():
            arguments.setdefault("random_state", 0)
        return estimator_class(**arguments)

    def _design(self, y: np.ndarray, dates: pd.DatetimeIndex) -> np.ndarray:
        """Return the lag and calendar features of every point after the window."""
        window = max(self.lags)
        n = len(y)
        lagged = np.column_stack([y[window - lag : n - lag] for lag in self.lags])
        return np.hstack([lagged, _calendar_matrix(dates[window:], self.features)])

    def fit(self, history: pd.DataFrame) -> SklearnModel:
        """Fit the regressor on the lag and calendar features of ``history``."""
        self._check_history(history)
        y = history["y"].to_numpy(dtype="float64")
        dates = pd.DatetimeIndex(history["ds"])
        window = max(self.lags)
        features = self._design(y, dates)
        target = y[window:]
        try:
            estimator = self._build().fit(features, target)
        except Exception as exc:
            raise ModelFitError(
                f"sklearn {self.params['estimator']} with params {self.params} "
                f"failed to fit {len(y)} points: {exc}"
            ) from exc
        residuals = target - estimator.predict(features)
        self.estimator = estimator
        self.sigma = float(np.sqrt(np.mean(residuals**2)))
        self.last_values = y[-window:].copy()
        self.last_date = pd.Timestamp(history["ds"].iloc[-1])
        return self

    def predict(
        self, dates: pd.DatetimeIndex, interval_width: float | None = None
    ) -> pd.DataFrame:
        """Forecast ``dates`` recursively; see :meth:`ForecastModel.predict`."""
        steps = self._steps_ahead(dates)
        future = self._future_dates(pd.DatetimeIndex(dates))
        calendar = _calendar_matrix(future, self.features)
        values = list(self.last_values)
        # One regressor call per period: each prediction feeds the next lags.
        for row in calendar:
            lagged = [values[-lag] for lag in self.lags]
            features = np.concatenate([lagged, row])[np.newaxis, :]
            values.append(float(self.estimator.predict(features)[0]))
        predicted = np.asarray(values[len(self.last_values) :])
        yhat = predicted[steps - 1]
        if interval_width is None:
            return forecast_frame(dates, yhat)
        spread = normal_quantile(interval_width) * self.sigma * np.sqrt(steps)
        return forecast_frame(dates, yhat, yhat - spread, yhat + spread)

    def save(self, path: str) -> None:
        """Write the estimator with MLflow's ``sklearn`` flavor and the state."""
        import mlflow.sklearn

        serialization, trusted = _serialization(self.estimator)
        with _mlflow.quiet_mlflow_save():
            mlflow.sklearn.save_model(
                self.estimator,
                path,
                serialization_format=serialization,
                skops_trusted_types=trusted,
                signature=_mlflow.forecast_signature(),
                input_example=pd.DataFrame({"ds": _mlflow.next_dates(self)}),
                metadata=_mlflow.model_metadata(self),
                pip_requirements=_mlflow.pip_requirements(self.flavor),
            )
        state = {
            "last_values": self.last_values.tolist(),
            "sigma": self.sigma,
            "lags": self.lags,
            "calendar_features": self.features,
        }
        with open(os.path.join(path, _STATE_FILE), "w") as handle:
            json.dump(state, handle)
        _mlflow.use_kronos_pyfunc(path)

    @classmethod
    def load(cls, path: str, metadata: Mapping[str, Any]) -> SklearnModel:
        """Rebuild the model saved at ``path``."""
        import mlflow.sklearn

        model = _mlflow.restore_base(cls, metadata)
        with open(os.path.join(path, _STATE_FILE)) as handle:
            state = json.load(handle)
        model.estimator = mlflow.sklearn.load_model(path)
        model.last_values = np.asarray(state["last_values"], dtype="float64")
        model.sigma = float(state["sigma"])
        model.lags = [int(lag) for lag in state["lags"]]
        model.features = list(state["calendar_features"])
        return model


def _serialization(estimator: Any) -> tuple[str, list[str] | None]:
    """Return the format to save ``estimator`` in and the types it needs.

    skops, which loads without running arbitrary code, is used when installed;
    the types it does not trust by default are those of the estimator's own
    internals, listed so that the directory loads back.
    """
    try:
        import skops.io
    except ImportError:
        return "pickle", None
    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(estimator))
    return "skops", (untrusted or None)


def _check_lags(model_name: str, lags: Any) -> None:
    """Require a positive integer or a non-empty list of distinct ones."""
    example = "7 or [1, 7, 14]"
    if _validation.is_int(lags):
        if lags < 1:
            raise _validation.type_error(
                model_name, "lags", lags, "a positive integer", example
            )
        return
    if (
        not isinstance(lags, list | tuple)
        or not lags
        or not all(_validation.is_int(lag) and lag >= 1 for lag in lags)
        or len(set(lags)) != len(lags)
    ):
        raise _validation.type_error(
            model_name,
            "lags",
            lags,
            "a positive integer or a list of distinct positive integers",
            example,
        )
