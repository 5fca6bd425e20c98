"""Concurrent jobs on one MLflow server: nothing crashes, lost or duplicated.

Four worker processes run four jobs at once over the same keys: two jobs for
one processing date (the same executions, as when a job is started twice) and
two for the next date. Afterwards each key has at most one version per
execution, no version waiting for its test, every run ended, and exactly one
production version. Run against a SQLite-backed and a PostgreSQL-backed
server.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _udf import key_rows, make_udf
from mlflow.tracking import MlflowClient

from kronos import executions
from kronos.registry import UNIT_TEST_TAG

pytestmark = pytest.mark.integration

DAY_1 = dt.date(2024, 3, 1)
DAY_2 = DAY_1 + dt.timedelta(days=1)
HORIZON = 5
KEYS = ("k0", "k1", "k2")

# A worker: waits for the start signal, then runs its job on every key, in the
# same order as the other workers so that they meet on the same key.
WORKER = textwrap.dedent(
    """
    import json
    import pickle
    import sys
    import time
    from pathlib import Path

    from kronos.forecast_udf import run_forecast

    job_file, go_file, output = sys.argv[1:]
    settings, frames = pickle.loads(Path(job_file).read_bytes())
    while not Path(go_file).exists():
        time.sleep(0.05)
    outcomes = []
    for frame in frames:
        result = run_forecast(frame, settings)
        first = result.iloc[0]
        outcomes.append(
            {
                "key": str(first["id"]),
                "rows": len(result),
                "finite": bool(result["fcst"].notna().all()),
                "fallback": first["kronos_fallback_reason"],
                "forecast_version": first["kronos_forecast_version"],
                "run_id": first["kronos_run_id"],
            }
        )
    Path(output).write_text(json.dumps(outcomes))
    """
)


def key_frame(key: str, current_date: dt.date, n: int = 70) -> pd.DataFrame:
    dates = pd.date_range(end=current_date - dt.timedelta(days=1), periods=n)
    t = np.arange(n)
    values = 30 + 5 * np.sin(2 * np.pi * t / 7) + 0.1 * t + sum(map(ord, key)) % 7
    return key_rows(key, dates, values)


def job_settings(client: MlflowClient, prefix: str, day: dt.date, mode: str):
    """One factory call, as one job makes it: the settings its tasks receive."""
    return make_udf(
        client,
        {
            "naive_1": {"model_flavor": "naive"},
            "weekly": {"model_flavor": "seasonal_naive", "season_length": 7},
        },
        current_date=day,
        forecast_horizon=HORIZON,
        experiment_name_template=f"{prefix}/{{key}}",
        model_name_template=f"{prefix}_{{key}}",
        registry_mode=mode,
        with_outcome=True,
    ).settings


def run_workers(client: MlflowClient, prefix: str, mode: str, folder: Path) -> list:
    """Start four workers at once: two jobs of day 1, two jobs of day 2."""
    jobs = [DAY_1, DAY_1, DAY_2, DAY_2]
    go_file = folder / "go"
    processes = []
    for index, day in enumerate(jobs):
        settings = job_settings(client, prefix, day, mode)
        frames = [key_frame(f"{prefix}-{key}", day) for key in KEYS]
        job_file = folder / f"job_{index}.pickle"
        job_file.write_bytes(pickle.dumps((settings, frames)))
        output = folder / f"outcomes_{index}.json"
        command = [sys.executable, "-c", WORKER, str(job_file), str(go_file)]
        processes.append(
            (
                subprocess.Popen(
                    [*command, str(output)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
                output,
            )
        )
    time.sleep(1.0)  # let the interpreters start, so that they start together
    go_file.touch()
    results = []
    for process, output in processes:
        _, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, stderr[-4000:]
        results.append(json.loads(output.read_text()))
    return results


@pytest.fixture(
    scope="module",
    params=[
        ("mlflow_sqlite_server", "aliases"),
        ("mlflow_sqlite_server", "stages"),
        ("mlflow_postgres_server", "aliases"),
        ("mlflow_postgres_server", "stages"),
    ],
    ids=["sqlite-aliases", "sqlite-stages", "postgres-aliases", "postgres-stages"],
)
def concurrent_jobs(request, tmp_path_factory):
    server_fixture, mode = request.param
    server = request.getfixturevalue(server_fixture)
    client = MlflowClient(server.tracking_uri)
    prefix = f"concurrent-{uuid.uuid4().hex[:6]}"
    folder = tmp_path_factory.mktemp("concurrent")
    results = run_workers(client, prefix, mode, folder)
    return client, prefix, mode, results


def model_versions(client: MlflowClient, prefix: str, key: str) -> list:
    return list(client.search_model_versions(f"name='{prefix}_{prefix}-{key}'"))


def test_every_job_returns_every_key(concurrent_jobs):
    _, _, _, results = concurrent_jobs
    assert len(results) == 4
    for outcomes in results:
        assert [o["key"].rsplit("-", 1)[1] for o in outcomes] == list(KEYS)
        assert all(o["rows"] == HORIZON for o in outcomes)


def test_every_forecast_comes_from_a_model_or_says_why_not(concurrent_jobs):
    client, _, _, results = concurrent_jobs
    for outcomes in results:
        for outcome in outcomes:
            assert outcome["finite"], outcome
            if outcome["fallback"] is None:
                assert outcome["forecast_version"] is not None
                continue
            # A job that deferred to a concurrent run before anything was
            # promoted has no production model to forecast with yet.
            assert outcome["fallback"] == "no production model to predict with", outcome
            tags = client.get_run(outcome["run_id"]).data.tags
            assert executions.DEFERS_TAG in tags


def test_each_execution_registers_at_most_one_version(concurrent_jobs):
    client, prefix, _, _ = concurrent_jobs
    for key in KEYS:
        versions = model_versions(client, prefix, key)
        assert versions, key
        per_execution = Counter(v.tags[executions.EXECUTION_TAG] for v in versions)
        assert max(per_execution.values()) == 1, (key, per_execution)
        assert len(per_execution) <= 2


def test_of_two_jobs_for_one_date_only_one_trains_each_key(concurrent_jobs):
    client, prefix, _, _ = concurrent_jobs
    for key in KEYS:
        experiment = client.get_experiment_by_name(f"{prefix}/{prefix}-{key}")
        for day in (DAY_1, DAY_2):
            runs = client.search_runs(
                [experiment.experiment_id],
                f"tags.`kronos.current_date` = '{day.isoformat()}'",
            )
            trained = [
                run
                for run in runs
                if executions.REPEATS_TAG not in run.data.tags
                and executions.DEFERS_TAG not in run.data.tags
            ]
            assert len(runs) == 2
            assert len(trained) == 1, (key, day)


def test_no_version_is_left_waiting_for_its_test(concurrent_jobs):
    client, prefix, _, _ = concurrent_jobs
    for key in KEYS:
        for version in model_versions(client, prefix, key):
            result = version.tags[UNIT_TEST_TAG]
            assert result == "passed" or result.startswith("failed: "), result


def test_every_run_ended_finished(concurrent_jobs):
    client, prefix, _, _ = concurrent_jobs
    for key in KEYS:
        experiment = client.get_experiment_by_name(f"{prefix}/{prefix}-{key}")
        runs = client.search_runs([experiment.experiment_id])
        assert len(runs) == 4
        assert {run.info.status for run in runs} == {"FINISHED"}


def test_exactly_one_tested_production_version_per_key(concurrent_jobs):
    client, prefix, mode, _ = concurrent_jobs
    for key in KEYS:
        versions = model_versions(client, prefix, key)
        name = f"{prefix}_{prefix}-{key}"
        if mode == "aliases":
            aliases = client.get_registered_model(name).aliases
            production = [v for v in versions if v.version == aliases["champion"]]
        else:
            production = [v for v in versions if v.current_stage == "Production"]
        assert len(production) == 1, (key, [v.version for v in production])
        assert production[0].tags[UNIT_TEST_TAG] == "passed"
