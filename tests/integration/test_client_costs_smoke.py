"""The client-costs benchmark runs end to end on a few calls.

It checks the report's fields, never a timing: the benchmark measures, the
tests check that it still works.
"""

from __future__ import annotations

import pytest
from _benchmarks import run_benchmark

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    arguments = ["--requests", "3", "--reads", "3", "--blocks", "2"]
    workdir = tmp_path_factory.mktemp("client_costs")
    return run_benchmark("client_costs.py", arguments, workdir, timeout=300)


def test_both_ways_of_each_cost_are_reported_as_positive_numbers(report):
    figures = {
        (cost, way): value
        for cost in ("request_cpu_ms", "mlmodel_read_cpu_ms")
        for way, value in report[cost].items()
    }

    assert sorted(figures) == [
        ("mlmodel_read_cpu_ms", "kronos read_metadata"),
        ("mlmodel_read_cpu_ms", "mlflow Model.load"),
        ("request_cpu_ms", "runtime probed"),
        ("request_cpu_ms", "runtime recorded absent"),
    ]
    assert all(value > 0 for value in figures.values()), figures


def test_the_report_names_its_server_and_its_sample_sizes(report):
    assert "127.0.0.1" in report["server"]
    assert (report["blocks"], report["requests_per_block"]) == (2, 3)
    assert report["reads_per_block"] == 3
