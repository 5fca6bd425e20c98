"""ARIMA chosen by ``pmdarima.auto_arima``.

``models_config`` entry: ``{"model_flavor": "pmdarima", ...}`` where the other
keys are keyword arguments of ``pmdarima.auto_arima`` (checked against the
installed version's signature), for example ``m``, ``seasonal``, ``max_p``,
``max_q``, ``information_criterion`` or ``stepwise``. ``suppress_warnings=True``,
``error_action="ignore"`` and ``trace=False`` are passed unless given;
``return_valid_fits`` is refused because a model must be a single fit.

The history needs at least ``2 * m + 8`` points when the model is seasonal
(``seasonal`` true, its default, and ``m`` > 1), and 10 otherwise: the
seasonal differencing test that ``auto_arima`` runs first fails on shorter
series (it was seen failing below ``2 * m + 7`` points for ``m`` from 3 to
24). The model forecasts every period up to the last requested date and keeps
the ones asked for; intervals are pmdarima's confidence intervals
(``return_conf_int=True, alpha=1 - interval_width``).

Saved with MLflow's native ``pmdarima`` flavor. Its pyfunc input is a frame of
one row with an integer ``n_periods`` column (optionally ``return_conf_int``
and ``alpha``); it returns ``yhat`` (plus ``yhat_lower`` and ``yhat_upper``)
for the ``n_periods`` periods after the history, without dates.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
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

#: Passed to ``auto_arima`` unless the entry sets them.
_DEFAULTS = {"suppress_warnings": True, "error_action": "ignore", "trace": False}

#: Arguments of ``auto_arima`` an entry may not set: the data, and a switch that
#: makes it return a list of fits instead of one model.
_REFUSED = ("y", "X", "return_valid_fits")

_COUNTS = (
    "start_p",
    "start_q",
    "max_p",
    "max_d",
    "max_q",
    "start_P",
    "start_Q",
    "max_P",
    "max_D",
    "max_Q",
    "maxiter",
    "n_fits",
    "out_of_sample_size",
)
_OPTIONAL_COUNTS = ("d", "D", "max_order")
_BOOLS = ("seasonal", "stationary", "stepwise", "suppress_warnings", "random")
_MAPPINGS = ("sarimax_kwargs", "offset_test_args", "seasonal_test_args", "scoring_args")
_CHOICES: dict[str, tuple[Any, ...]] = {
    "information_criterion": ("aic", "aicc", "bic", "hqic", "oob"),
    "test": ("kpss", "adf", "pp"),
    "seasonal_test": ("ocsb", "ch"),
    "error_action": ("warn", "raise", "ignore", "trace"),
    "scoring": ("mse", "mae"),
    "with_intercept": ("auto", True, False),
}
_MIN_LENGTH = 10
#: Points beyond two seasons that the seasonal differencing test needs.
_SEASONAL_TEST_POINTS = 8


@functools.cache
def _auto_arima_params() -> tuple[str, ...]:
    """Return the keyword names of the installed ``auto_arima``."""
    import pmdarima

    signature = inspect.signature(pmdarima.auto_arima)
    return tuple(
        name
        for name, parameter in signature.parameters.items()
        if parameter.kind is not inspect.Parameter.VAR_KEYWORD and name not in _REFUSED
    )


@functools.cache
def _auto_arima_defaults() -> dict[str, Any]:
    """Return the default values of the installed ``auto_arima``'s keywords."""
    import pmdarima

    signature = inspect.signature(pmdarima.auto_arima)
    return {
        name: parameter.default
        for name, parameter in signature.parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }


@contextlib.contextmanager
def _quiet_single_thread() -> Iterator[None]:
    """Ignore pmdarima's warnings and run BLAS on one thread, for this block.

    The state-space fits of ``auto_arima`` multiply tiny matrices: extra BLAS
    threads only contend with each other and with the other series fitted on
    the same machine, which made a fit several times slower in measurements.
    """
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore")
        yield


def _mlflow_pmdarima() -> Any:
    """Import MLflow's ``pmdarima`` flavor without its deprecation warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import mlflow.pmdarima
    return mlflow.pmdarima


class PmdarimaModel(ForecastModel):
    """An ARIMA model selected by ``pmdarima.auto_arima``."""

    flavor = "pmdarima"

    def __init__(self, params: Mapping[str, Any], freq: str = "D") -> None:
        super().__init__(params, freq)
        self.model: Any = None

    @classmethod
    def validate_params(cls, model_name: str, params: Mapping[str, Any]) -> None:
        """Check names against ``auto_arima``'s signature and the common types.

        Raises
        ------
        ModelConfigError
            When a name is unknown or refused, or a value has the wrong type.
        """
        _validation.check_known(model_name, cls.flavor, params, _auto_arima_params())
        for field, value in params.items():
            _check_field(model_name, field, value)
        defaults = _auto_arima_defaults()
        for order in ("p", "q", "P", "Q"):
            start = params.get(f"start_{order}", defaults[f"start_{order}"])
            largest = params.get(f"max_{order}", defaults[f"max_{order}"])
            if start > largest:
                raise ModelConfigError(
                    f"models_config[{model_name!r}]: 'start_{order}' ({start}) "
                    f"exceeds 'max_{order}' ({largest}); lower 'start_{order}' or "
                    f"raise 'max_{order}'"
                )

    @classmethod
    def min_train_length(cls, params: Mapping[str, Any]) -> int:
        """Return ``2 * m + 8`` for a seasonal model, 10 otherwise."""
        m = int(params.get("m", 1))
        if params.get("seasonal", True) and m > 1:
            return max(2 * m + _SEASONAL_TEST_POINTS, _MIN_LENGTH)
        return _MIN_LENGTH

    def fit(self, history: pd.DataFrame) -> PmdarimaModel:
        """Select and fit an ARIMA model on ``history``."""
        import pmdarima

        self._check_history(history)
        kwargs = {**_DEFAULTS, **self.params}
        y = history["y"].to_numpy(dtype="float64")
        try:
            with _quiet_single_thread():
                self.model = pmdarima.auto_arima(y, **kwargs)
        except Exception as exc:
            raise ModelFitError(
                f"pmdarima auto_arima with params {self.params} failed to fit "
                f"{len(y)} points: {exc}"
            ) from exc
        logger.debug("pmdarima selected %s", self.model)
        self.last_date = pd.Timestamp(history["ds"].iloc[-1])
        return self

    def predict(
        self, dates: pd.DatetimeIndex, interval_width: float | None = None
    ) -> pd.DataFrame:
        """Forecast ``dates``; see :meth:`ForecastModel.predict`."""
        steps = self._steps_ahead(dates)
        n_periods = int(steps.max())
        picked = steps - 1
        with _quiet_single_thread():
            if interval_width is None:
                yhat = np.asarray(self.model.predict(n_periods=n_periods))
                return forecast_frame(dates, yhat[picked])
            check_interval_width(interval_width)
            yhat, bounds = self.model.predict(
                n_periods=n_periods, return_conf_int=True, alpha=1 - interval_width
            )
        yhat = np.asarray(yhat)
        bounds = np.asarray(bounds)
        return forecast_frame(dates, yhat[picked], bounds[picked, 0], bounds[picked, 1])

    def save(self, path: str) -> None:
        """Write the model with MLflow's native ``pmdarima`` flavor."""
        mlflow_pmdarima = _mlflow_pmdarima()
        with _mlflow.quiet_mlflow_save():
            mlflow_pmdarima.save_model(
                self.model,
                path,
                signature=_pyfunc_signature(),
                input_example=pd.DataFrame({"n_periods": [3]}),
                metadata=_mlflow.model_metadata(self),
                pip_requirements=_mlflow.pip_requirements(self.flavor),
            )

    @classmethod
    def load(cls, path: str, metadata: Mapping[str, Any]) -> PmdarimaModel:
        """Rebuild the model saved at ``path``."""
        model = _mlflow.restore_base(cls, metadata)
        model.model = _mlflow_pmdarima().load_model(path)
        return model


def _pyfunc_signature() -> Any:
    """Return the signature of the native ``pmdarima`` pyfunc."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    inputs = Schema(
        [
            ColSpec("long", "n_periods"),
            ColSpec("boolean", "return_conf_int", required=False),
            ColSpec("double", "alpha", required=False),
        ]
    )
    outputs = Schema(
        [
            ColSpec("double", "yhat"),
            ColSpec("double", "yhat_lower", required=False),
            ColSpec("double", "yhat_upper", required=False),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def _check_field(model_name: str, field: str, value: Any) -> None:
    """Check the type of one ``auto_arima`` argument; unlisted ones pass."""
    if field in _CHOICES:
        _validation.check_choice(model_name, field, value, _CHOICES[field])
    elif field == "m":
        _validation.check_int(model_name, field, value, minimum=1)
    elif field in _COUNTS:
        _validation.check_int(model_name, field, value, minimum=0, example="3")
    elif field in _OPTIONAL_COUNTS:
        if value is not None:
            _validation.check_int(model_name, field, value, minimum=0, example="1")
    elif field in _BOOLS:
        _validation.check_bool(model_name, field, value)
    elif field == "trace":
        if not (isinstance(value, bool) or _validation.is_int(value)):
            raise _validation.type_error(
                model_name, field, value, "true, false or a verbosity level", "false"
            )
    elif field == "alpha":
        _validation.check_number(model_name, field, value, open_unit=True)
    elif field == "n_jobs" or (field == "random_state" and value is not None):
        _validation.check_int(model_name, field, value, example="1")
    elif field == "method":
        _validation.check_str(model_name, field, value, '"lbfgs"')
    elif field == "trend" and value is not None:
        _validation.check_str(model_name, field, value, '"c"')
    elif field in _MAPPINGS:
        if value is not None and not isinstance(value, Mapping):
            raise _validation.type_error(
                model_name, field, value, "a mapping of keyword arguments", "{}"
            )
    elif (
        field == "start_params"
        and value is not None
        and not (
            isinstance(value, list | tuple)
            and all(_validation.is_number(item) for item in value)
        )
    ):
        raise _validation.type_error(
            model_name, field, value, "a list of numbers", "[0.1, 0.2]"
        )
