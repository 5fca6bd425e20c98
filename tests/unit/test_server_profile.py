"""The server-profile script splits py-spy's samples by MLflow endpoint."""

from __future__ import annotations

import pytest
from _benchmarks import run_benchmark

HANDLERS = "mlflow/server/handlers.py"
WRAPPED = (
    f"SyncWorker.accept (gunicorn/workers/sync.py:1);"
    f"catch_mlflow_exception.<locals>.wrapper ({HANDLERS}:1);"
    f"_disable_if_artifacts_only.<locals>.wrapper ({HANDLERS}:2)"
)
RAW = "\n".join(
    [
        f"{WRAPPED};_set_registered_model_alias ({HANDLERS}:3);"
        f"_is_prompt ({HANDLERS}:4) 3",
        f"{WRAPPED};_set_registered_model_alias ({HANDLERS}:3);commit (s.py:1) 1",
        f"{WRAPPED};_create_run ({HANDLERS}:5);execute (s.py:2) 4",
        "SyncWorker.accept (gunicorn/workers/sync.py:1);write (<frozen>:1) 2",
    ]
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    workdir = tmp_path_factory.mktemp("server_profile")
    (workdir / "server.raw").write_text(RAW + "\n", encoding="utf-8")
    return run_benchmark("server_profile.py", ["server.raw"], workdir, timeout=60)


def test_each_sample_goes_to_the_endpoint_past_the_handler_decorators(report):
    assert report["samples"] == 10
    assert report["percent_by_endpoint"] == {
        "_set_registered_model_alias": 40.0,
        "_create_run": 40.0,
        "(outside the handlers)": 20.0,
    }


def test_samples_in_the_prompt_check_are_counted_apart(report):
    assert report["percent_in_prompt_check"] == 30.0
