"""The client-costs benchmark runs end to end on a few calls.

It checks the report's fields, never a timing: the benchmark measures, the
tests check that it still works.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BENCHMARK = ROOT / "benchmarks" / "client_costs.py"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    workdir = tmp_path_factory.mktemp("client_costs")
    command = [
        sys.executable,
        str(BENCHMARK),
        "--requests",
        "3",
        "--reads",
        "3",
        "--blocks",
        "2",
    ]
    completed = subprocess.run(
        command,
        cwd=workdir,
        env={**os.environ, "TMPDIR": str(workdir)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


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
