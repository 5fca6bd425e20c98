"""Prophet, fitted by the ``prophet`` package.

``models_config`` entry: ``{"model_flavor": "prophet", ...}`` where the other
keys are arguments of ``prophet.Prophet`` (checked against the installed
version's constructor), for example ``growth``, ``changepoint_prior_scale``,
``seasonality_mode``, ``yearly_seasonality``, ``n_changepoints``,
``interval_width`` or ``uncertainty_samples``. Two arguments take a JSON form:
``changepoints`` is a list of date strings and ``holidays`` a list of records
with ``holiday`` and ``ds`` (and optionally ``lower_window``, ``upper_window``,
``prior_scale``). kronos adds three keys:

- ``country_holidays``: a country code such as ``"US"``, applied with
  ``Prophet.add_country_holidays``;
- ``cap`` and ``floor``: numbers, the saturating bounds of logistic growth
  (``growth="logistic"`` requires ``cap``; ``floor`` is optional).

The history needs at least 2 points. Intervals are Prophet's own simulated
``yhat_lower`` and ``yhat_upper`` at the width asked for, drawn from a fixed
seed so that the same model gives the same intervals; they need
``uncertainty_samples`` > 0 (the default), otherwise none are returned.

Saved with MLflow's native ``prophet`` flavor. Its pyfunc input is a frame with
a ``ds`` column of dates (plus ``cap`` and ``floor`` columns when configured);
it returns Prophet's full forecast frame, with intervals at the configured
``interval_width`` (0.8 unless set).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
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

#: Keys kronos adds to the constructor's arguments.
_EXTRA_PARAMS = ("country_holidays", "cap", "floor")

#: The seed of Prophet's interval simulation, so that intervals are repeatable.
_INTERVAL_SEED = 20240101

_CHOICES: dict[str, tuple[Any, ...]] = {
    "growth": ("linear", "logistic", "flat"),
    "seasonality_mode": ("additive", "multiplicative"),
    "holidays_mode": ("additive", "multiplicative", None),
    "scaling": ("absmax", "minmax"),
}
_POSITIVE_NUMBERS = (
    "seasonality_prior_scale",
    "holidays_prior_scale",
    "changepoint_prior_scale",
)
_COUNTS = ("n_changepoints", "mcmc_samples", "uncertainty_samples")
_SEASONALITIES = ("yearly_seasonality", "weekly_seasonality", "daily_seasonality")


@contextlib.contextmanager
def _quiet(*names: str, level: int = logging.WARNING) -> Iterator[None]:
    """Raise the level of the named loggers for this block only."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [each.level for each in loggers]
    for each in loggers:
        each.setLevel(level)
    try:
        yield
    finally:
        for each, old in zip(loggers, levels, strict=True):
            each.setLevel(old)


@functools.cache
def _prophet_class() -> type:
    """Import ``prophet.Prophet`` without its complaint about missing plotly."""
    with _quiet("prophet.plot", level=logging.CRITICAL):
        from prophet import Prophet
    return Prophet


@functools.cache
def _init_stan_logger() -> None:
    """Let cmdstanpy set up its logger now, so that it does not reset the level.

    cmdstanpy sets its logger to DEBUG the first time it uses it, which would
    undo a level raised just before the first fit.
    """
    from cmdstanpy.utils import get_logger

    get_logger()


@functools.cache
def _constructor_params() -> tuple[str, ...]:
    """Return the argument names of the installed ``Prophet`` constructor."""
    signature = inspect.signature(_prophet_class().__init__)
    return tuple(name for name in signature.parameters if name != "self")


class ProphetModel(ForecastModel):
    """Prophet with kronos's country holidays and logistic bounds."""

    flavor = "prophet"

    def __init__(self, params: Mapping[str, Any], freq: str = "D") -> None:
        super().__init__(params, freq)
        self.model: Any = None

    @classmethod
    def validate_params(cls, model_name: str, params: Mapping[str, Any]) -> None:
        """Check names against ``Prophet``'s constructor and the common types.

        Raises
        ------
        ModelConfigError
            When a name is unknown, a value has the wrong type or range, a
            country has no holidays, or ``cap``/``floor`` and ``growth``
            disagree.
        """
        accepted = (*_constructor_params(), *_EXTRA_PARAMS)
        _validation.check_known(model_name, cls.flavor, params, accepted)
        for field, value in params.items():
            _check_field(model_name, field, value)

        growth = params.get("growth", "linear")
        if growth == "logistic" and "cap" not in params:
            raise ModelConfigError(
                f"models_config[{model_name!r}]: growth 'logistic' needs 'cap', the "
                'upper bound of the series; add for example "cap": 100.0'
            )
        for bound in ("cap", "floor"):
            if bound in params and growth != "logistic":
                raise ModelConfigError(
                    f"models_config[{model_name!r}]: {bound!r} is only used with "
                    f"growth 'logistic', got growth {growth!r}; set "
                    f'"growth": "logistic" or remove {bound!r}'
                )
        if "cap" in params and params.get("floor", 0.0) >= params["cap"]:
            raise ModelConfigError(
                f"models_config[{model_name!r}]: 'floor' must be below 'cap', got "
                f"floor {params.get('floor', 0.0)!r} and cap {params['cap']!r}"
            )

    @classmethod
    def min_train_length(cls, params: Mapping[str, Any]) -> int:
        """Return 2, the fewest non-missing rows Prophet fits on."""
        return 2

    def _bounds(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Add the ``cap`` and ``floor`` columns logistic growth needs."""
        for bound in ("cap", "floor"):
            if bound in self.params:
                frame[bound] = float(self.params[bound])
        return frame

    def _build(self) -> Any:
        """Return an unfitted ``Prophet`` configured from the params."""
        kwargs = {
            key: value for key, value in self.params.items() if key not in _EXTRA_PARAMS
        }
        if "holidays" in kwargs:
            holidays = pd.DataFrame(kwargs["holidays"])
            holidays["ds"] = pd.to_datetime(holidays["ds"])
            kwargs["holidays"] = holidays
        if "changepoints" in kwargs:
            kwargs["changepoints"] = list(pd.to_datetime(kwargs["changepoints"]))
        model = _prophet_class()(**kwargs)
        if "country_holidays" in self.params:
            model.add_country_holidays(country_name=self.params["country_holidays"])
        return model

    def fit(self, history: pd.DataFrame) -> ProphetModel:
        """Fit Prophet on ``history``; Stan's progress output is silenced."""
        self._check_history(history)
        frame = self._bounds(history[["ds", "y"]].copy())
        _init_stan_logger()
        try:
            model = self._build()
            with _quiet("cmdstanpy", "prophet"):
                model.fit(frame)
        except Exception as exc:
            raise ModelFitError(
                f"prophet model with params {self.params} failed to fit "
                f"{len(frame)} points: {exc}"
            ) from exc
        self.model = model
        self.last_date = pd.Timestamp(history["ds"].iloc[-1])
        return self

    def predict(
        self, dates: pd.DatetimeIndex, interval_width: float | None = None
    ) -> pd.DataFrame:
        """Forecast ``dates``; see :meth:`ForecastModel.predict`."""
        self._steps_ahead(dates)
        if interval_width is not None:
            check_interval_width(interval_width)
        frame = self._bounds(pd.DataFrame({"ds": pd.DatetimeIndex(dates)}))

        model = self.model
        saved = (model.interval_width, model.uncertainty_samples)
        with_intervals = interval_width is not None and model.uncertainty_samples > 0
        if interval_width is not None and not with_intervals:
            logger.debug("prophet: uncertainty_samples is 0, no intervals returned")
        rng_state = np.random.get_state()
        try:
            if with_intervals:
                # Prophet computes intervals at predict time from simulated
                # futures: changing the width needs no refit. Its simulation
                # draws from NumPy's global generator, seeded here and restored
                # afterwards.
                model.interval_width = interval_width
                np.random.seed(_INTERVAL_SEED)
            else:
                model.uncertainty_samples = 0
            out = model.predict(frame)
        finally:
            model.interval_width, model.uncertainty_samples = saved
            np.random.set_state(rng_state)

        if with_intervals:
            return forecast_frame(
                dates, out["yhat"], out["yhat_lower"], out["yhat_upper"]
            )
        return forecast_frame(dates, out["yhat"])

    def save(self, path: str) -> None:
        """Write the model with MLflow's native ``prophet`` flavor."""
        import mlflow.prophet

        bounds = [bound for bound in ("cap", "floor") if bound in self.params]
        example = self._bounds(pd.DataFrame({"ds": _mlflow.next_dates(self)}))
        with _mlflow.quiet_mlflow_save():
            mlflow.prophet.save_model(
                self.model,
                path,
                signature=_mlflow.forecast_signature(bounds, with_params=False),
                input_example=example,
                metadata=_mlflow.model_metadata(self),
                pip_requirements=_mlflow.pip_requirements(self.flavor),
            )

    @classmethod
    def load(cls, path: str, metadata: Mapping[str, Any]) -> ProphetModel:
        """Rebuild the model saved at ``path``."""
        import mlflow.prophet

        _prophet_class()
        model = _mlflow.restore_base(cls, metadata)
        model.model = mlflow.prophet.load_model(path)
        return model


def _check_field(model_name: str, field: str, value: Any) -> None:
    """Check the type of one Prophet parameter; unlisted ones pass as given."""
    if field in _CHOICES:
        _validation.check_choice(model_name, field, value, _CHOICES[field])
    elif field in _POSITIVE_NUMBERS:
        _validation.check_number(model_name, field, value, positive=True)
    elif field in _COUNTS:
        _validation.check_int(model_name, field, value, minimum=0, example="25")
    elif field in _SEASONALITIES:
        if not (
            isinstance(value, bool)
            or value == "auto"
            or (_validation.is_int(value) and value >= 0)
        ):
            raise _validation.type_error(
                model_name,
                field,
                value,
                "true, false, 'auto' or a Fourier order (an integer >= 0)",
                '"auto"',
            )
    elif field == "changepoint_range":
        if not (_validation.is_number(value) and 0 < value <= 1):
            raise _validation.type_error(
                model_name, field, value, "a number in (0, 1]", "0.8"
            )
    elif field == "interval_width":
        _validation.check_number(model_name, field, value, open_unit=True)
    elif field in ("cap", "floor"):
        _validation.check_number(model_name, field, value)
    elif field == "changepoints":
        _validation.check_str_list(model_name, field, value, '["2024-01-01"]')
    elif field == "holidays":
        _check_holidays(model_name, value)
    elif field == "country_holidays":
        _check_country(model_name, value)
    elif field == "stan_backend":
        _validation.check_str(model_name, field, value, '"CMDSTANPY"')


def _check_holidays(model_name: str, value: Any) -> None:
    """Require a list of records with ``holiday`` and ``ds``."""
    example = '[{"holiday": "launch", "ds": "2024-03-01"}]'
    if not isinstance(value, list | tuple) or not value:
        raise _validation.type_error(
            model_name, "holidays", value, "a non-empty list of records", example
        )
    for record in value:
        if (
            not isinstance(record, Mapping)
            or not isinstance(record.get("holiday"), str)
            or "ds" not in record
        ):
            raise _validation.type_error(
                model_name,
                "holidays",
                record,
                "records with a 'holiday' name and a 'ds' date",
                example,
            )


def _check_country(model_name: str, value: Any) -> None:
    """Require a country code that Prophet has holidays for."""
    _validation.check_str(model_name, "country_holidays", value, '"US"')
    _prophet_class()
    from prophet.make_holidays import get_country_holidays_class

    try:
        get_country_holidays_class(value)
    except AttributeError:
        raise ModelConfigError(
            f"models_config[{model_name!r}]: 'country_holidays' got {value!r}, "
            "which is not a country code with known holidays; use an ISO 3166 "
            'code such as "US", "FR" or "DE"'
        ) from None
