"""Experiments and runs: the one place that talks to MLflow Tracking.

Each key has an experiment; each execution of a key is one run named by the
execution's ISO timestamp. Parameters, metrics and tags are gathered in a
:class:`RunRecord` during the execution and sent in as few batched requests as
MLflow allows when the run ends.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import re
import sys
import tempfile
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
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

# Where the artifacts of the runs this process started go, so that writing
# them costs no request to ask tracking. Only the newest runs are kept.
_ARTIFACT_URIS: OrderedDict[str, str] = OrderedDict()
_MAX_REMEMBERED_RUNS = 1024

QUIET_ENVIRONMENT = {
    # No progress bar per artifact upload or download.
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # No "View run ... at ..." line per run on every worker.
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}


#: The module of the Databricks runtime, see :func:`mark_databricks_runtime_absent`.
DATABRICKS_RUNTIME_MODULE = "dbruntime"

#: Environment variables whose values are secrets: they never appear in a log
#: line, a tag or an outcome, even inside an error message.
SECRET_ENVIRONMENT = (
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_CLIENT_CERT_PATH",
    "DATABRICKS_TOKEN",
    "DATABRICKS_PASSWORD",
    "DATABRICKS_CLIENT_SECRET",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_CLIENT_SECRET",
)

# user[:password]@ after a URI scheme, and credential-like query parameters.
_URI_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")
_SECRET_QUERY = re.compile(
    r"(?P<name>\b(?:password|passwd|pwd|token|access_token|secret|sig|"
    r"signature|api_key|apikey|access_key|client_secret)=)[^&\s'\"]+",
    re.IGNORECASE,
)
_REDACTED = "***"
_MIN_SECRET_LENGTH = 4


def redact(text: str) -> str:
    """Hide credentials in ``text`` before it is logged or recorded.

    Removes the user and password of every URI (``scheme://user:pw@host``
    becomes ``scheme://***@host``), the values of credential-like query
    parameters (``token=``, ``sig=``, ``password=``...), and the value of every
    variable of :data:`SECRET_ENVIRONMENT` set in this process.
    """
    text = _URI_USERINFO.sub(rf"\g<scheme>{_REDACTED}@", text)
    text = _SECRET_QUERY.sub(rf"\g<name>{_REDACTED}", text)
    for name in SECRET_ENVIRONMENT:
        secret = os.environ.get(name)
        if secret and len(secret) >= _MIN_SECRET_LENGTH:
            text = text.replace(secret, _REDACTED)
    return text


def quiet_mlflow() -> None:
    """Stop MLflow from printing links and progress bars in this process."""
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


@functools.cache
def mark_databricks_runtime_absent() -> bool:
    """Let MLflow's Databricks checks fail fast in this process, off Databricks.

    Before every request, MLflow's client asks whether it runs in a Databricks
    notebook, job or cluster, each time by importing the Databricks runtime
    module ``dbruntime``. Where that module does not exist, each of those
    imports searches the whole module path again and fails. Recording it as
    absent (``None`` in :data:`sys.modules`) makes them fail at once; where it
    exists, on Databricks, nothing is changed. Checked once per process.

    Returns
    -------
    bool
        Whether the module was recorded as absent.
    """
    if DATABRICKS_RUNTIME_MODULE in sys.modules:
        return False
    if importlib.util.find_spec(DATABRICKS_RUNTIME_MODULE) is not None:
        return False
    sys.modules[DATABRICKS_RUNTIME_MODULE] = None  # type: ignore[assignment]
    logger.debug("%s is not installed: recorded as absent", DATABRICKS_RUNTIME_MODULE)
    return True


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
    _remember_artifact_uri(run.info.run_id, run.info.artifact_uri)
    return run.info.run_id, run.info.artifact_uri


def artifact_uri(client: MlflowClient, run_id: str) -> str:
    """Return the artifact URI of run ``run_id``.

    Tracking is asked only for a run that this process did not start.
    """
    uri = _ARTIFACT_URIS.get(run_id)
    if uri is None:
        uri = client.get_run(run_id).info.artifact_uri
        _remember_artifact_uri(run_id, uri)
    return uri


def _remember_artifact_uri(run_id: str, uri: str) -> None:
    _ARTIFACT_URIS[run_id] = uri
    while len(_ARTIFACT_URIS) > _MAX_REMEMBERED_RUNS:
        _ARTIFACT_URIS.popitem(last=False)


def local_path(uri: str) -> str | None:
    """Return the filesystem path of a local artifact URI, or None."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "file":
        return urllib.parse.unquote(parsed.path)
    if parsed.scheme == "" and os.path.isabs(uri):
        return uri
    return None


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
    uri = _ARTIFACT_URIS.get(run_id)
    if uri is None:
        client.log_artifacts(run_id, local_dir, artifact_path)
    else:
        _repository(client, uri).log_artifacts(local_dir, artifact_path)


def write_artifacts(
    client: MlflowClient,
    run_id: str,
    artifact_path: str,
    write: Callable[[str], None],
) -> None:
    """Write artifacts of run ``run_id`` under ``artifact_path`` with ``write``.

    ``write`` is called with a folder to fill. When this process started the
    run (:func:`start_run`) and its artifacts live in a local folder (a local
    store, or a tracking server started with ``--no-serve-artifacts`` and an
    artifact root the workers share), it is the final folder and nothing is
    copied; otherwise it is a temporary folder, uploaded afterwards.
    """
    uri = _ARTIFACT_URIS.get(run_id)
    local = local_path(uri) if uri is not None else None
    if local is not None:
        target = os.path.join(local, artifact_path)
        os.makedirs(target, exist_ok=True)
        write(target)
        return
    with tempfile.TemporaryDirectory(prefix="kronos-artifacts-") as tmp:
        write(tmp)
        if os.listdir(tmp):
            log_directory(client, run_id, tmp, artifact_path)


def _repository(client: MlflowClient, uri: str) -> Any:
    """Return the artifact repository of ``uri``, as MLflow's client builds it."""
    from mlflow.store.artifact.artifact_repository_registry import (
        get_artifact_repository,
    )
    from mlflow.utils.uri import add_databricks_profile_info_to_artifact_uri

    uri = add_databricks_profile_info_to_artifact_uri(uri, client.tracking_uri)
    return get_artifact_repository(uri, tracking_uri=client.tracking_uri)
