"""Forecast error metrics and their scale-free combination.

Every metric takes the actual values and the forecasts of the same periods and
returns one non-negative float, smaller being better:

- ``rmse`` and ``mae`` are in the units of the series;
- ``mape`` and ``smape`` are percentages (0 to 100 and more, 0 to 200);
- ``mase`` and ``wape`` are ratios without units.

Metrics of different units are combined by :func:`combined_scores`, which
divides each candidate's value by the best candidate's value before weighting,
so that no metric counts more because its numbers are larger.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "METRICS",
    "combined_scores",
    "mae",
    "mape",
    "mase",
    "rank",
    "rmse",
    "smape",
    "validate_metric_name",
    "validate_weights",
    "wape",
]

logger = logging.getLogger(__name__)

# How far below the largest value the stand-in for a best value of exactly 0
# lies, as a fraction: the other candidates then score up to about 1e9.
_ZERO_BEST_FRACTION = 1e-9


def rmse(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    *,
    y_train: npt.ArrayLike | None = None,
    season_length: int = 1,
) -> float:
    """Return the root mean squared error, in the units of the series."""
    actual, forecast = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((actual - forecast) ** 2)))


def mae(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    *,
    y_train: npt.ArrayLike | None = None,
    season_length: int = 1,
) -> float:
    """Return the mean absolute error, in the units of the series."""
    actual, forecast = _pair(y_true, y_pred)
    return float(np.mean(np.abs(actual - forecast)))


def mape(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    *,
    y_train: npt.ArrayLike | None = None,
    season_length: int = 1,
) -> float:
    """Return the mean absolute percentage error, in percent.

    Periods whose actual value is 0 are left out, since their percentage error
    is undefined. When every actual value is 0 the result is ``inf``.
    """
    actual, forecast = _pair(y_true, y_pred)
    nonzero = actual != 0
    if not nonzero.any():
        return math.inf
    errors = np.abs(actual[nonzero] - forecast[nonzero]) / np.abs(actual[nonzero])
    return float(100.0 * np.mean(errors))


def smape(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    *,
    y_train: npt.ArrayLike | None = None,
    season_length: int = 1,
) -> float:
    """Return the symmetric mean absolute percentage error, from 0 to 200.

    Each period contributes ``2 * |y - yhat| / (|y| + |yhat|)``; a period where
    both the actual value and the forecast are 0 contributes 0.
    """
    actual, forecast = _pair(y_true, y_pred)
    errors = np.abs(actual - forecast)
    sizes = np.abs(actual) + np.abs(forecast)
    terms = np.divide(errors, sizes, out=np.zeros_like(errors), where=sizes != 0)
    return float(200.0 * np.mean(terms))


def mase(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    *,
    y_train: npt.ArrayLike | None = None,
    season_length: int = 1,
) -> float:
    """Return the mean absolute scaled error.

    The mean absolute error is divided by the mean absolute difference between
    training values ``season_length`` periods apart, which is the in-sample
    error of a seasonal naive forecast. When the training series has no more
    than ``season_length`` values, differences one period apart are used.

    When that scale is 0 (a constant training series) the result is 0 if every
    forecast is exact and ``inf`` otherwise.

    Raises
    ------
    ValueError
        When ``y_train`` is missing or has fewer than 2 values, or
        ``season_length`` is not a positive integer.
    """
    actual, forecast = _pair(y_true, y_pred)
    if y_train is None:
        raise ValueError("mase needs y_train, the training values, to set its scale")
    if isinstance(season_length, bool) or not isinstance(
        season_length, int | np.integer
    ):
        raise ValueError(
            f"season_length must be a positive integer, got {season_length!r}"
        )
    if season_length < 1:
        raise ValueError(
            f"season_length must be a positive integer, got {season_length!r}"
        )
    train = np.asarray(y_train, dtype="float64").ravel()
    if train.size < 2:
        raise ValueError(
            f"mase needs at least 2 training values to set its scale, got {train.size}"
        )

    lag = season_length if train.size > season_length else 1
    scale = float(np.mean(np.abs(train[lag:] - train[:-lag])))
    error = float(np.mean(np.abs(actual - forecast)))
    if scale == 0:
        return 0.0 if error == 0 else math.inf
    return error / scale


def wape(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    *,
    y_train: npt.ArrayLike | None = None,
    season_length: int = 1,
) -> float:
    """Return the weighted absolute percentage error, as a ratio.

    The sum of absolute errors is divided by the sum of absolute actual values:
    0.1 means errors worth a tenth of the volume. When every actual value is 0
    the result is 0 if every forecast is exact and ``inf`` otherwise.
    """
    actual, forecast = _pair(y_true, y_pred)
    error = float(np.sum(np.abs(actual - forecast)))
    volume = float(np.sum(np.abs(actual)))
    if volume == 0:
        return 0.0 if error == 0 else math.inf
    return error / volume


#: The metrics by the name used in settings.
METRICS: dict[str, Callable[..., float]] = {
    "mae": mae,
    "mape": mape,
    "mase": mase,
    "rmse": rmse,
    "smape": smape,
    "wape": wape,
}


def validate_metric_name(name: Any, field: str) -> str:
    """Return ``name`` when it names a metric of :data:`METRICS`.

    Raises
    ------
    ValueError
        Naming ``field``, the bad value and the accepted names.
    """
    if not isinstance(name, str) or name not in METRICS:
        raise ValueError(
            f"{field} must name a metric among {', '.join(sorted(METRICS))}, "
            f"got {name!r}"
        )
    return name


def validate_weights(
    metrics: Sequence[str],
    weights: Sequence[float] | Mapping[str, float] | None,
    *,
    field: str = "weights",
) -> dict[str, float]:
    """Check the weights of ``metrics`` and return them normalised to sum to 1.

    Parameters
    ----------
    metrics
        The metric names, each a key of :data:`METRICS`, without repeats.
    weights
        ``None`` for equal weights; a list with one weight per metric, in the
        order of ``metrics``; or a mapping from each metric name to its weight.
        Weights are finite, not negative, and not all 0.
    field
        The setting's name, used in error messages.

    Returns
    -------
    dict
        Each metric's weight divided by the sum of the weights.

    Raises
    ------
    ValueError
        When a metric is unknown or repeated, or a weight is missing, extra,
        not a number, negative or infinite, or all weights are 0.
    """
    names = list(metrics)
    if not names:
        raise ValueError("metrics must name at least one metric, got an empty list")
    for name in names:
        validate_metric_name(name, "metrics")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"metrics must not repeat a name, got {repeated} twice")

    if weights is None:
        raw = dict.fromkeys(names, 1.0)
    elif isinstance(weights, Mapping):
        missing = [name for name in names if name not in weights]
        extra = sorted(str(key) for key in weights if key not in names)
        if missing or extra:
            raise ValueError(
                f"{field} must have one weight for each of metrics {names}; "
                f"missing {missing}, not among metrics {extra}"
            )
        raw = {name: weights[name] for name in names}
    elif isinstance(weights, str) or not isinstance(weights, Sequence):
        raise ValueError(
            f"{field} must be a list of numbers, a mapping from metric to number "
            f"or None, got {weights!r}"
        )
    else:
        if len(weights) != len(names):
            raise ValueError(
                f"{field} must have {len(names)} weights, one for each of metrics "
                f"{names}, got {len(weights)}: {list(weights)}"
            )
        raw = dict(zip(names, weights, strict=True))

    return _normalised(raw, field)


def combined_scores(
    scores: Mapping[str, Mapping[str, float]], weights: Mapping[str, float]
) -> dict[str, float]:
    """Combine each candidate's metrics into one scale-free score, 1 being best.

    For each metric with a positive weight, every candidate's value is divided
    by the best (smallest) finite value among the candidates, so the best one
    scores 1 on it and a candidate twice as far off scores 2, whatever the
    metric's unit. The combined score is the mean of these ratios weighted by
    ``weights`` normalised to sum to 1. A candidate with a missing or infinite
    value on any weighted metric gets ``inf``.

    When the best value of a metric is exactly 0, dividing by it is impossible:
    the values are then divided by a stand-in 10⁹ times smaller than the
    largest value, after adding it to them. The exact candidates score 1 and
    the others a large finite number (up to about 10⁹), so an exact fit
    dominates that metric but the ranking stays defined. When every value is 0
    all score 1.

    Parameters
    ----------
    scores
        ``scores[candidate][metric]``: each candidate's metric values; each
        candidate needs every metric of ``weights``. NaN counts as infinite.
    weights
        The weight of each metric, finite and not negative, not all 0. Metrics
        of weight 0 are ignored.

    Returns
    -------
    dict
        Each candidate's combined score, 1 for a candidate best on every metric.

    Raises
    ------
    ValueError
        When a weight is bad, a candidate lacks a weighted metric, or a value is
        negative.
    """
    if not scores:
        return {}
    normalised = _normalised(weights, "weights")
    used = {name: weight for name, weight in normalised.items() if weight > 0}

    for candidate, values in scores.items():
        missing = [name for name in used if name not in values]
        if missing:
            raise ValueError(
                f"candidate {candidate!r} has no value for metric "
                f"{', '.join(missing)}; every candidate needs each weighted metric"
            )

    combined = dict.fromkeys(scores, 0.0)
    for name, weight in used.items():
        ratios = _ratios_to_best({c: float(v[name]) for c, v in scores.items()}, name)
        for candidate, ratio in ratios.items():
            combined[candidate] += weight * ratio
    return combined


def rank(scores: Mapping[str, float]) -> list[str]:
    """Return the candidates from best (smallest score) to worst.

    Ties are broken by name so that the order never depends on the input order;
    NaN scores rank with the infinite ones, last.
    """

    def key(candidate: str) -> tuple[bool, float, str]:
        value = float(scores[candidate])
        finite = math.isfinite(value)
        return (not finite, value if finite else 0.0, candidate)

    return sorted(scores, key=key)


def _normalised(raw: Mapping[str, Any], field: str) -> dict[str, float]:
    """Check weights and divide them by their sum."""
    if not raw:
        raise ValueError(f"{field} must weigh at least one metric, got none")
    for name, weight in raw.items():
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float | np.integer | np.floating)
            or not math.isfinite(weight)
            or weight < 0
        ):
            raise ValueError(
                f"{field} must hold finite numbers of 0 or more, got {weight!r} "
                f"for {name!r}"
            )
    total = math.fsum(float(weight) for weight in raw.values())
    if total <= 0:
        raise ValueError(f"{field} must not all be 0, got {list(raw.values())}")
    return {name: float(weight) / total for name, weight in raw.items()}


def _ratios_to_best(values: dict[str, float], metric: str) -> dict[str, float]:
    """Divide each candidate's value of one metric by the best finite value."""
    for candidate, value in values.items():
        if value < 0:
            raise ValueError(
                f"metric {metric!r} of candidate {candidate!r} is {value!r}; "
                "error metrics must not be negative"
            )
    finite = [value for value in values.values() if math.isfinite(value)]
    if not finite:
        return dict.fromkeys(values, math.inf)

    best = min(finite)
    if best > 0:
        return {
            c: v / best if math.isfinite(v) else math.inf for c, v in values.items()
        }

    largest = max(finite)
    if largest == 0:
        return {c: 1.0 if math.isfinite(v) else math.inf for c, v in values.items()}
    stand_in = largest * _ZERO_BEST_FRACTION
    logger.debug("metric %s is exactly 0 for a candidate", metric)
    return {
        c: (v + stand_in) / stand_in if math.isfinite(v) else math.inf
        for c, v in values.items()
    }


def _pair(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Return the actual values and forecasts as float arrays of one length."""
    actual = np.asarray(y_true, dtype="float64").ravel()
    forecast = np.asarray(y_pred, dtype="float64").ravel()
    if actual.size != forecast.size:
        raise ValueError(
            f"y_true and y_pred must have the same length, got {actual.size} "
            f"and {forecast.size}"
        )
    if actual.size == 0:
        raise ValueError("y_true and y_pred must hold at least one value, got none")
    return actual, forecast
