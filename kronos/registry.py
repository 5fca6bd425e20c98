"""The MLflow Model Registry: versions, staging, unit-test tags and promotion.

Two ways of marking staging and production are supported:

- ``aliases`` (the default, and the only one Unity Catalog offers): the staged
  version carries the staging alias (``challenger``) and the production version
  the production alias (``champion``);
- ``stages`` (workspace registries): the ``Staging`` and ``Production`` stages;
  promotion archives the previous production version.

Models are read from where the registry says their files are. When that is a
path the worker can reach (a local store, or a tracking server that lets
clients write artifacts directly), the files are read in place; otherwise they
are downloaded once.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import urllib.parse
from dataclasses import dataclass

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from kronos.models import ForecastModel, load_model

logger = logging.getLogger(__name__)

STAGING_STAGE = "Staging"
PRODUCTION_STAGE = "Production"

#: Version tag holding the unit test's outcome: ``passed`` or ``failed: <why>``.
UNIT_TEST_TAG = "kronos.unit_test"

_NOT_FOUND_CODES = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"}


class RegistrationTimeoutError(RuntimeError):
    """A new model version did not become READY within the allowed time."""


@dataclass(frozen=True)
class Registry:
    """The registry operations of one execution.

    Parameters
    ----------
    client
        The MLflow client of the worker.
    mode
        ``"aliases"`` or ``"stages"``.
    staging_alias, production_alias
        Alias names used in ``aliases`` mode.
    registration_timeout_s
        How long to wait for a new version to become READY.
    """

    client: MlflowClient
    mode: str = "aliases"
    staging_alias: str = "challenger"
    production_alias: str = "champion"
    registration_timeout_s: float = 120.0

    def production_version(self, name: str) -> ModelVersion | None:
        """Return the production version of ``name``, or None if there is none."""
        if self.mode == "aliases":
            return self._version_by_alias(name, self.production_alias)
        return self._latest_in_stage(name, PRODUCTION_STAGE)

    def staged_version(self, name: str) -> ModelVersion | None:
        """Return the staged version of ``name``, or None if there is none."""
        if self.mode == "aliases":
            return self._version_by_alias(name, self.staging_alias)
        return self._latest_in_stage(name, STAGING_STAGE)

    def register(
        self, name: str, source: str, run_id: str, tags: dict[str, str]
    ) -> ModelVersion:
        """Register ``source`` as a new version of ``name`` and wait until READY.

        The registered model is created first if needed; a concurrent creation
        by another worker is not an error.
        """
        try:
            self.client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        version = self.client.create_model_version(
            name, source, run_id=run_id, tags=tags, await_creation_for=0
        )
        return self._wait_until_ready(version)

    def stage(self, version: ModelVersion) -> None:
        """Put ``version`` in staging."""
        if self.mode == "aliases":
            self.client.set_registered_model_alias(
                version.name, self.staging_alias, version.version
            )
        else:
            self.client.transition_model_version_stage(
                version.name, version.version, STAGING_STAGE
            )

    def promote(self, version: ModelVersion) -> None:
        """Make ``version`` the production version of its model.

        In ``aliases`` mode the production alias moves to it and the staging
        alias is removed; in ``stages`` mode it moves to Production and the
        previous production version is archived.
        """
        if self.mode == "aliases":
            self.client.set_registered_model_alias(
                version.name, self.production_alias, version.version
            )
            self.client.delete_registered_model_alias(version.name, self.staging_alias)
        else:
            self.client.transition_model_version_stage(
                version.name,
                version.version,
                PRODUCTION_STAGE,
                archive_existing_versions=True,
            )

    def tag(self, version: ModelVersion, key: str, value: str) -> None:
        """Set a tag on ``version``."""
        self.client.set_model_version_tag(version.name, version.version, key, value)

    def load(self, version: ModelVersion) -> ForecastModel:
        """Load the model files of ``version`` from where the registry keeps them."""
        local_path = _local_path(version.source)
        if local_path is not None and os.path.isdir(local_path):
            return load_model(local_path)
        with tempfile.TemporaryDirectory(prefix="kronos-model-") as tmp:
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=version.source,
                dst_path=tmp,
                tracking_uri=self.client.tracking_uri,
            )
            return load_model(path)

    def _version_by_alias(self, name: str, alias: str) -> ModelVersion | None:
        try:
            return self.client.get_model_version_by_alias(name, alias)
        except MlflowException as exc:
            if exc.error_code in _NOT_FOUND_CODES:
                return None
            raise

    def _latest_in_stage(self, name: str, stage: str) -> ModelVersion | None:
        try:
            versions = self.client.get_latest_versions(name, stages=[stage])
        except MlflowException as exc:
            if exc.error_code in _NOT_FOUND_CODES:
                return None
            raise
        return max(versions, key=lambda v: int(v.version)) if versions else None

    def _wait_until_ready(self, version: ModelVersion) -> ModelVersion:
        deadline = time.monotonic() + self.registration_timeout_s
        delay = 0.05
        while version.status != "READY":
            if version.status == "FAILED_REGISTRATION":
                raise RuntimeError(
                    f"registration of {version.name} version {version.version} "
                    f"failed: {version.status_message}"
                )
            if time.monotonic() + delay > deadline:
                raise RegistrationTimeoutError(
                    f"{version.name} version {version.version} was not READY after "
                    f"{self.registration_timeout_s:.0f} s (status {version.status}); "
                    "raise registration_timeout_s if the registry is slow"
                )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            version = self.client.get_model_version(version.name, version.version)
        return version


def _local_path(uri: str) -> str | None:
    """Return the filesystem path of a local artifact URI, or None."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "file":
        return urllib.parse.unquote(parsed.path)
    if parsed.scheme == "" and os.path.isabs(uri):
        return uri
    return None
