"""The retry policy kronos gives MLflow's requests while it runs a key."""

from __future__ import annotations

import datetime as dt
import os
import socket

import pandas as pd
import pytest
from _udf import key_rows, udf_arguments
from mlflow.environment_variables import (
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR,
    MLFLOW_HTTP_REQUEST_MAX_RETRIES,
    MLFLOW_HTTP_REQUEST_TIMEOUT,
)
from mlflow.tracking import MlflowClient

from kronos import retry
from kronos.forecast_udf import forecast_udf_gen


def test_mlflow_reads_the_policy_inside_the_block():
    with retry.http_policy(2, 0, 5):
        assert MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 2
        assert MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.get() == 0
        assert MLFLOW_HTTP_REQUEST_TIMEOUT.get() == 5


def test_the_previous_environment_comes_back_after_the_block(monkeypatch):
    monkeypatch.setenv(retry.MAX_RETRIES_VARIABLE, "9")
    monkeypatch.delenv(retry.TIMEOUT_VARIABLE, raising=False)
    with retry.http_policy(1, 1, 7):
        pass
    assert MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 9
    assert retry.TIMEOUT_VARIABLE not in os.environ


def test_the_previous_environment_comes_back_after_an_error(monkeypatch):
    monkeypatch.setenv(retry.BACKOFF_FACTOR_VARIABLE, "4")
    with pytest.raises(RuntimeError), retry.http_policy(1, 1, 7):
        raise RuntimeError("boom")
    assert MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.get() == 4


@pytest.mark.parametrize(
    ("retries", "factor", "expected"),
    [(0, 1, 0.0), (1, 1, 0.0), (2, 1, 2.0 + 1), (3, 1, 6.0 + 2), (3, 2, 12.0 + 2)],
)
def test_worst_wait_follows_the_exponential_backoff(retries, factor, expected):
    assert retry.worst_wait_s(retries, factor) == expected


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_udf(uri: str, **settings):
    return forecast_udf_gen(
        **udf_arguments(
            MlflowClient(uri),
            {"naive_1": {"model_flavor": "naive"}},
            current_date=dt.date(2024, 3, 1),
            n_test=3,
            n_unit_test=2,
            forecast_horizon=4,
            with_outcome=True,
            **settings,
        )
    )


def test_a_key_facing_no_server_gets_the_naive_forecast_and_the_reason(monkeypatch):
    monkeypatch.delenv(retry.MAX_RETRIES_VARIABLE, raising=False)
    udf = make_udf(f"http://127.0.0.1:{closed_port()}", http_max_retries=0)
    frame = key_rows("k", pd.date_range("2024-02-01", "2024-02-29"), 5.0)

    result = udf(frame)

    assert len(result) == 4
    assert (result["fcst"] == 5.0).all()
    assert result["kronos_fallback_reason"].str.startswith("tracking unavailable").all()
    assert MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 7  # MLflow's own default again


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("http_max_retries", -1),
        ("http_max_retries", 11),
        ("http_max_retries", 2.5),
        ("http_backoff_factor", -1),
        ("http_backoff_factor", 121),
        ("http_timeout_s", 0),
        ("stale_run_after_s", -5),
        ("stale_run_after_s", float("nan")),
    ],
)
def test_retry_settings_are_checked_at_factory_time(field, value):
    with pytest.raises(ValueError, match=f"{field}={value!r} is invalid"):
        make_udf("http://127.0.0.1:1", **{field: value})


def test_the_settings_travel_with_the_function():
    udf = make_udf(
        "http://127.0.0.1:1",
        http_max_retries=5,
        http_backoff_factor=2,
        http_timeout_s=9,
        stale_run_after_s=0,
    )
    settings = udf.settings
    assert (settings.http_max_retries, settings.http_backoff_factor) == (5, 2)
    assert (settings.http_timeout_s, settings.stale_run_after_s) == (9, 0.0)
