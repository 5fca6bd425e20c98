"""The life of every flavor: fit, forecast, intervals, save, load, pyfunc."""

from __future__ import annotations

import json

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from mlflow.models import Model

from kronos import __version__
from kronos.models import (
    FLAVOR_METADATA_KEY,
    EnsembleModel,
    ForecastModel,
    ModelFitError,
    build_model,
    load_model,
)
from kronos.models._mlflow import read_metadata

N_POINTS = 120

ENTRIES = {
    "naive": {"model_flavor": "naive"},
    "seasonal_naive": {"model_flavor": "seasonal_naive", "season_length": 7},
    "prophet": {
        "model_flavor": "prophet",
        "yearly_seasonality": False,
        "daily_seasonality": False,
        "uncertainty_samples": 300,
    },
    "pmdarima": {
        "model_flavor": "pmdarima",
        "m": 7,
        "start_p": 0,
        "start_q": 0,
        "start_P": 0,
        "start_Q": 0,
        "max_p": 1,
        "max_q": 1,
        "max_P": 1,
        "max_Q": 1,
    },
    "statsforecast": {
        "model_flavor": "statsforecast",
        "model": "AutoETS",
        "season_length": 7,
    },
    "sklearn": {"model_flavor": "sklearn", "estimator": "Ridge", "lags": [1, 7]},
}
CASES = [*ENTRIES, "ensemble"]


def make_history(n: int = N_POINTS, start: str = "2024-01-01") -> pd.DataFrame:
    """A daily series with a trend, a weekly season and noise."""
    rng = np.random.default_rng(42)
    t = np.arange(n)
    y = 50 + 0.1 * t + 5 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1, n)
    return pd.DataFrame({"ds": pd.date_range(start, periods=n, freq="D"), "y": y})


def build(case: str) -> ForecastModel:
    if case == "ensemble":
        members = {
            name: build_model(ENTRIES[name])
            for name in ("naive", "seasonal_naive", "statsforecast")
        }
        return EnsembleModel.from_members(members, "median")
    return build_model(ENTRIES[case], model_name=case)


def dates_after(model: ForecastModel, gap: int, periods: int) -> pd.DatetimeIndex:
    """``periods`` daily dates, the first ``gap`` days after the history."""
    first = model.last_date + pd.Timedelta(days=gap)
    return pd.date_range(first, periods=periods, freq="D")


@pytest.fixture(scope="module", params=CASES)
def fitted(request: pytest.FixtureRequest) -> ForecastModel:
    return build(request.param).fit(make_history())


@pytest.fixture(scope="module")
def saved(fitted: ForecastModel, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("models") / fitted.flavor)
    fitted.save(path)
    return path


def test_forecast_has_one_finite_row_per_requested_date(fitted):
    dates = dates_after(fitted, gap=1, periods=14)

    forecast = fitted.predict(dates)

    assert list(forecast.columns) == ["ds", "yhat"]
    assert forecast["ds"].tolist() == dates.tolist()
    assert forecast["ds"].dtype == "datetime64[ns]"
    assert np.isfinite(forecast["yhat"]).all()


def test_forecast_across_a_gap_returns_exactly_the_requested_dates(fitted):
    dates = dates_after(fitted, gap=10, periods=7)

    forecast = fitted.predict(dates)

    assert forecast["ds"].tolist() == dates.tolist()
    assert np.isfinite(forecast["yhat"]).all()


def test_forecast_across_a_gap_matches_the_contiguous_forecast(fitted):
    contiguous = fitted.predict(dates_after(fitted, gap=1, periods=16))
    dates = dates_after(fitted, gap=10, periods=7)

    forecast = fitted.predict(dates)

    expected = contiguous[contiguous["ds"].isin(dates)].reset_index(drop=True)
    pd.testing.assert_frame_equal(forecast, expected)


def test_forecast_keeps_the_order_of_the_requested_dates(fitted):
    dates = dates_after(fitted, gap=1, periods=5)[::-1]

    forecast = fitted.predict(dates)

    assert forecast["ds"].tolist() == dates.tolist()


def test_intervals_contain_the_forecast(fitted):
    forecast = fitted.predict(dates_after(fitted, gap=3, periods=10), 0.8)

    assert list(forecast.columns) == ["ds", "yhat", "yhat_lower", "yhat_upper"]
    assert (forecast["yhat_lower"] <= forecast["yhat"]).all()
    assert (forecast["yhat"] <= forecast["yhat_upper"]).all()


def test_intervals_widen_with_the_width(fitted):
    dates = dates_after(fitted, gap=3, periods=10)

    narrow = fitted.predict(dates, 0.5)
    wide = fitted.predict(dates, 0.95)

    assert (wide["yhat_lower"] <= narrow["yhat_lower"]).all()
    assert (wide["yhat_upper"] >= narrow["yhat_upper"]).all()
    narrow_width = (narrow["yhat_upper"] - narrow["yhat_lower"]).mean()
    assert (wide["yhat_upper"] - wide["yhat_lower"]).mean() > narrow_width


@pytest.mark.parametrize("width", [0.0, 1.0, 1.5, -0.2])
def test_an_interval_width_outside_zero_one_is_refused(fitted, width):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        fitted.predict(dates_after(fitted, gap=1, periods=3), width)


def test_dates_not_after_the_history_are_refused(fitted):
    dates = pd.DatetimeIndex([fitted.last_date])

    with pytest.raises(ValueError, match="not periods of frequency 'D'"):
        fitted.predict(dates)


def test_saved_then_loaded_model_gives_the_same_forecast(fitted, saved):
    dates = dates_after(fitted, gap=10, periods=7)

    loaded = load_model(saved)

    assert type(loaded) is type(fitted)
    assert loaded.params == fitted.params
    assert loaded.last_date == fitted.last_date
    pd.testing.assert_frame_equal(
        loaded.predict(dates, 0.8), fitted.predict(dates, 0.8), rtol=1e-9
    )


def test_saved_directory_carries_kronos_metadata_and_a_signature(fitted, saved):
    mlflow_model = Model.load(saved)

    metadata = mlflow_model.metadata
    assert metadata[FLAVOR_METADATA_KEY] == fitted.flavor
    assert metadata["freq"] == "D"
    assert pd.Timestamp(metadata["last_date"]) == fitted.last_date
    assert json.loads(metadata["params"]) == fitted.params
    assert mlflow_model.signature is not None


def test_saved_directory_pins_its_requirements(saved):
    with open(f"{saved}/requirements.txt") as handle:
        requirements = handle.read().split()

    assert f"kronos=={__version__}" in requirements
    assert all("==" in requirement for requirement in requirements)


def test_pyfunc_of_the_saved_directory_forecasts(fitted, saved):
    pyfunc = mlflow.pyfunc.load_model(saved)

    if fitted.flavor == "pmdarima":
        out = pyfunc.predict(pd.DataFrame({"n_periods": [5]}))
        expected = fitted.predict(dates_after(fitted, gap=1, periods=5))
        np.testing.assert_allclose(out["yhat"], expected["yhat"])
        return
    dates = dates_after(fitted, gap=10, periods=5)
    out = pyfunc.predict(pd.DataFrame({"ds": dates}))
    np.testing.assert_allclose(out["yhat"], fitted.predict(dates)["yhat"])
    assert out["ds"].tolist() == dates.tolist()


def test_pyfunc_returns_bounds_when_asked(fitted, saved):
    pyfunc = mlflow.pyfunc.load_model(saved)
    dates = dates_after(fitted, gap=1, periods=4)
    expected = fitted.predict(dates, 0.9)

    if fitted.flavor == "pmdarima":
        ask = pd.DataFrame(
            {"n_periods": [4], "return_conf_int": [True], "alpha": [0.1]}
        )
        out = pyfunc.predict(ask)
    elif fitted.flavor == "prophet":
        # Prophet's own pyfunc draws its intervals afresh at the configured width.
        out = pyfunc.predict(pd.DataFrame({"ds": dates}))
        assert (out["yhat_lower"] <= out["yhat"]).all()
        assert (out["yhat"] <= out["yhat_upper"]).all()
        return
    else:
        ask = pd.DataFrame({"ds": dates.strftime("%Y-%m-%d")})
        out = pyfunc.predict(ask, params={"interval_width": 0.9})
        assert out["ds"].tolist() == dates.tolist()

    for column in ("yhat", "yhat_lower", "yhat_upper"):
        np.testing.assert_allclose(out[column], expected[column], rtol=1e-9)


@pytest.mark.parametrize("case", CASES)
def test_a_history_one_point_too_short_is_refused(case):
    model = build(case)
    needed = _needed(model)

    with pytest.raises(ModelFitError, match=f"at least {needed} are needed"):
        model.fit(make_history(needed - 1))


@pytest.mark.parametrize("case", CASES)
def test_the_minimum_history_is_enough_to_forecast(case):
    model = build(case)

    model.fit(make_history(_needed(model)))

    forecast = model.predict(dates_after(model, gap=1, periods=3), 0.8)
    assert np.isfinite(forecast.drop(columns="ds").to_numpy()).all()


def test_predicting_before_fitting_is_refused():
    with pytest.raises(RuntimeError, match="must be fitted"):
        build("naive").predict(pd.date_range("2024-01-01", periods=2))


def test_saving_before_fitting_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match="fit the model before saving"):
        build("naive").save(str(tmp_path / "model"))


def _needed(model: ForecastModel) -> int:
    if isinstance(model, EnsembleModel):
        return model.required_train_length
    return model.min_train_length(model.params)


def test_metadata_is_read_as_mlflow_reads_it(saved):
    assert read_metadata(saved) == Model.load(saved).metadata


def test_a_directory_without_mlmodel_is_not_a_model(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(str(tmp_path))
