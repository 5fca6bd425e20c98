"""What each flavor does beyond the common interface."""

from __future__ import annotations

import functools
import logging
import os

import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest

from kronos.models import (
    EnsembleModel,
    ModelFitError,
    build_model,
    load_model,
)
from kronos.models.statsforecast import StatsForecastModel


def make_history(n: int = 120, freq: str = "D") -> pd.DataFrame:
    rng = np.random.default_rng(7)
    t = np.arange(n)
    y = 50 + 0.1 * t + 5 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1, n)
    return pd.DataFrame(
        {"ds": pd.date_range("2024-01-01", periods=n, freq=freq), "y": y}
    )


def days_after(model, first: int, periods: int) -> pd.DatetimeIndex:
    start = model.last_date + pd.Timedelta(days=first)
    return pd.date_range(start, periods=periods, freq="D")


# naive and seasonal naive


def test_naive_repeats_the_last_value_with_intervals_growing_like_sqrt_h():
    history = make_history()
    model = build_model({"model_flavor": "naive"}).fit(history)

    forecast = model.predict(days_after(model, 1, 4), 0.8)

    assert (forecast["yhat"] == history["y"].iloc[-1]).all()
    width = forecast["yhat_upper"] - forecast["yhat_lower"]
    assert width.iloc[3] == pytest.approx(2 * width.iloc[0])


def test_seasonal_naive_repeats_the_last_season_across_a_gap():
    history = make_history()
    model = build_model({"model_flavor": "seasonal_naive", "season_length": 7})
    model.fit(history)

    forecast = model.predict(days_after(model, 10, 7))

    last_season = history["y"].iloc[-7:].to_numpy()
    expected = [last_season[(step - 1) % 7] for step in range(10, 17)]
    np.testing.assert_allclose(forecast["yhat"], expected)


def test_a_single_observation_gives_zero_width_naive_intervals():
    model = build_model({"model_flavor": "naive"}).fit(make_history(1))

    forecast = model.predict(days_after(model, 1, 2), 0.9)

    assert (forecast["yhat_lower"] == forecast["yhat_upper"]).all()


def test_kronos_models_forecast_other_frequencies():
    history = make_history(48, freq="h")
    model = build_model({"model_flavor": "naive"}, freq="h").fit(history)
    dates = pd.date_range(model.last_date + pd.Timedelta(hours=5), periods=3, freq="h")

    assert model.predict(dates)["ds"].tolist() == dates.tolist()
    with pytest.raises(ValueError, match="not periods of frequency 'h'"):
        model.predict(dates + pd.Timedelta(minutes=30))


# prophet


@pytest.fixture(scope="module")
def prophet_model():
    entry = {
        "model_flavor": "prophet",
        "yearly_seasonality": False,
        "daily_seasonality": False,
        "uncertainty_samples": 200,
    }
    return build_model(entry).fit(make_history())


def test_prophet_fit_is_silent_and_restores_logger_levels(caplog):
    stan_logger = logging.getLogger("cmdstanpy")
    level = stan_logger.level
    caplog.set_level(logging.DEBUG)

    build_model({"model_flavor": "prophet"}).fit(make_history(30))

    noisy = [
        record
        for record in caplog.records
        if record.name.startswith(("cmdstanpy", "prophet"))
        and record.levelno < logging.WARNING
    ]
    assert noisy == []
    assert stan_logger.level == level


def test_prophet_intervals_are_repeatable_and_leave_numpy_state_alone(prophet_model):
    dates = days_after(prophet_model, 1, 5)
    np.random.seed(3)
    expected_draw = np.random.rand()
    np.random.seed(3)

    first = prophet_model.predict(dates, 0.8)
    second = prophet_model.predict(dates, 0.8)

    pd.testing.assert_frame_equal(first, second)
    assert np.random.rand() == expected_draw


def test_prophet_predict_restores_its_interval_settings(prophet_model):
    prophet_model.predict(days_after(prophet_model, 1, 3), 0.95)
    prophet_model.predict(days_after(prophet_model, 1, 3))

    assert prophet_model.model.interval_width == 0.8
    assert prophet_model.model.uncertainty_samples == 200


def test_prophet_without_uncertainty_samples_returns_no_bounds():
    entry = {"model_flavor": "prophet", "uncertainty_samples": 0}
    model = build_model(entry).fit(make_history(40))

    forecast = model.predict(days_after(model, 1, 3), 0.8)

    assert list(forecast.columns) == ["ds", "yhat"]


def test_prophet_logistic_growth_uses_cap_and_floor(tmp_path):
    entry = {
        "model_flavor": "prophet",
        "growth": "logistic",
        "cap": 70.0,
        "floor": 40.0,
        "uncertainty_samples": 100,
    }
    model = build_model(entry).fit(make_history(60))
    dates = days_after(model, 200, 3)

    forecast = model.predict(dates)
    model.save(str(tmp_path / "logistic"))
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "logistic"))
    native = pyfunc.predict(pd.DataFrame({"ds": dates, "cap": 70.0, "floor": 40.0}))

    assert (forecast["yhat"] < 75).all()
    np.testing.assert_allclose(native["yhat"], forecast["yhat"])


def test_prophet_country_holidays_and_custom_holidays_are_applied():
    entry = {
        "model_flavor": "prophet",
        "country_holidays": "US",
        "holidays": [{"holiday": "launch", "ds": "2024-02-14"}],
        "uncertainty_samples": 0,
    }

    model = build_model(entry).fit(make_history(60))

    assert model.model.country_holidays == "US"
    assert "launch" in set(model.model.holidays["holiday"])


# pmdarima


@pytest.fixture(scope="module")
def arima_model():
    entry = {
        "model_flavor": "pmdarima",
        "seasonal": False,
        "max_p": 2,
        "max_q": 1,
        "start_q": 0,
    }
    return build_model(entry).fit(make_history(60))


def test_pmdarima_passes_quiet_defaults_unless_given(monkeypatch):
    import pmdarima

    seen = {}
    original = pmdarima.auto_arima

    @functools.wraps(original)
    def spy(y, **kwargs):
        seen.update(kwargs)
        return original(y, **kwargs)

    monkeypatch.setattr(pmdarima, "auto_arima", spy)
    entry = {"model_flavor": "pmdarima", "seasonal": False, "error_action": "warn"}

    build_model(entry).fit(make_history(30))

    assert seen["suppress_warnings"] is True
    assert seen["trace"] is False
    assert seen["error_action"] == "warn"


def test_pmdarima_native_pyfunc_takes_n_periods_and_intervals(arima_model, tmp_path):
    arima_model.save(str(tmp_path / "arima"))
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "arima"))

    out = pyfunc.predict(
        pd.DataFrame({"n_periods": [4], "return_conf_int": [True], "alpha": [0.2]})
    )

    expected = arima_model.predict(days_after(arima_model, 1, 4), 0.8)
    np.testing.assert_allclose(out["yhat"], expected["yhat"])
    np.testing.assert_allclose(out["yhat_lower"], expected["yhat_lower"])


def test_pmdarima_fit_failures_surface_as_model_fit_errors():
    entry = {"model_flavor": "pmdarima", "seasonal": False, "error_action": "raise"}
    history = make_history(12)
    history["y"] = np.nan

    with pytest.raises(ModelFitError, match=r"pmdarima auto_arima .* failed to fit"):
        build_model(entry).fit(history)


# statsforecast

STATSFORECAST_ENTRIES = [
    {"model": "AutoARIMA", "season_length": 7},
    {"model": "AutoETS", "season_length": 7},
    {"model": "AutoETS", "model_spec": "ANN"},
    {"model": "AutoTheta", "season_length": 7},
    {"model": "AutoCES", "season_length": 7},
    {"model": "SeasonalNaive", "season_length": 7},
    {"model": "CrostonOptimized"},
    {"model": "ADIDA"},
    {"model": "IMAPA"},
    {"model": "TSB", "alpha_d": 0.2, "alpha_p": 0.2},
]


@pytest.mark.parametrize("params", STATSFORECAST_ENTRIES, ids=str)
def test_statsforecast_models_forecast_from_their_minimum_history(params):
    model = build_model({"model_flavor": "statsforecast", **params})
    history = make_history(model.min_train_length(params))

    model.fit(history)

    forecast = model.predict(days_after(model, 10, 3))
    assert np.isfinite(forecast["yhat"]).all()


def test_statsforecast_model_spec_reaches_the_class_model_argument():
    entry = {"model_flavor": "statsforecast", "model": "AutoETS", "model_spec": "ANN"}

    model = build_model(entry).fit(make_history(40))

    assert model.model.model_["method"] == "ETS(A,N,N)"


@pytest.mark.parametrize("name", ["CrostonOptimized", "ADIDA", "IMAPA"])
def test_intermittent_demand_models_return_no_bounds(name):
    model = build_model({"model_flavor": "statsforecast", "model": name})
    model.fit(make_history(30))

    forecast = model.predict(days_after(model, 1, 3), 0.8)

    assert list(forecast.columns) == ["ds", "yhat"]


def test_statsforecast_refusals_of_tiny_series_surface_as_model_fit_errors(
    monkeypatch,
):
    monkeypatch.setattr(
        StatsForecastModel, "min_train_length", classmethod(lambda cls, params: 1)
    )
    model = build_model({"model_flavor": "statsforecast", "model": "AutoETS"})

    with pytest.raises(ModelFitError, match=r"AutoETS .* failed to fit 3 points"):
        model.fit(make_history(3))


def test_statsforecast_loading_respects_mlflow_unpickling_switch(tmp_path, monkeypatch):
    model = build_model({"model_flavor": "statsforecast", "model": "AutoETS"})
    model.fit(make_history(30)).save(str(tmp_path / "ets"))
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")

    with pytest.raises(RuntimeError, match="MLFLOW_ALLOW_PICKLE_DESERIALIZATION"):
        load_model(str(tmp_path / "ets"))


# sklearn

SKLEARN_ENTRIES = [
    {"estimator": "LinearRegression"},
    {"estimator": "RandomForestRegressor", "n_estimators": 10},
    {"estimator": "ExtraTreesRegressor", "n_estimators": 10},
    {"estimator": "GradientBoostingRegressor", "n_estimators": 20},
    {"estimator": "HistGradientBoostingRegressor", "max_iter": 20},
]


@pytest.mark.parametrize("params", SKLEARN_ENTRIES, ids=str)
def test_sklearn_estimators_forecast_and_round_trip(params, tmp_path):
    model = build_model({"model_flavor": "sklearn", **params}).fit(make_history(60))
    dates = days_after(model, 10, 3)
    path = str(tmp_path / "model")

    model.save(path)

    expected = model.predict(dates, 0.8)
    assert np.isfinite(expected.drop(columns="ds").to_numpy()).all()
    pd.testing.assert_frame_equal(load_model(path).predict(dates, 0.8), expected)


def test_sklearn_integer_lags_mean_one_to_n():
    model = build_model({"model_flavor": "sklearn", "estimator": "Ridge", "lags": 3})

    assert model.lags == [1, 2, 3]
    assert model.features == ["dayofweek", "month"]


def test_sklearn_forecast_is_recursive_over_the_gap():
    entry = {
        "model_flavor": "sklearn",
        "estimator": "Ridge",
        "lags": [1],
        "calendar_features": [],
    }
    model = build_model(entry).fit(make_history(40))
    slope = model.estimator.coef_[0]
    intercept = model.estimator.intercept_

    forecast = model.predict(days_after(model, 3, 1))

    value = model.last_values[-1]
    for _ in range(3):
        value = intercept + slope * value
    assert forecast["yhat"].iloc[0] == pytest.approx(value)


def test_sklearn_directory_holds_the_plain_estimator(tmp_path):
    entry = {"model_flavor": "sklearn", "estimator": "Ridge", "alpha": 2.0}
    model = build_model(entry).fit(make_history(40))
    model.save(str(tmp_path / "ridge"))

    estimator = mlflow.sklearn.load_model(str(tmp_path / "ridge"))

    assert type(estimator).__name__ == "Ridge"
    assert estimator.alpha == 2.0


def test_sklearn_tree_estimators_get_a_fixed_random_state():
    entry = {"model_flavor": "sklearn", "estimator": "ExtraTreesRegressor"}

    assert build_model(entry)._build().random_state == 0


# ensemble


def _members():
    return {
        "naive": build_model({"model_flavor": "naive"}),
        "seasonal": build_model({"model_flavor": "seasonal_naive"}),
        "ets": build_model({"model_flavor": "statsforecast", "model": "AutoETS"}),
    }


@pytest.mark.parametrize("method", ["mean", "median"])
def test_ensemble_combines_member_forecasts(method):
    ensemble = EnsembleModel.from_members(_members(), method).fit(make_history())
    dates = days_after(ensemble, 5, 4)

    forecast = ensemble.predict(dates, 0.8)

    combine = np.mean if method == "mean" else np.median
    for column in ("yhat", "yhat_lower", "yhat_upper"):
        stacked = np.vstack(
            [model.predict(dates, 0.8)[column] for model in ensemble.members.values()]
        )
        np.testing.assert_allclose(forecast[column], combine(stacked, axis=0))


def test_ensemble_returns_bounds_only_when_every_member_has_them():
    members = {
        **_members(),
        "croston": build_model(
            {"model_flavor": "statsforecast", "model": "CrostonOptimized"}
        ),
    }
    ensemble = EnsembleModel.from_members(members).fit(make_history())

    forecast = ensemble.predict(days_after(ensemble, 1, 3), 0.8)

    assert list(forecast.columns) == ["ds", "yhat"]


def test_ensemble_records_members_and_k_and_needs_its_longest_member():
    ensemble = EnsembleModel.from_members(_members(), "median", k=3)

    assert ensemble.params == {
        "method": "median",
        "members": ["naive", "seasonal", "ets"],
        "k": 3,
    }
    assert ensemble.required_train_length == 8


def test_ensemble_fit_failure_names_the_member():
    ensemble = EnsembleModel.from_members(_members())

    with pytest.raises(ModelFitError, match="ensemble member 'seasonal'"):
        ensemble.fit(make_history(5))


def test_ensemble_directory_holds_each_member_directory(tmp_path):
    ensemble = EnsembleModel.from_members(_members()).fit(make_history())
    path = str(tmp_path / "ensemble")

    ensemble.save(path)

    assert sorted(os.listdir(os.path.join(path, "members"))) == ["0", "1", "2"]
    member = load_model(os.path.join(path, "members", "2"))
    assert member.params == {"model": "AutoETS"}
    loaded = load_model(path)
    assert list(loaded.members) == ["naive", "seasonal", "ets"]
