"""Prediction intervals: every flavor's own, and those from backtest residuals."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from test_lifecycle_steps import make_settings

from kronos import backtest, intervals, lifecycle
from kronos.models import EnsembleModel, build_model
from kronos.series import Series

WIDTHS = (0.5, 0.8, 0.95)

#: One entry per flavor whose model returns bounds of its own.
OWN_INTERVALS = {
    "naive": {"model_flavor": "naive"},
    "seasonal_naive": {"model_flavor": "seasonal_naive", "season_length": 7},
    "prophet": {"model_flavor": "prophet", "weekly_seasonality": True},
    "pmdarima": {"model_flavor": "pmdarima", "seasonal": False, "max_p": 2},
    "statsforecast": {
        "model_flavor": "statsforecast",
        "model": "AutoETS",
        "season_length": 7,
    },
    "sklearn": {"model_flavor": "sklearn", "estimator": "Ridge", "lags": 7},
}
CROSTON = {"model_flavor": "statsforecast", "model": "CrostonOptimized"}


def make_history(n: int = 84) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    t = np.arange(n)
    y = 40 + 0.2 * t + 6 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1.5, n)
    return pd.DataFrame(
        {"ds": pd.date_range("2024-01-01", periods=n, freq="D"), "y": y}
    )


def next_days(history: pd.DataFrame, periods: int = 10) -> pd.DatetimeIndex:
    start = history["ds"].iloc[-1] + pd.Timedelta(days=1)
    return pd.date_range(start, periods=periods, freq="D")


def assert_contains_and_widens(forecasts: dict[float, pd.DataFrame]) -> None:
    previous = None
    for width in sorted(forecasts):
        frame = forecasts[width]
        assert np.isfinite(frame[["yhat_lower", "yhat_upper"]].to_numpy()).all()
        assert (frame["yhat_lower"] <= frame["yhat"]).all()
        assert (frame["yhat"] <= frame["yhat_upper"]).all()
        spread = (frame["yhat_upper"] - frame["yhat_lower"]).to_numpy()
        if previous is not None:
            assert (spread >= previous).all()
            assert spread.sum() > previous.sum()
        previous = spread


@pytest.fixture(scope="module")
def fitted() -> dict[str, object]:
    history = make_history()
    models = {
        name: build_model(entry).fit(history) for name, entry in OWN_INTERVALS.items()
    }
    members = {
        "ets": build_model(OWN_INTERVALS["statsforecast"]),
        "naive": build_model(OWN_INTERVALS["naive"]),
    }
    models["ensemble"] = EnsembleModel.from_members(members).fit(history)
    return models


@pytest.mark.parametrize("flavor", [*OWN_INTERVALS, "ensemble"])
def test_each_flavor_returns_bounds_that_contain_the_forecast_and_widen(fitted, flavor):
    model = fitted[flavor]
    dates = next_days(make_history())

    forecasts = {width: model.predict(dates, width) for width in WIDTHS}

    assert_contains_and_widens(forecasts)


def test_intermittent_models_return_no_bounds_of_their_own():
    history = make_history()
    model = build_model(CROSTON).fit(history)

    forecast = model.predict(next_days(history), 0.8)

    assert "yhat_lower" not in forecast


def test_residual_bounds_contain_the_forecast_and_widen_with_the_width():
    history = make_history()
    model = build_model(CROSTON).fit(history)
    dates = next_days(history)
    windows = backtest.rolling_origin_windows(len(history), 7, 2)

    forecasts = {
        width: intervals.add_residual_bounds(
            model.predict(dates), model, history, windows, width
        )
        for width in WIDTHS
    }

    assert_contains_and_widens(forecasts)


def test_residual_bounds_widen_like_the_square_root_of_the_step():
    history = make_history()
    model = build_model(CROSTON).fit(history)
    windows = backtest.rolling_origin_windows(len(history), 7, 2)

    forecast = intervals.add_residual_bounds(
        model.predict(next_days(history, 9)), model, history, windows, 0.8
    )

    spread = (forecast["yhat_upper"] - forecast["yhat_lower"]).to_numpy()
    assert spread[3] == pytest.approx(2 * spread[0])
    assert spread[8] == pytest.approx(3 * spread[0])


def test_residual_bounds_use_the_errors_of_the_model_refit_on_each_window():
    history = make_history()
    model = build_model(CROSTON).fit(history)
    windows = backtest.rolling_origin_windows(len(history), 7, 2)

    residuals = intervals.backtest_residuals(model, history, windows)

    for window, errors in zip(windows, residuals, strict=True):
        train, test = backtest.window_frames(history, window)
        alone = build_model(CROSTON).fit(train).predict(pd.DatetimeIndex(test["ds"]))
        np.testing.assert_allclose(errors, test["y"] - alone["yhat"])
    assert model.last_date == history["ds"].iloc[-1]


def test_one_step_sigma_divides_each_error_by_the_root_of_its_step():
    errors = [np.array([1.0, -2.0, 3.0]), np.array([-1.0])]

    sigma = intervals.one_step_sigma(errors)

    scaled = np.array([1.0, -2.0 / math.sqrt(2), 3.0 / math.sqrt(3), -1.0])
    assert sigma == pytest.approx(math.sqrt(np.mean(scaled**2)))


def test_residual_bounds_are_nan_when_no_window_can_be_backtested():
    history = make_history()
    model = build_model(CROSTON).fit(history)

    forecast = intervals.add_residual_bounds(
        model.predict(next_days(history)), model, history, [], 0.8
    )

    assert forecast["yhat_lower"].isna().all()
    assert forecast["yhat_upper"].isna().all()


def test_the_final_forecast_of_a_model_without_intervals_gets_residual_bounds():
    history = make_history()
    series = Series(history, "D", history["ds"].iloc[-1])
    model = build_model(CROSTON).fit(history)
    first = (series.last_date + pd.Timedelta(days=1)).date()
    settings = make_settings(fcst_first_date=first, interval_width=0.8)

    forecast = lifecycle.final_forecast(model, series, settings)

    assert len(forecast) == settings.forecast_horizon
    assert (forecast["yhat_lower"] < forecast["yhat"]).all()
    assert (forecast["yhat"] < forecast["yhat_upper"]).all()
    wider = lifecycle.final_forecast(
        model, series, dataclasses.replace(settings, interval_width=0.95)
    )
    assert (wider["yhat_upper"] > forecast["yhat_upper"]).all()


def test_the_output_frame_carries_the_bounds_in_the_bound_columns():
    history = make_history()
    series = Series(history, "D", history["ds"].iloc[-1])
    model = build_model(OWN_INTERVALS["naive"]).fit(history)
    settings = make_settings(fcst_first_date=dt.date(2024, 3, 25), interval_width=0.8)

    forecast = lifecycle.final_forecast(model, series, settings)
    out = lifecycle.output_frame("k", forecast, series, settings)

    np.testing.assert_allclose(out["fcst_lower"], forecast["yhat_lower"], rtol=1e-6)
    np.testing.assert_allclose(out["fcst_upper"], forecast["yhat_upper"], rtol=1e-6)
    assert (out["fcst_lower"] <= out["fcst"]).all()
