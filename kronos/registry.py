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
from dataclasses import dataclass, field
from typing import Any

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from kronos.models import ForecastModel, load_model
from kronos.tracking import redact

logger = logging.getLogger(__name__)

STAGING_STAGE = "Staging"
PRODUCTION_STAGE = "Production"
ARCHIVED_STAGE = "Archived"

#: Version tag holding the unit test's outcome: ``pending`` from registration
#: until the test, then ``passed`` or ``failed: <why>``; ``abandoned: <why>``
#: when the execution that registered the version died before testing it.
UNIT_TEST_TAG = "kronos.unit_test"
UNIT_TEST_PENDING = "pending"

_NOT_FOUND_CODES = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"}

# The tag MLflow puts on prompts, which share the registry with models.
_PROMPT_TAG = "mlflow.prompt.is_prompt"

# What an execution learnt of a registered model: it created it, or it saw it
# exists and is not a prompt.
_CREATED = "created"
_CHECKED = "checked"


class PromptNameError(ValueError):
    """A model name of kronos is taken by an MLflow prompt."""


class RegistrationTimeoutError(RuntimeError):
    """A new model version did not become READY within the allowed time."""


#: What a SQL-backed registry answers when two writers change one alias at once.
_CONFLICT_MARK = "expected to update 1 row(s); 0 were matched"
_CONFLICT_ATTEMPTS = 4


def _retry_conflict(write: Any, *args: Any) -> Any:
    """Call ``write(*args)``, again when a concurrent alias change made it fail.

    Alias writes are idempotent; a conflict means another writer's
    transaction touched the same alias row first, so the write is repeated
    after a short pause, up to a few times.
    """
    for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
        try:
            return write(*args)
        except MlflowException as exc:
            if _CONFLICT_MARK not in str(exc) or attempt == _CONFLICT_ATTEMPTS:
                raise
            logger.info("alias write conflicted, attempt %d: retrying", attempt)
            time.sleep(0.05 * attempt)
    return None


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

    Notes
    -----
    MLflow's client reads the whole registered model before every alias, tag
    or stage change, to refuse to touch a prompt: one more request per call.
    A registry instance serves one execution of one key; it checks each model
    once (or knows it created it) and then writes through MLflow's registry
    client directly.
    """

    client: MlflowClient
    mode: str = "aliases"
    staging_alias: str = "challenger"
    production_alias: str = "champion"
    registration_timeout_s: float = 120.0
    _models: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

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

        The registered model is created first if needed (see
        :meth:`ensure_model`).
        """
        self.ensure_model(name)
        version = self.client.create_model_version(
            name, source, run_id=run_id, tags=tags, await_creation_for=0
        )
        return self._wait_until_ready(version)

    def ensure_model(self, name: str) -> None:
        """Create registered model ``name`` unless this execution saw it exists.

        A model found by a lookup of this execution is not created again; a
        concurrent creation by another worker is not an error.

        Raises
        ------
        PromptNameError
            When ``name`` is taken by an MLflow prompt.
        """
        if name in self._models:
            return
        try:
            self.client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            self._check_not_prompt(name)
        else:
            self._models[name] = _CREATED

    def created_model(self, name: str) -> bool:
        """Whether this execution created registered model ``name``."""
        return self._models.get(name) == _CREATED

    def stage(self, version: ModelVersion) -> None:
        """Put ``version`` in staging."""
        if self.mode == "aliases":
            _retry_conflict(
                self._writer(version.name).set_registered_model_alias,
                version.name,
                self.staging_alias,
                version.version,
            )
        else:
            self._writer(version.name).transition_model_version_stage(
                version.name, version.version, STAGING_STAGE
            )

    def promote(self, version: ModelVersion) -> None:
        """Make ``version`` the production version of its model.

        In ``aliases`` mode the production alias moves to it and the staging
        alias is removed; in ``stages`` mode it moves to Production and the
        previous production version is archived.
        """
        writer = self._writer(version.name)
        if self.mode == "aliases":
            _retry_conflict(
                writer.set_registered_model_alias,
                version.name,
                self.production_alias,
                version.version,
            )
            _retry_conflict(
                writer.delete_registered_model_alias, version.name, self.staging_alias
            )
        else:
            writer.transition_model_version_stage(
                version.name,
                version.version,
                PRODUCTION_STAGE,
                archive_existing_versions=True,
            )
            self._archive_extra_production(version.name)

    def _archive_extra_production(self, name: str) -> None:
        """Leave one version in Production: the newest.

        Two promotions of one model at the same moment may each archive the
        versions they saw in Production before either commits, leaving both
        in Production. Every promoter archives all but the newest afterwards,
        so the registry settles on one production version.
        """
        quoted = _quoted(name)
        if quoted is None:
            return
        in_production = [
            version
            for version in self.client.search_model_versions(f"name = {quoted}")
            if version.current_stage == PRODUCTION_STAGE
        ]
        newest = max((int(v.version) for v in in_production), default=None)
        for version in in_production:
            if int(version.version) != newest:
                logger.info(
                    "%s version %s archived: version %s is in Production",
                    name,
                    version.version,
                    newest,
                )
                self.client.transition_model_version_stage(
                    name, version.version, ARCHIVED_STAGE
                )

    def tag(self, version: ModelVersion, key: str, value: str) -> None:
        """Set a tag on ``version``."""
        self._writer(version.name).set_model_version_tag(
            version.name, version.version, key, value
        )

    def unstage(self, version: ModelVersion) -> None:
        """Take ``version`` out of staging if it is there; else do nothing.

        In ``aliases`` mode the staging alias is removed when it points at
        ``version``; in ``stages`` mode a version in Staging is archived.
        """
        if self.mode == "aliases":
            staged = self._version_by_alias(version.name, self.staging_alias)
            if staged is not None and str(staged.version) == str(version.version):
                self._writer(version.name).delete_registered_model_alias(
                    version.name, self.staging_alias
                )
        elif version.current_stage == STAGING_STAGE:
            self._writer(version.name).transition_model_version_stage(
                version.name, version.version, ARCHIVED_STAGE
            )

    def versions_of_run(self, run_id: str) -> list[ModelVersion]:
        """Return the versions registered from run ``run_id``."""
        return list(self.client.search_model_versions(f"run_id = '{run_id}'"))

    def untested_versions(self, name: str) -> list[ModelVersion]:
        """Return the versions of ``name`` whose unit test is still pending.

        Returns an empty list when the name cannot be quoted in a search (it
        holds both quote characters) or the registry cannot filter on tags, and
        without a request when this execution created the model: it has no
        version of another execution to find.
        """
        quoted = _quoted(name)
        if quoted is None or self.created_model(name):
            return []
        try:
            return list(
                self.client.search_model_versions(
                    f"name = {quoted} and tags.`{UNIT_TEST_TAG}` = "
                    f"'{UNIT_TEST_PENDING}'"
                )
            )
        except MlflowException as exc:
            logger.debug(
                "cannot search pending versions of %s: %s", name, redact(str(exc))
            )
            return []

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
            version = self.client.get_model_version_by_alias(name, alias)
        except MlflowException as exc:
            if exc.error_code in _NOT_FOUND_CODES:
                return None
            raise
        self._found(version)
        return version

    def _latest_in_stage(self, name: str, stage: str) -> ModelVersion | None:
        try:
            versions = self._reader().get_latest_versions(name, stages=[stage])
        except MlflowException as exc:
            if exc.error_code in _NOT_FOUND_CODES:
                return None
            raise
        for version in versions:
            self._found(version)
        return max(versions, key=lambda v: int(v.version)) if versions else None

    def _found(self, version: ModelVersion) -> None:
        """Note that a lookup found ``version``: its model exists.

        Prompt versions carry the prompt tag, as their registered model does.
        """
        if _is_prompt(version):
            raise _prompt_error(version.name)
        self._models.setdefault(version.name, _CHECKED)

    def _check_not_prompt(self, name: str) -> None:
        """Read registered model ``name`` once and refuse it if it is a prompt."""
        if name in self._models:
            return
        # MLflow's public client answers "not found" for a prompt: its registry
        # client shows the prompt tag.
        if _is_prompt(self._reader().get_registered_model(name)):
            raise _prompt_error(name)
        self._models[name] = _CHECKED

    def _writer(self, name: str) -> Any:
        """Return the client for changes to ``name``, checked not to be a prompt."""
        self._check_not_prompt(name)
        return self._reader()

    def _reader(self) -> Any:
        """Return MLflow's registry client, or the public client without one."""
        registry_client = getattr(self.client, "_get_registry_client", None)
        return registry_client() if registry_client is not None else self.client

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


def _is_prompt(entity: Any) -> bool:
    """Whether a registered model or version is an MLflow prompt.

    The public ``tags`` of MLflow's entities leave the prompt tag out; their
    full tags keep it.
    """
    tags = getattr(entity, "_tags", None) or entity.tags or {}
    return _PROMPT_TAG in tags


def _prompt_error(name: str) -> PromptNameError:
    return PromptNameError(
        f"{name!r} is the name of an MLflow prompt, not of a model; choose a "
        "model_name_template that gives the keys names of their own"
    )


def _quoted(value: str) -> str | None:
    """Quote ``value`` for a search filter, or return None if it cannot be."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return None


def _local_path(uri: str) -> str | None:
    """Return the filesystem path of a local artifact URI, or None."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "file":
        return urllib.parse.unquote(parsed.path)
    if parsed.scheme == "" and os.path.isabs(uri):
        return uri
    return None
