"""The lifecycle asks tracking and the registry nothing twice and refits nothing twice.

These tests use a local SQLite store, whose client makes no HTTP request: the
calls a key would send to a tracking server are counted on the client.
"""

from __future__ import annotations

import os
import sys
import types

import mlflow.utils.environment as mlflow_environment
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from test_lifecycle_steps import make_settings

from kronos import lifecycle, tracking
from kronos.lifecycle import PRODUCTION, KeyOutcome
from kronos.models import build_model, load_model
from kronos.models.seasonal_naive import SeasonalNaiveModel
from kronos.registry import PromptNameError, Registry
from kronos.series import Series

SEASONAL = {"model_flavor": "seasonal_naive", "season_length": 7}


def make_series(n: int = 60) -> Series:
    dates = pd.date_range("2024-01-01", periods=n, freq="D")
    values = 20 + 4 * np.sin(2 * np.pi * np.arange(n) / 7) + np.arange(n) * 0.1
    return Series(pd.DataFrame({"ds": dates, "y": values}), "D", dates[-1])


class Calls:
    """Count the calls of some methods of an object, letting them through."""

    def __init__(self, monkeypatch, target, *names):
        self.counts = dict.fromkeys(names, 0)
        for name in names:
            method = getattr(target, name)

            def counted(*args, _name=name, _method=method, **kwargs):
                self.counts[_name] += 1
                return _method(*args, **kwargs)

            monkeypatch.setattr(target, name, counted)


@pytest.fixture
def client(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return MlflowClient(uri, uri)


@pytest.fixture
def run_id(client, tmp_path):
    experiment = client.create_experiment("e", str(tmp_path / "artifacts"))
    run_id, _ = tracking.start_run(client, experiment, "r", {})
    return run_id


# Production with a candidate's configuration


def test_production_configured_as_a_candidate_reuses_its_window_forecasts(
    monkeypatch,
):
    series = make_series()
    settings = make_settings(n_test=7, n_windows=2)
    outcome = KeyOutcome(key="k")
    results = lifecycle.evaluate_candidates(
        {"seasonal_1": SEASONAL}, series, settings, outcome
    )
    production = build_model(SEASONAL).fit(series.data)
    fits = Calls(monkeypatch, SeasonalNaiveModel, "fit")

    scored = lifecycle.score_production(
        production, series, settings, outcome, candidates=results
    )

    assert fits.counts["fit"] == 0
    np.testing.assert_allclose(
        scored.window_forecasts, results["seasonal_1"].window_forecasts
    )
    assert "as candidate seasonal_1 was" in outcome.notes[-1]
    results[PRODUCTION] = scored
    assert lifecycle.pick_winner(lifecycle.combine_scores(results, settings)) == (
        PRODUCTION
    )


def test_production_configured_otherwise_is_retrained_on_the_windows(monkeypatch):
    series = make_series()
    settings = make_settings(n_test=7)
    outcome = KeyOutcome(key="k")
    results = lifecycle.evaluate_candidates(
        {"weekly": SEASONAL}, series, settings, outcome
    )
    production = build_model({**SEASONAL, "season_length": 14}).fit(series.data)
    fits = Calls(monkeypatch, SeasonalNaiveModel, "fit")

    lifecycle.score_production(
        production, series, settings, outcome, candidates=results
    )

    assert fits.counts["fit"] == 1
    assert outcome.notes[-1].endswith("retraining its configuration on each window")


# Artifacts of the runs a worker started


def test_artifacts_of_a_run_started_here_are_written_in_place(
    client, run_id, monkeypatch
):
    asks = Calls(monkeypatch, client, "get_run", "log_artifacts")
    model = build_model(SEASONAL).fit(make_series().data)

    tracking.write_artifacts(client, run_id, "model", model.save)

    assert asks.counts == {"get_run": 0, "log_artifacts": 0}
    folder = tracking.local_path(tracking.artifact_uri(client, run_id))
    assert load_model(os.path.join(folder, "model")).last_date == model.last_date


def test_artifacts_of_another_run_are_uploaded_where_tracking_says(
    client, tmp_path, monkeypatch
):
    experiment = client.create_experiment("other", str(tmp_path / "elsewhere"))
    run_id = client.create_run(experiment).info.run_id

    def write(folder):
        with open(os.path.join(folder, "note.txt"), "w") as handle:
            handle.write("hello")

    tracking.write_artifacts(client, run_id, "notes", write)

    assert [f.path for f in client.list_artifacts(run_id, "notes")] == [
        "notes/note.txt"
    ]


def test_the_artifact_uri_of_a_run_started_here_costs_no_request(
    client, run_id, monkeypatch
):
    asks = Calls(monkeypatch, client, "get_run")

    uri = tracking.artifact_uri(client, run_id)

    assert asks.counts["get_run"] == 0
    assert uri == client.get_run(run_id).info.artifact_uri


# The registry


def test_a_model_created_by_the_execution_is_created_once_and_not_searched(
    client, monkeypatch
):
    registry = Registry(client)
    asks = Calls(
        monkeypatch, client, "create_registered_model", "search_model_versions"
    )

    registry.ensure_model("m")
    registry.ensure_model("m")

    assert registry.untested_versions("m") == []
    assert asks.counts == {"create_registered_model": 1, "search_model_versions": 0}


def test_a_model_found_by_the_production_lookup_is_not_read_again(
    client, run_id, monkeypatch
):
    source = f"{tracking.artifact_uri(client, run_id)}/model"
    os.makedirs(tracking.local_path(source))
    client.create_registered_model("m")
    first = client.create_model_version("m", source, run_id=run_id)
    client.set_registered_model_alias("m", "champion", first.version)
    registry = Registry(client)
    asks = Calls(monkeypatch, client, "get_registered_model", "create_registered_model")

    assert registry.production_version("m").version == first.version
    second = registry.register("m", source, run_id, {})
    registry.stage(second)
    registry.tag(second, "kronos.unit_test", "passed")
    registry.promote(second)

    assert asks.counts == {"get_registered_model": 0, "create_registered_model": 0}
    aliases = client.get_registered_model("m").aliases
    assert {alias: str(version) for alias, version in aliases.items()} == {
        "champion": "2"
    }


def test_a_model_created_elsewhere_is_read_once_before_it_is_changed(
    client, run_id, monkeypatch
):
    source = f"{tracking.artifact_uri(client, run_id)}/model"
    os.makedirs(tracking.local_path(source))
    client.create_registered_model("m")
    version = client.create_model_version("m", source, run_id=run_id)
    registry = Registry(client)
    asks = Calls(monkeypatch, client._get_registry_client(), "get_registered_model")

    registry.stage(version)
    registry.tag(version, "kronos.unit_test", "passed")

    assert asks.counts["get_registered_model"] == 1


def test_a_prompt_with_the_model_name_is_never_changed(client, run_id):
    # MLflow's public client refuses to make one: its registry client does not.
    registry_client = client._get_registry_client()
    registry_client.create_registered_model(
        "m", tags={"mlflow.prompt.is_prompt": "true"}
    )
    source = f"{tracking.artifact_uri(client, run_id)}/model"
    os.makedirs(tracking.local_path(source))
    version = registry_client.create_model_version("m", source, run_id=run_id)
    registry = Registry(client)

    with pytest.raises(PromptNameError, match="'m' is the name of an MLflow prompt"):
        registry.ensure_model("m")
    with pytest.raises(PromptNameError):
        Registry(client).stage(version)


# Saving models


def test_saving_a_model_leaves_mlflow_as_it_was(tmp_path):
    check = mlflow_environment.warn_dependency_requirement_mismatches
    model = build_model(SEASONAL).fit(make_series().data)

    model.save(str(tmp_path / "model"))

    assert mlflow_environment.warn_dependency_requirement_mismatches is check
    with open(tmp_path / "model" / "requirements.txt") as handle:
        requirements = handle.read().split()
    assert any(line.startswith("mlflow==") for line in requirements)
    assert any(line.startswith("pandas==") for line in requirements)


# MLflow's Databricks checks


def test_an_absent_databricks_runtime_fails_to_import_at_once():
    saved = sys.modules.pop("dbruntime", "missing")
    tracking.mark_databricks_runtime_absent.cache_clear()
    try:
        assert tracking.mark_databricks_runtime_absent()
        with pytest.raises(ModuleNotFoundError):
            import dbruntime  # noqa: F401
    finally:
        sys.modules.pop("dbruntime", None)
        if saved != "missing":
            sys.modules["dbruntime"] = saved
        tracking.mark_databricks_runtime_absent.cache_clear()


def test_a_present_databricks_runtime_is_left_alone(monkeypatch):
    runtime = types.ModuleType("dbruntime")
    monkeypatch.setitem(sys.modules, "dbruntime", runtime)
    tracking.mark_databricks_runtime_absent.cache_clear()

    assert not tracking.mark_databricks_runtime_absent()
    assert sys.modules["dbruntime"] is runtime
    tracking.mark_databricks_runtime_absent.cache_clear()
