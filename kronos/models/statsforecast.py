"""Models of the ``statsforecast`` package, fitted one series at a time.

``models_config`` entry: ``{"model_flavor": "statsforecast", "model": "AutoETS",
...}`` where ``model`` is one of ``AutoARIMA``, ``AutoETS``, ``AutoTheta``,
``AutoCES``, ``SeasonalNaive``, ``CrostonOptimized``, ``ADIDA``, ``IMAPA`` and
``TSB``, and the other keys are arguments of that class's constructor (checked
against ``statsforecast.models``), for example ``season_length``. Because the
key ``model`` selects the class, the classes' own ``model`` argument (the ETS,
Theta or CES specification such as ``"ZZZ"``) is written ``model_spec``.
``prediction_intervals`` (conformal intervals) is refused: they are computed
for one fixed horizon while kronos forecasts any horizon.

statsforecast refuses series shorter than its models need. The fewest points
are: ``season_length`` for ``SeasonalNaive``; for the ``Auto*`` models
``2 * season_length + 1`` when ``season_length`` > 1, and otherwise 3
(``AutoARIMA``), 8 (``AutoETS``), 4 (``AutoTheta``) or 5 (``AutoCES``); 2 for
the intermittent-demand models.

Intervals are the model's own (``predict(h, level=[100 * width])``). The
intermittent-demand models (``CrostonOptimized``, ``ADIDA``, ``IMAPA``,
``TSB``) have none and return no bounds.

Saved as an MLflow Python-function model (MLflow has no statsforecast flavor),
the fitted model pickled next to it. Its input is a frame with a ``ds`` column
of dates; it returns ``ds`` and ``yhat`` (plus ``yhat_lower`` and
``yhat_upper`` with ``params={"interval_width": w}``).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import pickle
import types
import typing
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from kronos.models import _mlflow, _validation
from kronos.models.base import (
    ForecastModel,
    ModelConfigError,
    ModelFitError,
    check_interval_width,
    forecast_frame,
)

logger = logging.getLogger(__name__)

#: The ``statsforecast.models`` classes an entry may name, with the fewest
#: points each fits on when it is not seasonal.
_MODELS: dict[str, int] = {
    "AutoARIMA": 3,
    "AutoETS": 8,
    "AutoTheta": 4,
    "AutoCES": 5,
    "SeasonalNaive": 1,
    "CrostonOptimized": 2,
    "ADIDA": 2,
    "IMAPA": 2,
    "TSB": 2,
}
_SEASONAL = ("AutoARIMA", "AutoETS", "AutoTheta", "AutoCES")
_NO_INTERVALS = ("CrostonOptimized", "ADIDA", "IMAPA", "TSB")

#: The entry key carrying a class's own ``model`` argument.
_SPEC_KEY = "model_spec"
_REFUSED = {
    "prediction_intervals": (
        "conformal intervals are computed for one fixed horizon while kronos "
        "forecasts any horizon; remove it (the model's own intervals are used)"
    ),
}
_STATE_FILE = "statsforecast_model.pkl"


@contextlib.contextmanager
def _no_warnings() -> Iterator[None]:
    """Ignore the warnings statsforecast raises while fitting and forecasting."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@functools.cache
def _model_class(name: str) -> type:
    """Return the ``statsforecast.models`` class called ``name``."""
    import statsforecast.models

    return getattr(statsforecast.models, name)


@functools.cache
def _constructor(name: str) -> dict[str, inspect.Parameter]:
    """Return the constructor parameters of class ``name``, keyed by entry key."""
    parameters = inspect.signature(_model_class(name).__init__).parameters
    return {
        (_SPEC_KEY if key == "model" else key): parameter
        for key, parameter in parameters.items()
        if key != "self"
        and parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
    }


class StatsForecastModel(ForecastModel):
    """One ``statsforecast.models`` model fitted on one series."""

    flavor = "statsforecast"

    def __init__(self, params: Mapping[str, Any], freq: str = "D") -> None:
        super().__init__(params, freq)
        self.model: Any = None

    @classmethod
    def validate_params(cls, model_name: str, params: Mapping[str, Any]) -> None:
        """Check ``model`` and the chosen class's constructor arguments.

        Raises
        ------
        ModelConfigError
            When ``model`` is missing or unknown, an argument is unknown,
            refused or missing, or a value does not match its annotation.
        """
        if "model" not in params:
            raise ModelConfigError(
                f"models_config[{model_name!r}]: statsforecast entries need "
                f"'model', one of {', '.join(_MODELS)}; add for example "
                '"model": "AutoETS"'
            )
        _validation.check_choice(model_name, "model", params["model"], list(_MODELS))
        class_name = params["model"]
        arguments = {key: value for key, value in params.items() if key != "model"}
        for key, reason in _REFUSED.items():
            if key in arguments:
                raise ModelConfigError(
                    f"models_config[{model_name!r}]: {key!r} is not accepted: {reason}"
                )

        constructor = _constructor(class_name)
        accepted = [key for key in constructor if key not in _REFUSED]
        _validation.check_known(
            model_name, cls.flavor, arguments, accepted, detail=f"model {class_name!r}"
        )
        missing = [
            key
            for key, parameter in constructor.items()
            if parameter.default is inspect.Parameter.empty and key not in arguments
        ]
        if missing:
            raise ModelConfigError(
                f"models_config[{model_name!r}]: statsforecast model {class_name!r} "
                f"needs {missing}; add them to the entry"
            )
        for key, value in arguments.items():
            _check_annotation(model_name, key, value, constructor[key].annotation)
        if "season_length" in arguments:
            _validation.check_int(
                model_name, "season_length", arguments["season_length"], minimum=1
            )

    @classmethod
    def min_train_length(cls, params: Mapping[str, Any]) -> int:
        """Return the fewest points the chosen model fits on (module docstring)."""
        class_name = params["model"]
        season_length = int(params.get("season_length", 1))
        if class_name == "SeasonalNaive":
            return season_length
        if class_name in _SEASONAL and season_length > 1:
            return max(_MODELS[class_name], 2 * season_length + 1)
        return _MODELS[class_name]

    def _build(self) -> Any:
        """Return an unfitted model of the chosen class."""
        kwargs = {
            ("model" if key == _SPEC_KEY else key): value
            for key, value in self.params.items()
            if key != "model"
        }
        return _model_class(self.params["model"])(**kwargs)

    def fit(self, history: pd.DataFrame) -> StatsForecastModel:
        """Fit the chosen model on ``history``."""
        self._check_history(history)
        y = history["y"].to_numpy(dtype="float64")
        try:
            with _no_warnings():
                self.model = self._build().fit(y)
        except Exception as exc:
            raise ModelFitError(
                f"statsforecast {self.params['model']} with params {self.params} "
                f"failed to fit {len(y)} points: {type(exc).__name__}: {exc}"
            ) from exc
        self.last_date = pd.Timestamp(history["ds"].iloc[-1])
        return self

    def predict(
        self, dates: pd.DatetimeIndex, interval_width: float | None = None
    ) -> pd.DataFrame:
        """Forecast ``dates``; see :meth:`ForecastModel.predict`."""
        steps = self._steps_ahead(dates)
        horizon = int(steps.max())
        picked = steps - 1
        with_intervals = (
            interval_width is not None and self.params["model"] not in _NO_INTERVALS
        )
        if interval_width is not None:
            check_interval_width(interval_width)
            if not with_intervals:
                logger.debug("%s has no intervals", self.params["model"])

        if not with_intervals:
            with _no_warnings():
                out = self.model.predict(h=horizon)
            return forecast_frame(dates, np.asarray(out["mean"])[picked])
        level = round(100 * interval_width, 6)
        with _no_warnings():
            out = self.model.predict(h=horizon, level=[level])
        return forecast_frame(
            dates,
            np.asarray(out["mean"])[picked],
            np.asarray(out[f"lo-{level}"])[picked],
            np.asarray(out[f"hi-{level}"])[picked],
        )

    def save(self, path: str) -> None:
        """Write a kronos pyfunc directory with the fitted model pickled in it."""
        _mlflow.save_pyfunc(self, path)
        with open(os.path.join(path, _STATE_FILE), "wb") as handle:
            pickle.dump(self.model, handle)

    @classmethod
    def load(cls, path: str, metadata: Mapping[str, Any]) -> StatsForecastModel:
        """Rebuild the model saved at ``path``.

        Raises
        ------
        RuntimeError
            When MLflow's switch ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` is off.
        """
        _mlflow.check_unpickle_allowed(path)
        model = _mlflow.restore_base(cls, metadata)
        with open(os.path.join(path, _STATE_FILE), "rb") as handle:
            model.model = pickle.load(handle)
        return model


def _check_annotation(model_name: str, field: str, value: Any, annotation: Any) -> None:
    """Check ``value`` against a constructor annotation of simple types.

    ``int``, ``float``, ``bool`` and ``str``, alone or optional, are checked;
    other annotations are left to the class itself.
    """
    allowed = [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        allowed = list(typing.get_args(annotation))
    checks = {
        int: _validation.is_int,
        float: _validation.is_number,
        bool: lambda item: isinstance(item, bool),
        str: lambda item: isinstance(item, str),
        type(None): lambda item: item is None,
    }
    if not all(kind in checks for kind in allowed):
        return
    if any(checks[kind](value) for kind in allowed):
        return
    names = {
        int: "an integer",
        float: "a number",
        bool: "true or false",
        str: "a string",
        type(None): "null",
    }
    expected = " or ".join(names[kind] for kind in allowed)
    example = {int: "7", float: "0.5", bool: "true", str: '"ZZZ"'}.get(allowed[0], "")
    raise _validation.type_error(model_name, field, value, expected, example)
