"""The throughput benchmark runs end to end on a handful of keys.

It checks the report's fields and what the lifecycle did, never a timing: the
benchmark measures, the tests check that it still works.
"""

from __future__ import annotations

import pytest
from _benchmarks import run_benchmark

pytestmark = pytest.mark.integration

KEYS = 4
REQUEST_BUDGET = 15

FIELDS = (
    "keys",
    "plain_keys_per_s",
    "kronos_day1_keys_per_s",
    "kronos_day2_keys_per_s",
    "overhead_ratio_day1",
    "overhead_ratio_day2",
    "mlflow_ms_per_key",
    "mlflow_calls_per_key",
    "peak_rss_mb",
    "server",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    arguments = [
        "--keys",
        str(KEYS),
        "--points",
        "60",
        "--models",
        "naive",
        "--single-pass",
    ]
    workdir = tmp_path_factory.mktemp("throughput")
    return run_benchmark("throughput.py", arguments, workdir)


def test_the_last_line_is_a_json_report_with_every_field(report):
    missing = [name for name in FIELDS if name not in report]

    assert not missing
    assert report["keys"] == KEYS
    assert report["medians"] is False


@pytest.mark.parametrize(
    "name",
    [
        "plain_keys_per_s",
        "kronos_day1_keys_per_s",
        "kronos_day2_keys_per_s",
        "overhead_ratio_day1",
        "overhead_ratio_day2",
    ],
)
def test_speeds_and_ratios_are_positive_numbers(report, name):
    assert isinstance(report[name], float)
    assert report[name] > 0


def test_requests_and_mlflow_time_are_reported_for_both_days(report):
    for day in ("day1", "day2"):
        assert report["mlflow_calls_per_key"][day] > 0
        assert report["mlflow_ms_per_key"][day] > 0


@pytest.mark.parametrize("day", ["day1", "day2"])
def test_a_key_sends_at_most_fifteen_requests_to_the_tracking_server(report, day):
    # A count, not a timing: each request costs the server CPU shared with
    # the fits, so the budget holds the lifecycle's overhead down.
    assert report["mlflow_calls_per_key"][day] <= REQUEST_BUDGET


def test_every_key_is_registered_on_day_1_and_competes_on_day_2(report):
    day1, day2 = report["outcome"]["day1"], report["outcome"]["day2"]

    assert (day1["registered"], day1["promoted"], day1["fallbacks"]) == (KEYS, KEYS, 0)
    assert day2["fallbacks"] == 0
    assert day2["production_won"] + day2["registered"] == KEYS


def test_the_report_names_the_server_backend_and_artifact_location(report):
    server = report["server"]

    assert server["host"] == "127.0.0.1"
    assert server["backend"] == "sqlite"
    assert "--no-serve-artifacts" in server["command"]
    assert "directly" in server["artifacts"]


def test_peak_memory_covers_driver_jvm_and_workers(report):
    memory = report["peak_rss_mb"]

    for part in ("driver", "jvm", "python_workers", "total"):
        assert memory[part] > 0
