"""A candidate that runs over candidate_timeout_s is dropped; the key goes on."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest
from test_config import build
from test_lifecycle_steps import make_settings

from kronos import lifecycle, timeouts
from kronos.lifecycle import KeyOutcome
from kronos.models.naive import NaiveModel
from kronos.series import Series

NAIVE = {"model_flavor": "naive"}
SEASONAL = {"model_flavor": "seasonal_naive", "season_length": 7}


def make_series(n: int = 60) -> Series:
    dates = pd.date_range("2024-01-01", periods=n, freq="D")
    values = 20 + 4 * np.sin(2 * np.pi * np.arange(n) / 7)
    return Series(pd.DataFrame({"ds": dates, "y": values}), "D", dates[-1])


@pytest.fixture
def slow_naive(monkeypatch):
    """Make the naive model's fit hang until the test ends."""
    release = threading.Event()
    fit = NaiveModel.fit

    def hanging_fit(self, history):
        release.wait(30)
        return fit(self, history)

    monkeypatch.setattr(NaiveModel, "fit", hanging_fit)
    yield
    release.set()


def test_work_within_the_limit_returns_its_value():
    assert timeouts.run_within(5.0, lambda: 42, "answer") == 42


def test_work_that_fails_within_the_limit_raises_its_own_error():
    def fail():
        raise ValueError("no fit")

    with pytest.raises(ValueError, match="no fit"):
        timeouts.run_within(5.0, fail, "failing work")


def test_work_over_the_limit_is_abandoned_without_waiting_for_it():
    release = threading.Event()
    start = time.monotonic()

    with pytest.raises(timeouts.TimeLimitError, match="slow work ran over"):
        timeouts.run_within(0.1, lambda: release.wait(30), "slow work")

    assert time.monotonic() - start < 5
    release.set()


def test_without_a_limit_the_work_runs_in_the_calling_thread():
    assert timeouts.run_within(None, threading.get_ident, "here") == (
        threading.get_ident()
    )


def test_a_candidate_over_the_limit_is_dropped_with_the_reason(slow_naive):
    settings = make_settings(n_test=7, candidate_timeout_s=0.2)
    outcome = KeyOutcome(key="k")
    start = time.monotonic()

    results = lifecycle.evaluate_candidates(
        {"naive_1": NAIVE, "seasonal_1": SEASONAL}, make_series(), settings, outcome
    )

    assert time.monotonic() - start < 5
    assert list(results) == ["seasonal_1"]
    assert "ran over candidate_timeout_s=0.2 s" in outcome.dropped["naive_1"]


def test_a_winner_whose_refit_runs_over_the_limit_is_not_registered(slow_naive):
    settings = make_settings(n_test=7, candidate_timeout_s=0.2)

    with pytest.raises(timeouts.TimeLimitError, match="refit of naive_1"):
        lifecycle.refit("naive_1", {"naive_1": NAIVE}, make_series(), settings)


def test_candidates_within_the_limit_are_scored_as_without_one():
    series = make_series()
    entries = {"naive_1": NAIVE, "seasonal_1": SEASONAL}
    limited = lifecycle.evaluate_candidates(
        entries, series, make_settings(candidate_timeout_s=60.0), KeyOutcome("k")
    )
    unlimited = lifecycle.evaluate_candidates(
        entries, series, make_settings(candidate_timeout_s=None), KeyOutcome("k")
    )

    for name in entries:
        np.testing.assert_allclose(
            limited[name].window_forecasts, unlimited[name].window_forecasts
        )


@pytest.mark.parametrize("value", [0, -1, float("inf"), "60", True])
def test_an_invalid_candidate_timeout_is_refused(tmp_path, value):
    with pytest.raises(ValueError, match=r"candidate_timeout_s=.* is invalid"):
        build(tmp_path, candidate_timeout_s=value)


@pytest.mark.parametrize(("value", "expected"), [(None, None), (30, 30.0), (0.5, 0.5)])
def test_a_candidate_timeout_is_seconds_or_none(tmp_path, value, expected):
    settings = build(tmp_path, candidate_timeout_s=value).settings

    assert settings.candidate_timeout_s == expected


def test_the_default_candidate_timeout_bounds_every_key(tmp_path):
    assert build(tmp_path).settings.candidate_timeout_s == 600.0
