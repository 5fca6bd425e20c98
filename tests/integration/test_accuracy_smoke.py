"""The accuracy benchmark runs end to end on a few series of each subset.

It checks the report's shape and what the data must give, never an accuracy
goal: the benchmark measures, the tests check that it still works.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from _benchmarks import run_benchmark

ROOT = Path(__file__).resolve().parents[2]
SERIES = 4
SUBSETS = ("monthly", "quarterly", "yearly")
#: The baseline, the recommended configuration's members and ensemble, and
#: the competition.
METHODS = {"seasonal_naive", "snaive", "theta", "ces", "median_snc", "competition"}


@pytest.fixture(scope="module")
def report() -> dict:
    arguments = ["--subset", "all", "--limit", str(SERIES), "--processes", "1"]
    return run_benchmark("accuracy.py", arguments, ROOT, isolate_tmp=False)


def test_the_last_line_has_every_subset(report):
    assert sorted(report) == sorted(SUBSETS)


@pytest.mark.parametrize("subset", sorted(SUBSETS))
def test_each_subset_reports_the_baseline_each_member_and_the_competition(
    report, subset
):
    methods = report[subset]

    assert set(methods) == METHODS
    for errors in methods.values():
        assert math.isfinite(errors["mape"]) and errors["mape"] >= 0
        assert math.isfinite(errors["mase"]) and errors["mase"] >= 0


@pytest.mark.parametrize("subset", sorted(SUBSETS))
def test_the_seasonal_naive_member_forecasts_as_the_baseline(report, subset):
    # Two paths to the same method: the member refit alone and the baseline.
    assert report[subset]["snaive"] == report[subset]["seasonal_naive"]
