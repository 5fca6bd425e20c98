"""Experiments and runs: the one place that talks to MLflow Tracking.

Each key has an experiment; each execution of a key is one run named by the
execution's ISO timestamp. Parameters, metrics and tags are gathered in a
:class:`RunRecord` during the execution and sent in as few batched requests as
MLflow allows when the run ends.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

# MLflow's limits for one log_batch request, and for one value.
_MAX_PARAMS_PER_BATCH = 100
_MAX_TAGS_PER_BATCH = 100
_MAX_METRICS_PER_BATCH = 1000
_MAX_PARAM_LENGTH = 6000
_MAX_TAG_LENGTH = 5000

QUIET_ENVIRONMENT = {
    # No progress bar per artifact upload or download.
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # No "View run ... at ..." line per run on every worker.
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}


def quiet_mlflow() -> None:
    """Stop MLflow from printing links and progress bars in this process."""
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


@dataclass
class RunRecord:
    """What an execution logs on its run, sent in batches by :func:`flush`."""

    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def param(self, name: str, value: Any) -> None:
        """Record a parameter (values are stored as text)."""
        self.params[name] = str(value)[:_MAX_PARAM_LENGTH]

    def metric(self, name: str, value: float) -> None:
        """Record a metric value."""
        self.metrics[name] = float(value)

    def tag(self, name: str, value: Any) -> None:
        """Record a tag (values are stored as text)."""
        self.tags[name] = str(value)[:_MAX_TAG_LENGTH]


def get_or_create_experiment(client: MlflowClient, name: str) -> str:
    """Return the id of experiment ``name``, creating it if it does not exist.

    Two workers may race to create the same experiment: the loser of the race
    reads the winner's experiment instead of failing.
    """
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        logger.debug("experiment %s was created concurrently", name)
        return experiment.experiment_id


def start_run(
    client: MlflowClient, experiment_id: str, run_name: str, tags: dict[str, str]
) -> tuple[str, str]:
    """Start a run and return its id and artifact URI."""
    run = client.create_run(experiment_id, run_name=run_name, tags=tags)
    return run.info.run_id, run.info.artifact_uri


def flush(client: MlflowClient, run_id: str, record: RunRecord) -> None:
    """Send everything in ``record`` to the run, in as few requests as allowed."""
    timestamp = int(time.time() * 1000)
    params = [Param(name, value) for name, value in record.params.items()]
    metrics = [
        Metric(name, value, timestamp, 0) for name, value in record.metrics.items()
    ]
    tags = [RunTag(name, value) for name, value in record.tags.items()]
    while params or metrics or tags:
        client.log_batch(
            run_id,
            metrics=metrics[:_MAX_METRICS_PER_BATCH],
            params=params[:_MAX_PARAMS_PER_BATCH],
            tags=tags[:_MAX_TAGS_PER_BATCH],
        )
        params = params[_MAX_PARAMS_PER_BATCH:]
        metrics = metrics[_MAX_METRICS_PER_BATCH:]
        tags = tags[_MAX_TAGS_PER_BATCH:]
    record.params.clear()
    record.metrics.clear()
    record.tags.clear()


def end_run(client: MlflowClient, run_id: str, failed: bool = False) -> None:
    """Mark the run finished, or failed when the execution could not complete."""
    client.set_terminated(run_id, status="FAILED" if failed else "FINISHED")


def log_directory(
    client: MlflowClient, run_id: str, local_dir: str, artifact_path: str
) -> None:
    """Upload a local directory as the run's artifacts under ``artifact_path``."""
    client.log_artifacts(run_id, local_dir, artifact_path)
