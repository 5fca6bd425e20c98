"""Security: nothing from configuration or data runs, names stay in place, and
credentials never reach a log line, a tag, an outcome or an artifact.
"""

from __future__ import annotations

import ast
import datetime as dt
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _udf import key_rows, udf_arguments
from mlflow.tracking import MlflowClient

import kronos
from kronos import registry, tracking
from kronos.forecast_udf import forecast_udf_gen

pytestmark = pytest.mark.integration

PACKAGE = Path(kronos.__file__).parent
DAY = dt.date(2024, 3, 1)
PASSWORD = "s3cr3t-Pa55"
TOKEN = "tok-9f8e7d6c5b4a"

# Calls that run text as code or import a module named by a value.
CODE_RUNNERS = {
    "eval",
    "exec",
    "compile",
    "__import__",
    "import_module",
    "importlib.import_module",
    "importlib.__import__",
    "builtins.eval",
    "builtins.exec",
    "builtins.compile",
    "builtins.__import__",
    "runpy.run_path",
    "runpy.run_module",
}


def dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return "?"


def called_names(tree: ast.AST) -> list[tuple[str, int]]:
    return [
        (dotted(node.func), node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    ]


def test_the_package_never_runs_text_as_code_or_imports_by_name():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [
            f"{path.relative_to(PACKAGE)}:{line} {name}"
            for name, line in called_names(tree)
            if name in CODE_RUNNERS
        ]
    assert found == []


def test_only_model_loading_unpickles():
    # Registered models are pickled objects: unpickling is confined to the
    # model flavors, which load them from the registry (the trust boundary).
    unpicklers = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(name in ("load", "loads") for name, _ in _pickle_calls(tree)):
            unpicklers.add(path.relative_to(PACKAGE).parts[0])
    assert unpicklers <= {"models"}


def _pickle_calls(tree: ast.AST) -> list[tuple[str, int]]:
    calls = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("pickle", "cloudpickle", "joblib")
        ):
            calls.append((node.func.attr, node.lineno))
    return calls


def factory_arguments(client: MlflowClient, **overrides) -> dict:
    arguments = udf_arguments(
        client,
        {"naive_1": {"model_flavor": "naive"}},
        current_date=DAY,
        with_outcome=True,
        http_max_retries=0,
    )
    arguments.update(overrides)
    return arguments


def key_frame(key: str, **columns) -> pd.DataFrame:
    dates = pd.date_range(end=DAY - dt.timedelta(days=1), periods=40)
    return key_rows(key, dates, 5 + np.arange(40.0) % 7).assign(**columns)


@pytest.mark.parametrize(
    "entry",
    [
        {"model_flavor": "__import__('os').system('true')"},
        {"model_flavor": "statsforecast", "model": "__class__"},
        {"model_flavor": "sklearn", "estimator": "os.system"},
        {"model_flavor": "naive", "__init__": "print"},
    ],
)
def test_configuration_naming_code_is_refused_at_factory_time(entry):
    client = MlflowClient("http://127.0.0.1:1")
    with pytest.raises(ValueError, match="models_config"):
        forecast_udf_gen(**factory_arguments(client, models_config={"m": entry}))


def test_keys_and_model_names_from_data_are_never_run(mlflow_sqlite_server, tmp_path):
    tracking.quiet_mlflow()
    client = MlflowClient(mlflow_sqlite_server.tracking_uri)
    udf = forecast_udf_gen(
        **factory_arguments(
            client,
            experiment_name_template="security/{key}",
            model_name_template="security_{key}",
        )
    )
    sentinel = tmp_path / "ran"
    payload = f"__import__('pathlib').Path('{sentinel}').touch()"

    named_key = udf(key_frame(payload))
    named_model = udf(key_frame("plain_key", models=payload))

    assert not sentinel.exists()
    assert named_key["kronos_fallback_reason"].isna().all()
    escaped = payload.replace("/", "%2F")
    assert client.get_experiment_by_name(f"security/{escaped}") is not None
    assert (
        named_model["kronos_fallback_reason"]
        .iloc[0]
        .startswith("unusable data: unknown model name(s)")
    )


def test_credentials_reach_no_log_tag_outcome_or_artifact(
    mlflow_server_factory, monkeypatch, caplog
):
    server = mlflow_server_factory()
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    uri = f"http://alice:{PASSWORD}@127.0.0.1:{server.port}"
    client = MlflowClient(uri)
    caplog.set_level(logging.DEBUG)
    tracking.quiet_mlflow()

    udf = forecast_udf_gen(**factory_arguments(client))
    assert PASSWORD not in repr(udf.settings)
    healthy = udf(key_frame("healthy"))

    # A failure whose message carries both secrets, half-way through a key.
    def leaky_stage(self, version):
        raise RuntimeError(f"denied for {uri} with token {TOKEN}")

    with monkeypatch.context() as patch:
        patch.setattr(registry.Registry, "stage", leaky_stage)
        leaky = udf(key_frame("leaky"))
    server.stop()
    unreachable = udf(key_frame("unreachable"))
    server.start()

    assert healthy["kronos_registered_version"].iloc[0] == "1"
    assert "lifecycle failed" in leaky["kronos_fallback_reason"].iloc[0]
    assert "tracking unavailable" in unreachable["kronos_fallback_reason"].iloc[0]
    assert "***@127.0.0.1" in unreachable["kronos_fallback_reason"].iloc[0]
    outcomes = pd.concat([healthy, leaky, unreachable]).astype(str).to_csv()
    for secret in (PASSWORD, TOKEN):
        assert secret not in caplog.text
        assert secret not in outcomes
    # The store keeps every tag, parameter and artifact: none holds a secret.
    for path in server.root_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert PASSWORD.encode() not in content, path
            assert TOKEN.encode() not in content, path
    leaky_run = MlflowClient(server.tracking_uri).get_run(
        leaky["kronos_run_id"].iloc[0]
    )
    assert "***" in leaky_run.data.tags["kronos.fallback_reason"]
