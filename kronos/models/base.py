"""The small interface every kronos model implements.

A model only fits a history and forecasts given dates. It knows nothing of
tracking or the registry: :mod:`kronos.registry` saves it to an MLflow model
directory with :meth:`ForecastModel.save` and reads it back with
:func:`kronos.models.load_model`.

Frames exchanged with a model always have these columns:

- history: ``ds`` (``datetime64[ns]``, sorted, regular at ``freq``, no duplicates)
  and ``y`` (``float64``, finite);
- forecast: ``ds`` and ``yhat``, plus ``yhat_lower`` and ``yhat_upper`` when the
  model produces intervals and was asked for them.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Mapping
from statistics import NormalDist
from typing import Any, ClassVar

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

#: The metadata key of an MLflow model directory that names the kronos flavor.
FLAVOR_METADATA_KEY = "kronos_flavor"


class ModelConfigError(ValueError):
    """A ``models_config`` entry is malformed; the message says how to fix it."""


class ModelFitError(RuntimeError):
    """A model could not be fitted on a history; the message says why."""


class ForecastModel(abc.ABC):
    """A forecasting model for one series.

    Parameters
    ----------
    params
        The model's parameters, already checked by :meth:`validate_params`.
    freq
        The pandas frequency alias of the series (``"D"`` for daily).
    """

    #: The ``model_flavor`` value of ``models_config`` that selects this class.
    flavor: ClassVar[str]

    def __init__(self, params: Mapping[str, Any], freq: str = "D") -> None:
        self.params = dict(params)
        self.freq = freq
        self.last_date: pd.Timestamp | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(params={self.params!r}, freq={self.freq!r})"

    @classmethod
    @abc.abstractmethod
    def validate_params(cls, model_name: str, params: Mapping[str, Any]) -> None:
        """Check a ``models_config`` entry (without ``model_flavor``).

        Raises
        ------
        ModelConfigError
            Naming ``model_name``, the field, the bad value and what is accepted.
        """

    @classmethod
    def min_train_length(cls, params: Mapping[str, Any]) -> int:
        """Return the fewest training points this model can be fitted on."""
        return 1

    @abc.abstractmethod
    def fit(self, history: pd.DataFrame) -> ForecastModel:
        """Fit on ``history`` (columns ``ds``, ``y``) and return ``self``.

        Raises
        ------
        ModelFitError
            When the history is shorter than :meth:`min_train_length` or the
            underlying library fails to fit it.
        """

    @abc.abstractmethod
    def predict(
        self, dates: pd.DatetimeIndex, interval_width: float | None = None
    ) -> pd.DataFrame:
        """Forecast ``dates``, all later than the last training date.

        The dates need not start right after the history: a model forecasts
        across the gap and returns only the rows asked for, in order.
        """

    @abc.abstractmethod
    def save(self, path: str) -> None:
        """Write an MLflow model directory at ``path`` (which must not exist).

        The native MLflow flavor is used where one exists; the directory's
        metadata carries :data:`FLAVOR_METADATA_KEY`, ``freq`` and ``last_date``
        so that :func:`kronos.models.load_model` can rebuild the model.
        """

    @classmethod
    @abc.abstractmethod
    def load(cls, path: str, metadata: Mapping[str, Any]) -> ForecastModel:
        """Rebuild a fitted model from the directory written by :meth:`save`."""

    # Helpers shared by the flavors.

    def _check_history(self, history: pd.DataFrame) -> None:
        """Raise :class:`ModelFitError` when ``history`` cannot be fitted.

        Checks the ``ds`` and ``y`` columns and the length against
        :meth:`min_train_length`.
        """
        missing = [column for column in ("ds", "y") if column not in history]
        if missing:
            raise ModelFitError(
                f"{self.flavor} model: the history lacks the columns {missing}; "
                "pass a frame with 'ds' (dates) and 'y' (values)"
            )
        needed = self.min_train_length(self.params)
        if len(history) < needed:
            raise ModelFitError(
                f"{self.flavor} model: the history has {len(history)} points but "
                f"at least {needed} are needed with params {self.params}; "
                "give a longer history or choose a model that needs fewer points"
            )

    def _future_dates(self, dates: pd.DatetimeIndex) -> pd.DatetimeIndex:
        """Return every period from after the last training date to ``dates[-1]``.

        Models that forecast a number of steps ahead use it to cover a gap
        between the history and the first requested date.
        """
        if self.last_date is None:
            raise RuntimeError("the model must be fitted before it can predict")
        offset = pd.tseries.frequencies.to_offset(self.freq)
        return pd.date_range(self.last_date + offset, dates.max(), freq=self.freq)

    def _steps_ahead(self, dates: pd.DatetimeIndex) -> np.ndarray:
        """Return how many periods after the last training date each date lies.

        The first period after the history is step 1. The result has one entry
        per requested date, in the order asked.

        Raises
        ------
        ValueError
            When a date is not later than the last training date or does not
            fall on the model's frequency grid.
        """
        dates = pd.DatetimeIndex(dates)
        if len(dates) == 0:
            raise ValueError(
                f"{self.flavor} model: no dates to forecast; pass at least one date"
            )
        future = self._future_dates(dates)
        positions = future.get_indexer(dates)
        if (positions < 0).any():
            bad = dates[positions < 0][:5]
            raise ValueError(
                f"{self.flavor} model: the dates {[str(d) for d in bad]} are not "
                f"periods of frequency {self.freq!r} after the last training date "
                f"{self.last_date}; pass later dates on the same grid"
            )
        return positions + 1


def normal_quantile(interval_width: float) -> float:
    """Return the standard normal quantile bounding a central interval.

    Parameters
    ----------
    interval_width
        The probability the interval covers, in ``(0, 1)``.

    Raises
    ------
    ValueError
        When ``interval_width`` is not strictly between 0 and 1.
    """
    check_interval_width(interval_width)
    return NormalDist().inv_cdf(0.5 + interval_width / 2)


def check_interval_width(interval_width: float) -> None:
    """Raise ``ValueError`` unless ``interval_width`` is in ``(0, 1)``."""
    if isinstance(interval_width, bool) or not 0 < interval_width < 1:
        raise ValueError(
            f"interval_width must be a number strictly between 0 and 1, got "
            f"{interval_width!r}; pass for example 0.8 for an 80% interval"
        )


def forecast_frame(
    dates: pd.DatetimeIndex,
    yhat: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> pd.DataFrame:
    """Assemble the forecast frame returned by every model's ``predict``."""
    frame = pd.DataFrame(
        {
            "ds": pd.DatetimeIndex(dates).as_unit("ns"),
            "yhat": np.asarray(yhat, dtype="float64"),
        }
    )
    if lower is not None and upper is not None:
        frame["yhat_lower"] = np.asarray(lower, dtype="float64")
        frame["yhat_upper"] = np.asarray(upper, dtype="float64")
    return frame
