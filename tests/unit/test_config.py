"""Settings are validated when the forecasting function is built."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from _udf import udf_arguments
from mlflow.tracking import MlflowClient

from kronos import config
from kronos.forecast_udf import absolute_uri, forecast_udf_gen

GOOD_CONFIG = {"naive_1": {"model_flavor": "naive"}}


def build(tmp_path, **overrides):
    # An HTTP client connects on its first request only: nothing is started here.
    uri = "http://127.0.0.1:5999"
    arguments = udf_arguments(
        MlflowClient(uri, uri),
        json.dumps(GOOD_CONFIG),
        days_from_last_obs_col="days_from_last_obs",
        current_date="2024-03-01",
        fcst_first_date=dt.date(2024, 3, 1),
        n_test=7,
        n_unit_test=3,
        forecast_horizon=14,
    )
    arguments.update(overrides)
    return forecast_udf_gen(**arguments)


def test_factory_captures_the_client_uris(tmp_path):
    tracking = "http://127.0.0.1:5999"
    registry = f"sqlite:///{tmp_path / 'registry.db'}"
    function = build(tmp_path, client=MlflowClient(tracking, registry))
    assert function.settings.tracking_uri == tracking
    assert function.settings.registry_uri == registry
    assert function.settings.current_date == dt.date(2024, 3, 1)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("n_test", 0, "n_test=0 is invalid"),
        ("n_unit_test", -1, "n_unit_test=-1 is invalid"),
        ("forecast_horizon", 2.5, "forecast_horizon=2.5 is invalid"),
        ("current_date", "yesterday", "current_date='yesterday' is not a date"),
        ("registry_mode", "tags", "registry_mode='tags' is not accepted"),
        ("duplicates", "drop", "duplicates='drop' is not accepted"),
        ("key_col", "", "key_col='' is not a column name"),
        ("interval_width", 1.5, "interval_width=1.5 is invalid"),
        ("experiment_name_template", "/Shared/x", "must be a string containing"),
        ("competition_metrics", ["rmse", "r2"], "r2"),
        ("staging_alias", "champion", "give them different names"),
        ("freq", "fortnightly", "freq='fortnightly' is not a pandas frequency"),
    ],
)
def test_bad_settings_raise_naming_the_field_and_value(tmp_path, field, value, message):
    with pytest.raises(ValueError, match=message):
        build(tmp_path, **{field: value})


@pytest.mark.parametrize(
    ("models_config", "message"),
    [
        ("{not json", "models_config is not valid JSON"),
        ("[]", "must be a non-empty JSON object"),
        ("{}", "must be a non-empty JSON object"),
        ('{"m": 3}', r"models_config\['m'\] must be an object"),
        ('{"m": {"model_flavor": "lstm"}}', "lstm"),
        ('{"m": {"model_flavor": "prophet", "colour": 1}}', "colour"),
    ],
)
def test_bad_models_config_raises_at_factory_time(tmp_path, models_config, message):
    with pytest.raises(ValueError, match=message):
        build(tmp_path, models_config=models_config)


def test_models_config_may_be_a_dict():
    assert config.parse_models_config(GOOD_CONFIG) == GOOD_CONFIG


def test_ensemble_members_must_name_other_models():
    bad = {
        "naive_1": {"model_flavor": "naive"},
        "avg": {"model_flavor": "ensemble", "members": ["naive_1", "ghost"]},
    }
    with pytest.raises(ValueError, match="'ghost', which is not another model"):
        config.parse_models_config(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ["a", "b"]),
        ("", ["a", "b"]),
        ("b", ["b"]),
        (" a , b ", ["a", "b"]),
        (["b"], ["b"]),
        ([], ["a", "b"]),
    ],
)
def test_models_column_accepts_arrays_and_comma_separated_strings(value, expected):
    assert config.parse_models_column(value, {"a": {}, "b": {}}) == expected


def test_models_column_refuses_unknown_names():
    with pytest.raises(ValueError, match=r"unknown model name\(s\) \['c'\]"):
        config.parse_models_column("a,c", {"a": {}, "b": {}})


@pytest.mark.parametrize(
    ("uri", "expected_prefix"),
    [
        ("databricks", "databricks"),
        ("databricks-uc", "databricks-uc"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("sqlite:////abs/mlflow.db", "sqlite:////abs/mlflow.db"),
    ],
)
def test_remote_and_absolute_uris_are_kept(uri, expected_prefix):
    assert absolute_uri(uri) == expected_prefix


def test_relative_local_stores_are_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute_uri("sqlite:///mlflow.db") == f"sqlite:///{tmp_path}/mlflow.db"
    assert absolute_uri("mlruns") == f"file://{tmp_path}/mlruns"
