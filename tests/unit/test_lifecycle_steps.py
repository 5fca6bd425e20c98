"""The lifecycle's steps on plain pandas, without Spark or MLflow."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from kronos import config, lifecycle
from kronos.models import build_model
from kronos.series import Series

COLUMNS = config.Columns(
    key="id",
    date="date",
    metric="value",
    quality="quality",
    action="action",
    models="models",
    fcst="fcst",
    dt_creation="dt_creation",
    dt_reference="dt_reference",
    days_from_last_obs="days_from_last_obs",
    fcst_lower="fcst_lower",
    fcst_upper="fcst_upper",
)
MODELS = {
    "naive_1": {"model_flavor": "naive"},
    "seasonal_1": {"model_flavor": "seasonal_naive", "season_length": 7},
}


def make_settings(**overrides) -> config.Settings:
    values = dict(
        columns=COLUMNS,
        models_config=MODELS,
        current_date=dt.date(2024, 3, 1),
        fcst_first_date=dt.date(2024, 3, 1),
        n_test=7,
        n_unit_test=5,
        forecast_horizon=10,
        tracking_uri="sqlite:////nowhere/mlflow.db",
        registry_uri="sqlite:////nowhere/mlflow.db",
        execution_timestamp="2024-03-01T02:00:00+00:00",
    )
    values.update(overrides)
    return config.Settings(**values)


def make_series(n: int = 60) -> Series:
    dates = pd.date_range(end="2024-02-29", periods=n, freq="D")
    values = 10 + 3 * np.sin(2 * np.pi * np.arange(n) / 7)
    return Series(pd.DataFrame({"ds": dates, "y": values}), "D", dates[-1])


def key_frame(**columns) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "id": "k",
            "date": pd.date_range("2024-01-01", periods=3).date,
            "value": [1.0, 2.0, 3.0],
            "quality": "good",
            "action": "competition",
            "models": "naive_1",
        }
    )
    return frame.assign(**columns)


def test_key_attributes_are_read_from_constant_columns():
    attributes = lifecycle.read_key_attributes(key_frame(), make_settings())
    assert attributes == lifecycle.KeyAttributes("good", "competition", ("naive_1",))


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"quality": ["good", "bad", "good"]}, "must hold one value per key"),
        ({"action": "forecast"}, "action 'forecast' is unknown"),
        ({"quality": "ok"}, "quality 'ok' is unknown"),
        ({"models": "ghost"}, r"unknown model name\(s\) \['ghost'\]"),
        ({"models": ["naive_1", "naive_1", "seasonal_1"]}, "is not constant"),
    ],
)
def test_inconsistent_or_unknown_attributes_are_refused(columns, message):
    with pytest.raises(lifecycle.KeyDataError, match=message):
        lifecycle.read_key_attributes(key_frame(**columns), make_settings())


def test_a_bad_key_competes_with_the_naive_model_only():
    attributes = lifecycle.KeyAttributes("bad", "competition", ("seasonal_1",))
    entries = lifecycle.candidate_entries(attributes, make_settings())
    assert entries == {"naive": {"model_flavor": "naive"}}


def test_candidates_are_scored_on_every_window_and_short_ones_dropped():
    settings = make_settings(
        models_config={
            **MODELS,
            "long_season": {"model_flavor": "seasonal_naive", "season_length": 365},
        },
        n_windows=3,
    )
    outcome = lifecycle.KeyOutcome("k")
    entries = dict(settings.models_config)
    results = lifecycle.evaluate_candidates(entries, make_series(), settings, outcome)
    assert set(results) == {"naive_1", "seasonal_1"}
    assert len(results["seasonal_1"].window_metrics) == 3
    # A pure weekly signal is forecast exactly by the weekly seasonal naive.
    assert results["seasonal_1"].mean_metrics()["rmse"] == pytest.approx(0, abs=1e-9)
    assert "365" in outcome.dropped["long_season"]


def test_an_ensemble_is_scored_from_its_members_forecasts():
    settings = make_settings(
        models_config={
            **MODELS,
            "avg": {"model_flavor": "ensemble", "members": ["naive_1", "seasonal_1"]},
        }
    )
    outcome = lifecycle.KeyOutcome("k")
    results = lifecycle.evaluate_candidates(
        dict(settings.models_config), make_series(), settings, outcome
    )
    expected = (
        results["naive_1"].window_forecasts[0]
        + results["seasonal_1"].window_forecasts[0]
    ) / 2
    np.testing.assert_allclose(results["avg"].window_forecasts[0], expected)


def test_production_keeps_its_place_on_a_tie():
    assert lifecycle.pick_winner({"a": 1.0, lifecycle.PRODUCTION: 1.0}) == "production"
    assert lifecycle.pick_winner({"a": 1.0, lifecycle.PRODUCTION: 1.2}) == "a"
    assert lifecycle.pick_winner({"a": math.inf}) is None


def test_unit_test_passes_for_a_model_that_forecasts_finite_values():
    series = make_series()
    model = build_model({"model_flavor": "naive"}).fit(series.data)
    assert lifecycle.unit_test(model, series, make_settings()) is None


class _BrokenModel:
    def predict(self, dates, interval_width=None):
        return pd.DataFrame({"ds": dates, "yhat": np.nan})


def test_unit_test_reports_non_finite_forecasts():
    failure = lifecycle.unit_test(_BrokenModel(), make_series(), make_settings())
    assert failure == "forecast has non-finite values"


class _CountingModel:
    """A naive model that counts its predictions."""

    def __init__(self, series: Series) -> None:
        self.model = build_model({"model_flavor": "naive"}).fit(series.data)
        self.requests: list[int] = []

    def predict(self, dates, interval_width=None):
        self.requests.append(len(dates))
        return self.model.predict(dates, interval_width=interval_width)


def test_the_unit_test_forecast_is_the_final_forecast():
    series = make_series()
    settings = make_settings()
    counting = _CountingModel(series)
    tested = lifecycle.TestedModel(counting)
    assert lifecycle.unit_test(tested, series, settings) is None
    forecast = lifecycle.final_forecast(tested, series, settings)
    # One prediction of the horizon's 10 dates served both.
    assert counting.requests == [10]
    assert list(forecast["ds"]) == list(pd.date_range("2024-03-01", periods=10))
    expected = counting.model.predict(pd.DatetimeIndex(forecast["ds"]))
    np.testing.assert_allclose(forecast["yhat"], expected["yhat"])


def test_a_unit_test_longer_than_the_horizon_still_serves_both():
    series = make_series()
    settings = make_settings(n_unit_test=12, forecast_horizon=4)
    counting = _CountingModel(series)
    tested = lifecycle.TestedModel(counting)
    assert lifecycle.unit_test(tested, series, settings) is None
    forecast = lifecycle.final_forecast(tested, series, settings)
    assert counting.requests == [12]
    assert len(forecast) == 4


def test_other_dates_or_widths_are_predicted_again():
    series = make_series()
    settings = make_settings()
    counting = _CountingModel(series)
    tested = lifecycle.TestedModel(counting)
    lifecycle.unit_test(tested, series, settings)
    tested.predict(pd.date_range("2024-03-01", periods=10), interval_width=0.8)
    tested.predict(pd.date_range("2024-03-02", periods=10))
    assert counting.requests == [10, 10, 10]


def test_a_broken_model_fails_its_unit_test_through_the_wrapper():
    failure = lifecycle.unit_test(
        lifecycle.TestedModel(_BrokenModel()), make_series(), make_settings()
    )
    assert failure == "forecast has non-finite values"


def test_the_final_forecast_covers_the_horizon_across_a_gap():
    series = make_series()
    settings = make_settings(fcst_first_date=dt.date(2024, 3, 20))
    model = build_model({"model_flavor": "naive"}).fit(series.data)
    forecast = lifecycle.final_forecast(model, series, settings)
    assert list(forecast["ds"]) == list(pd.date_range("2024-03-20", periods=10))


def test_output_frame_has_the_result_columns():
    series = make_series()
    forecast = lifecycle.naive_forecast(series, make_settings())
    out = lifecycle.output_frame("k", forecast, series, make_settings())
    assert list(out.columns) == [
        "id",
        "date",
        "fcst",
        "dt_creation",
        "dt_reference",
        "days_from_last_obs",
    ]
    assert out["date"].iloc[0] == dt.date(2024, 3, 1)
    assert set(out["days_from_last_obs"]) == {1}
    assert set(out["dt_creation"]) == {dt.date(2024, 3, 1)}


def test_naive_fallback_without_any_observation_is_missing_not_zero():
    forecast = lifecycle.naive_forecast(None, make_settings())
    assert len(forecast) == 10
    assert forecast["yhat"].isna().all()


def test_an_unreachable_tracking_store_gives_the_naive_forecast_with_a_reason(
    monkeypatch,
):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    settings = make_settings(
        tracking_uri="http://127.0.0.1:9", registry_uri="http://127.0.0.1:9"
    )
    frame = key_frame()
    result = lifecycle.forecast_key(frame, settings)
    assert result.outcome.fallback_reason.startswith("tracking unavailable")
    assert list(result.forecast["fcst"]) == [3.0] * 10
