"""The accuracy benchmark runs end to end on a few series of each subset.

It checks the report's shape and what the data must give, never an accuracy
goal: the benchmark measures, the tests check that it still works.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARK = ROOT / "benchmarks" / "accuracy.py"
SERIES = 4
SUBSETS = ("monthly", "quarterly", "yearly")
#: The baseline, the recommended configuration's members and ensemble, and
#: the competition.
METHODS = {"seasonal_naive", "snaive", "theta", "ces", "median_snc", "competition"}


@pytest.fixture(scope="module")
def report() -> dict:
    command = [
        sys.executable,
        str(BENCHMARK),
        "--subset",
        "all",
        "--limit",
        str(SERIES),
        "--processes",
        "1",
    ]
    completed = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


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
