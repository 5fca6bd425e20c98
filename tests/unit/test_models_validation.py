"""Checking models_config entries, building models and the shared helpers."""

from __future__ import annotations

import importlib.metadata

import mlflow.pyfunc
import pandas as pd
import pytest

from kronos import __version__
from kronos.models import (
    FLAVORS,
    EnsembleModel,
    ModelConfigError,
    build_model,
    load_model,
    pip_requirements,
    validate_model_entry,
)
from kronos.models.naive import NaiveModel
from kronos.models.sklearn import default_calendar_features

VALID_ENTRIES = [
    {"model_flavor": "naive"},
    {"model_flavor": "seasonal_naive"},
    {"model_flavor": "seasonal_naive", "season_length": 12},
    {"model_flavor": "prophet"},
    {
        "model_flavor": "prophet",
        "growth": "logistic",
        "cap": 100.0,
        "floor": 0,
        "changepoint_prior_scale": 0.1,
        "seasonality_mode": "multiplicative",
        "yearly_seasonality": 10,
        "weekly_seasonality": "auto",
        "daily_seasonality": False,
        "interval_width": 0.9,
        "n_changepoints": 10,
        "country_holidays": "US",
        "changepoints": ["2024-02-01"],
        "holidays": [{"holiday": "launch", "ds": "2024-03-01"}],
    },
    {"model_flavor": "pmdarima"},
    {
        "model_flavor": "pmdarima",
        "m": 7,
        "seasonal": True,
        "max_p": 3,
        "d": None,
        "information_criterion": "bic",
        "stepwise": True,
        "trend": None,
    },
    {"model_flavor": "statsforecast", "model": "AutoETS", "model_spec": "ZZZ"},
    {"model_flavor": "statsforecast", "model": "AutoARIMA", "season_length": 7},
    {"model_flavor": "statsforecast", "model": "TSB", "alpha_d": 0.1, "alpha_p": 0.2},
    {"model_flavor": "statsforecast", "model": "AutoETS", "damped": None},
    {"model_flavor": "sklearn", "estimator": "Ridge", "alpha": 0.5},
    {
        "model_flavor": "sklearn",
        "estimator": "RandomForestRegressor",
        "lags": [1, 7, 14],
        "calendar_features": ["dayofweek", "weekofyear"],
        "n_estimators": 20,
    },
    {"model_flavor": "sklearn", "estimator": "LinearRegression", "lags": 3},
    {"model_flavor": "ensemble", "members": ["a", "b"]},
    {"model_flavor": "ensemble", "k": 3, "method": "median"},
]


@pytest.mark.parametrize("entry", VALID_ENTRIES)
def test_valid_entries_pass(entry):
    validate_model_entry("m1", entry)


INVALID_ENTRIES = [
    # the entry itself
    ("not a mapping", "must be a mapping with 'model_flavor'"),
    ({"season_length": 7}, r"models_config\['m1'\] has no 'model_flavor'; add one"),
    (
        {"model_flavor": "arima"},
        r"'model_flavor' 'arima' is not a known flavor; use one of naive, "
        "seasonal_naive, prophet",
    ),
    ({"model_flavor": 3}, "'model_flavor' 3 is not a known flavor"),
    # naive and seasonal naive
    (
        {"model_flavor": "naive", "season_length": 7},
        "unknown parameter 'season_length' for model_flavor 'naive'; "
        "accepted parameters: none",
    ),
    (
        {"model_flavor": "seasonal_naive", "season_length": 0},
        r"'season_length' must be an integer >= 1, got 0 \(int\)",
    ),
    (
        {"model_flavor": "seasonal_naive", "season_length": True},
        r"'season_length' must be an integer >= 1, got True \(bool\)",
    ),
    (
        {"model_flavor": "seasonal_naive", "season": 7},
        "unknown parameter 'season'.*did you mean 'season_length'",
    ),
    # prophet
    (
        {"model_flavor": "prophet", "changepoint_prior": 0.1},
        "did you mean 'changepoint_prior_scale'.*accepted parameters: .*cap, "
        "changepoint_prior_scale",
    ),
    (
        {"model_flavor": "prophet", "changepoint_prior_scale": "big"},
        r"'changepoint_prior_scale' must be a number > 0, got 'big' \(str\)",
    ),
    (
        {"model_flavor": "prophet", "seasonality_mode": "mult"},
        "'seasonality_mode' must be one of 'additive', 'multiplicative', got 'mult'",
    ),
    (
        {"model_flavor": "prophet", "growth": "exponential"},
        "'growth' must be one of 'linear', 'logistic', 'flat'",
    ),
    (
        {"model_flavor": "prophet", "weekly_seasonality": "yes"},
        "'weekly_seasonality' must be true, false, 'auto' or a Fourier order",
    ),
    (
        {"model_flavor": "prophet", "interval_width": 1.5},
        "'interval_width' must be a number strictly between 0 and 1, got 1.5",
    ),
    (
        {"model_flavor": "prophet", "n_changepoints": 2.5},
        r"'n_changepoints' must be an integer >= 0, got 2.5 \(float\)",
    ),
    (
        {"model_flavor": "prophet", "cap": 10.0},
        "'cap' is only used with growth 'logistic', got growth 'linear'",
    ),
    (
        {"model_flavor": "prophet", "growth": "logistic"},
        "growth 'logistic' needs 'cap'",
    ),
    (
        {"model_flavor": "prophet", "growth": "logistic", "cap": 5, "floor": 5},
        "'floor' must be below 'cap', got floor 5 and cap 5",
    ),
    (
        {"model_flavor": "prophet", "country_holidays": "Atlantis"},
        "'country_holidays' got 'Atlantis', which is not a country code",
    ),
    (
        {"model_flavor": "prophet", "holidays": [{"ds": "2024-01-01"}]},
        "'holidays' must be records with a 'holiday' name and a 'ds' date",
    ),
    # pmdarima
    (
        {"model_flavor": "pmdarima", "p": 1},
        "unknown parameter 'p' for model_flavor 'pmdarima'",
    ),
    (
        {"model_flavor": "pmdarima", "return_valid_fits": True},
        "unknown parameter 'return_valid_fits'",
    ),
    (
        {"model_flavor": "pmdarima", "m": "7"},
        r"'m' must be an integer >= 1, got '7' \(str\)",
    ),
    (
        {"model_flavor": "pmdarima", "seasonal": "yes"},
        "'seasonal' must be true or false, got 'yes'",
    ),
    (
        {"model_flavor": "pmdarima", "information_criterion": "mse"},
        "'information_criterion' must be one of 'aic', 'aicc', 'bic'",
    ),
    (
        {"model_flavor": "pmdarima", "max_p": 1},
        r"'start_p' \(2\) exceeds 'max_p' \(1\); lower 'start_p' or raise 'max_p'",
    ),
    # statsforecast
    (
        {"model_flavor": "statsforecast"},
        "statsforecast entries need 'model', one of AutoARIMA, AutoETS",
    ),
    (
        {"model_flavor": "statsforecast", "model": "Prophet"},
        "'model' must be one of 'AutoARIMA'.*got 'Prophet'",
    ),
    (
        {"model_flavor": "statsforecast", "model": "AutoETS", "order": 2},
        r"unknown parameter 'order' for model_flavor 'statsforecast' \(model "
        "'AutoETS'\\).*accepted parameters: alias, damped, distribution, model_spec",
    ),
    (
        {"model_flavor": "statsforecast", "model": "AutoETS", "season_length": "7"},
        r"'season_length' must be an integer, got '7' \(str\)",
    ),
    (
        {"model_flavor": "statsforecast", "model": "AutoETS", "season_length": 0},
        "'season_length' must be an integer >= 1, got 0",
    ),
    (
        {"model_flavor": "statsforecast", "model": "AutoETS", "damped": "yes"},
        "'damped' must be true or false or null, got 'yes'",
    ),
    (
        {"model_flavor": "statsforecast", "model": "TSB", "alpha_d": 0.1},
        r"statsforecast model 'TSB' needs \['alpha_p'\]",
    ),
    (
        {
            "model_flavor": "statsforecast",
            "model": "AutoARIMA",
            "prediction_intervals": {"h": 7},
        },
        "'prediction_intervals' is not accepted: conformal intervals",
    ),
    # sklearn
    (
        {"model_flavor": "sklearn"},
        "sklearn entries need 'estimator', one of Ridge, LinearRegression",
    ),
    (
        {"model_flavor": "sklearn", "estimator": "sklearn.svm.SVR"},
        "'estimator' must be one of 'Ridge', 'LinearRegression', "
        "'RandomForestRegressor', 'GradientBoostingRegressor', "
        "'HistGradientBoostingRegressor', 'ExtraTreesRegressor', "
        "got 'sklearn.svm.SVR'",
    ),
    (
        {"model_flavor": "sklearn", "estimator": "Ridge", "n_estimators": 10},
        r"unknown parameter 'n_estimators' for model_flavor 'sklearn' \(estimator "
        "'Ridge'\\).*accepted parameters: alpha, ",
    ),
    (
        {"model_flavor": "sklearn", "estimator": "Ridge", "lags": [0, 1]},
        r"'lags' must be a positive integer or a list of distinct positive",
    ),
    (
        {"model_flavor": "sklearn", "estimator": "Ridge", "lags": "7"},
        r"'lags' must be a positive integer or a list .*got '7' \(str\)",
    ),
    (
        {"model_flavor": "sklearn", "estimator": "Ridge", "lags": [1, 1]},
        "'lags' must be a positive integer or a list of distinct",
    ),
    (
        {
            "model_flavor": "sklearn",
            "estimator": "Ridge",
            "calendar_features": ["weekday"],
        },
        "'calendar_features' must be one of 'dayofweek', 'month'.*got 'weekday'",
    ),
    (
        {"model_flavor": "sklearn", "estimator": "Ridge", "alpha": "strong"},
        "an argument of Ridge is invalid: The 'alpha' parameter of Ridge",
    ),
    # ensemble
    (
        {"model_flavor": "ensemble", "members": ["a"], "k": 2},
        "an ensemble needs exactly one of 'members'",
    ),
    ({"model_flavor": "ensemble"}, "an ensemble needs exactly one of 'members'"),
    (
        {"model_flavor": "ensemble", "k": 0},
        r"'k' must be an integer >= 1, got 0 \(int\)",
    ),
    (
        {"model_flavor": "ensemble", "members": "a,b"},
        r"'members' must be a list of strings, got 'a,b' \(str\)",
    ),
    (
        {"model_flavor": "ensemble", "members": []},
        "'members' must be a non-empty list of distinct model names",
    ),
    (
        {"model_flavor": "ensemble", "members": ["m1", "a"]},
        "'members' lists the ensemble itself",
    ),
    (
        {"model_flavor": "ensemble", "k": 2, "method": "max"},
        "'method' must be one of 'mean', 'median', got 'max'",
    ),
]


@pytest.mark.parametrize(("entry", "message"), INVALID_ENTRIES)
def test_invalid_entries_are_refused_with_a_message_naming_the_fix(entry, message):
    with pytest.raises(ModelConfigError, match=message) as error:
        validate_model_entry("m1", entry)

    assert "'m1'" in str(error.value)


def test_every_flavor_is_registered():
    assert sorted(FLAVORS) == [
        "ensemble",
        "naive",
        "pmdarima",
        "prophet",
        "seasonal_naive",
        "sklearn",
        "statsforecast",
    ]
    assert all(FLAVORS[name].flavor == name for name in FLAVORS)


def test_build_model_returns_an_unfitted_model_of_the_flavor():
    model = build_model({"model_flavor": "naive"}, freq="h")

    assert isinstance(model, NaiveModel)
    assert model.freq == "h"
    assert model.params == {}
    assert model.last_date is None


def test_build_model_validates_the_entry():
    with pytest.raises(ModelConfigError, match=r"models_config\['sn'\]"):
        build_model(
            {"model_flavor": "seasonal_naive", "season_length": -1}, model_name="sn"
        )


def test_build_model_points_ensembles_to_from_members():
    with pytest.raises(ValueError, match=r"EnsembleModel.from_members"):
        build_model({"model_flavor": "ensemble", "k": 2})


MIN_LENGTHS = [
    ({"model_flavor": "naive"}, 1),
    ({"model_flavor": "seasonal_naive"}, 7),
    ({"model_flavor": "seasonal_naive", "season_length": 12}, 12),
    ({"model_flavor": "prophet"}, 2),
    ({"model_flavor": "pmdarima"}, 10),
    ({"model_flavor": "pmdarima", "m": 7}, 22),
    ({"model_flavor": "pmdarima", "m": 12, "seasonal": False}, 10),
    ({"model_flavor": "statsforecast", "model": "AutoARIMA"}, 3),
    ({"model_flavor": "statsforecast", "model": "AutoETS", "season_length": 7}, 15),
    ({"model_flavor": "statsforecast", "model": "AutoETS"}, 8),
    ({"model_flavor": "statsforecast", "model": "AutoTheta"}, 4),
    ({"model_flavor": "statsforecast", "model": "AutoCES", "season_length": 2}, 5),
    (
        {"model_flavor": "statsforecast", "model": "SeasonalNaive", "season_length": 7},
        7,
    ),
    ({"model_flavor": "statsforecast", "model": "ADIDA"}, 2),
    ({"model_flavor": "sklearn", "estimator": "Ridge"}, 17),
    ({"model_flavor": "sklearn", "estimator": "Ridge", "lags": [1, 28]}, 38),
    ({"model_flavor": "ensemble", "k": 2}, 1),
]


@pytest.mark.parametrize(("entry", "expected"), MIN_LENGTHS)
def test_min_train_length(entry, expected):
    params = {key: value for key, value in entry.items() if key != "model_flavor"}

    assert FLAVORS[entry["model_flavor"]].min_train_length(params) == expected


@pytest.mark.parametrize(
    ("freq", "expected"),
    [
        ("h", ["hour", "dayofweek"]),
        ("15min", ["hour", "dayofweek"]),
        ("D", ["dayofweek", "month"]),
        ("B", ["dayofweek", "month"]),
        ("W-SUN", ["weekofyear", "month"]),
        ("MS", ["month"]),
        ("QS", ["quarter"]),
        ("YS", []),
    ],
)
def test_default_calendar_features_follow_the_frequency(freq, expected):
    assert default_calendar_features(freq) == expected


@pytest.mark.parametrize(
    ("flavor", "package"),
    [
        ("prophet", "prophet"),
        ("pmdarima", "pmdarima"),
        ("statsforecast", "statsforecast"),
        ("sklearn", "scikit-learn"),
    ],
)
def test_pip_requirements_pin_the_installed_versions(flavor, package):
    requirements = pip_requirements(flavor)

    assert f"{package}=={importlib.metadata.version(package)}" in requirements
    assert f"pandas=={importlib.metadata.version('pandas')}" in requirements
    assert requirements[-1] == f"kronos=={__version__}"


def test_pip_requirements_of_an_ensemble_cover_its_members():
    requirements = pip_requirements("ensemble", member_flavors=["prophet", "naive"])

    assert any(line.startswith("prophet==") for line in requirements)
    assert not any(line.startswith("pmdarima==") for line in requirements)


def test_pip_requirements_refuse_an_unknown_flavor():
    with pytest.raises(ValueError, match="unknown flavor 'arima'"):
        pip_requirements("arima")


def test_load_model_refuses_a_directory_that_is_not_a_kronos_model(tmp_path):
    path = str(tmp_path / "other")
    mlflow.pyfunc.save_model(
        path,
        loader_module="kronos.models._mlflow",
        pip_requirements=["pandas"],
    )

    with pytest.raises(ValueError, match="is not a kronos model"):
        load_model(path)


def test_ensemble_from_members_refuses_mixed_frequencies():
    members = {
        "daily": build_model({"model_flavor": "naive"}, freq="D"),
        "hourly": build_model({"model_flavor": "naive"}, freq="h"),
    }

    with pytest.raises(ValueError, match="different frequencies"):
        EnsembleModel.from_members(members)


def test_ensemble_from_members_refuses_nested_ensembles():
    inner = EnsembleModel.from_members({"n": build_model({"model_flavor": "naive"})})

    with pytest.raises(ValueError, match=r"members \['inner'\] are ensembles"):
        EnsembleModel.from_members({"inner": inner})


def test_ensemble_from_members_refuses_no_member_and_unknown_methods():
    with pytest.raises(ValueError, match="at least one member"):
        EnsembleModel.from_members({})
    with pytest.raises(ValueError, match="method must be one of"):
        EnsembleModel.from_members(
            {"n": build_model({"model_flavor": "naive"})}, method="max"
        )


def test_models_do_not_accept_an_empty_date_list():
    model = build_model({"model_flavor": "naive"}).fit(
        pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=3), "y": [1.0] * 3})
    )

    with pytest.raises(ValueError, match="no dates to forecast"):
        model.predict(pd.DatetimeIndex([]))
