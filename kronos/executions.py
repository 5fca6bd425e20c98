"""Idempotent executions: one execution of a key trains and registers once.

An *execution* is one key processed for one processing date with one
configuration. Its *execution key* is a hash of the key, ``current_date``,
``fcst_first_date``, the action, the key's candidate entries and every setting
that changes what is trained, scored, tested or where it is registered; it is
recorded on the run as the tag ``kronos.execution_key`` when the run is
created. Every run also carries ``kronos.job``, an identifier drawn once per
call of the factory and shared by all the tasks of that job.

Before training, one search finds the other runs of the key's experiment with
the same execution key, and :func:`claim_execution` decides:

- a *finished* run (FINISHED, and not a deferral, see below) means the
  execution already happened: nothing is trained or registered; the key
  forecasts as that run did (with the version it forecast with, or naively
  for the reason it gave), and the run is tagged ``kronos.repeats`` with
  that run's id;
- a *live* run (RUNNING, of another job, younger than ``stale_run_after_s``)
  is a concurrent execution: among the live runs and this one, the run
  started first (then the smallest run id) owns the execution and goes on;
  every other defers: it waits for the owner to end (at most
  ``registration_timeout_s``) and forecasts as the owner did, or with the
  current production model if the owner did not finish; it is tagged
  ``kronos.defers_to`` with the owner's id;
- an *abandoned* run (FAILED or KILLED; or still RUNNING but created by the
  same job, so an earlier attempt of this very task that Spark is retrying; or
  RUNNING for longer than ``stale_run_after_s``) is closed as FAILED and its
  versions are sorted. A version it tested means the execution got that far:
  it counts as done (a version that passed but was not promoted yet is
  promoted first). A version it registered but did not test, and that is
  READY, is taken over: this run unit-tests and promotes it instead of
  training (tag ``kronos.resumes``), so the execution still registers one
  version. An untested version that is not READY is marked abandoned
  (version tag ``kronos.unit_test`` = ``abandoned: ...``, staging removed),
  and the execution proceeds.

A cleaned-up run is tagged ``kronos.cleaned`` (and ``kronos.tested_version``
when it left a tested version), so that later executions do not clean it
again but still know what it left.

Because every run records its execution key when it is created and before it
searches, two concurrent executions always agree on the owner: the one
created later sees the earlier one. The order relies on the clocks of the
machines that create the runs; a skew larger than the gap between two
creations could let both train (see ``docs/reliability.md``).

Versions are registered with ``kronos.unit_test`` = ``pending``, replaced by
``passed`` or ``failed: ...`` by the unit test, so a version whose execution
died before its test is visibly untested. Before registering a new version,
:func:`sweep_untested` marks the pending versions of abandoned runs of the
model as abandoned too, whatever their execution key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlflow.entities import Run, ViewType
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from kronos import tracking
from kronos.config import Settings
from kronos.registry import UNIT_TEST_PENDING, UNIT_TEST_TAG, Registry

logger = logging.getLogger(__name__)

#: Run tag holding the execution key.
EXECUTION_TAG = "kronos.execution_key"

#: Run tag identifying the job (one call of the factory) that created the run.
JOB_TAG = "kronos.job"

#: Run tag of a run that trained nothing because the execution was done.
REPEATS_TAG = "kronos.repeats"

#: Run tag of a run that trained nothing because a concurrent run owns the
#: execution.
DEFERS_TAG = "kronos.defers_to"

#: Run tag of a run that took over the untested version of an abandoned run.
RESUMES_TAG = "kronos.resumes"

#: Run tag set once an abandoned run and its versions have been cleaned up.
CLEANED_TAG = "kronos.cleaned"

#: Run tag of a cleaned-up run that left a tested version: its number.
TESTED_VERSION_TAG = "kronos.tested_version"

#: Unit-test tag of a version registered but not yet tested.
PENDING = UNIT_TEST_PENDING

#: Start of the unit-test tag of a version whose execution died before its test.
ABANDONED = "abandoned"

#: Run tags the lifecycle sets when a run ends, read to repeat what it did.
FORECAST_VERSION_TAG = "kronos.forecast_version"
FALLBACK_REASON_TAG = "kronos.fallback_reason"

#: Version tag of the processing date a version was registered for.
DATE_TAG = "kronos.current_date"

#: Most runs one lookup reads; more with one execution key means a loop upstream.
_MAX_RUNS = 100


@dataclass(frozen=True)
class Claim:
    """Whether this execution trains, and why not when it does not.

    Attributes
    ----------
    proceed
        True when this run owns the execution and trains.
    other_run_id
        The run that did, or is doing, the execution when ``proceed`` is False.
    tag
        The run tag to record ``other_run_id`` under: :data:`REPEATS_TAG`,
        :data:`DEFERS_TAG` or :data:`RESUMES_TAG`.
    note
        One sentence for the outcome's notes.
    resume
        A version an abandoned attempt of this execution registered and did
        not test: this run tests and promotes it instead of training.
    settled
        True when the other run finished: this run forecasts as it did, with
        ``forecast_version`` (the naive forecast when None, for
        ``other_reason``). False when it is unknown; this run then forecasts
        with the current production model.
    forecast_version
        The version the other run forecast with.
    other_reason
        The other run's fallback reason.
    """

    proceed: bool
    other_run_id: str | None = None
    tag: str | None = None
    note: str | None = None
    resume: ModelVersion | None = None
    settled: bool = False
    forecast_version: str | None = None
    other_reason: str | None = None


def execution_key(
    key: str, settings: Settings, action: str, entries: Mapping[str, Any]
) -> str:
    """Return the execution key of ``key`` for this execution.

    Parameters
    ----------
    key
        The series key.
    settings
        The execution's settings: dates, scoring, test and registry settings.
    action
        The key's action.
    entries
        The ``models_config`` entries that compete for the key.
    """
    identity = {
        "key": key,
        "current_date": settings.current_date.isoformat(),
        "fcst_first_date": settings.fcst_first_date.isoformat(),
        "action": action,
        "entries": {name: dict(entry) for name, entry in entries.items()},
        "n_test": settings.n_test,
        "n_windows": settings.n_windows,
        "n_unit_test": settings.n_unit_test,
        "metrics": list(settings.competition_metrics),
        "weights": dict(settings.competition_metric_weights),
        "season_length": settings.season_length,
        "freq": settings.freq,
        "duplicates": settings.duplicates,
        "gaps": settings.gaps,
        "registry_mode": settings.registry_mode,
        "model_name_template": settings.model_name_template,
    }
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def claim_execution(
    registry: Registry,
    settings: Settings,
    experiment_id: str,
    run_id: str,
    key_hash: str,
    model_name: str,
) -> Claim:
    """Decide whether run ``run_id`` trains for execution ``key_hash``.

    See the module's description for the rules. Costs one search when no
    other run has the execution key.
    """
    client = registry.client
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{EXECUTION_TAG}` = '{key_hash}'",
        run_view_type=ViewType.ACTIVE_ONLY,
        max_results=_MAX_RUNS,
        order_by=["attributes.start_time ASC"],
    )
    now_ms = int(time.time() * 1000)
    others = [run for run in runs if run.info.run_id != run_id]
    done = [
        run
        for run in others
        if run.info.status == "FINISHED" and DEFERS_TAG not in run.data.tags
    ]
    if done:
        originals = [run for run in done if REPEATS_TAG not in run.data.tags]
        previous = (originals or done)[0]
        return _follow(
            previous,
            REPEATS_TAG,
            f"repeats run {previous.info.run_id}: this execution already finished",
        )

    live = [run for run in others if not is_abandoned(run, settings, now_ms)]
    live_ids = {run.info.run_id for run in live}
    if live:
        mine = next((run for run in runs if run.info.run_id == run_id), None)
        my_start = mine.info.start_time if mine is not None else now_ms
        owner = min(
            [(run.info.start_time, run.info.run_id) for run in live]
            + [(my_start, run_id)]
        )
        if owner[1] != run_id:
            note = (
                f"defers to run {owner[1]}, a concurrent execution of the same "
                "key, date and configuration"
            )
            finished = wait_for_run(client, owner[1], settings.registration_timeout_s)
            if finished is not None and finished.info.status == "FINISHED":
                return _follow(finished, DEFERS_TAG, note)
            return Claim(False, owner[1], DEFERS_TAG, note)

    for run in others:
        tags = run.data.tags
        if run.info.run_id in live_ids or REPEATS_TAG in tags or DEFERS_TAG in tags:
            continue  # alive, or it trained nothing
        previous = run.info.run_id
        if CLEANED_TAG in tags:
            if tags.get(TESTED_VERSION_TAG):
                return Claim(
                    False,
                    previous,
                    REPEATS_TAG,
                    f"repeats run {previous}: it did not finish, but its version "
                    f"{tags[TESTED_VERSION_TAG]} was tested",
                )
            continue
        tested, resumable = clean_up_run(registry, run, model_name, run_id)
        if tested is not None:
            complete_promotion(registry, tested)
            passed = (tested.tags or {}).get(UNIT_TEST_TAG) == "passed"
            return Claim(
                False,
                previous,
                REPEATS_TAG,
                f"repeats run {previous}: it did not finish, but its version "
                f"{tested.version} was tested",
                settled=passed,
                forecast_version=str(tested.version) if passed else None,
            )
        if resumable is not None:
            return Claim(
                True,
                previous,
                RESUMES_TAG,
                f"resumes run {previous}: it registered version "
                f"{resumable.version} and stopped before the unit test",
                resume=resumable,
            )
    return Claim(True)


def wait_for_run(client: MlflowClient, run_id: str, timeout_s: float) -> Run | None:
    """Wait until run ``run_id`` is no longer RUNNING, at most ``timeout_s``.

    Returns the ended run, or None when it still runs at the deadline.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.5
    while True:
        run = client.get_run(run_id)
        if run.info.status != "RUNNING":
            return run
        if time.monotonic() + delay > deadline:
            return None
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def processing_date(version: ModelVersion) -> str:
    """Return the processing date a version was registered for ('' if unknown)."""
    return (version.tags or {}).get(DATE_TAG, "")


def _follow(run: Run, tag: str, note: str) -> Claim:
    """Return a claim that forecasts as the finished ``run`` did."""
    tags = run.data.tags
    return Claim(
        False,
        run.info.run_id,
        tag,
        note,
        settled=True,
        forecast_version=tags.get(FORECAST_VERSION_TAG) or None,
        other_reason=tags.get(FALLBACK_REASON_TAG) or None,
    )


def is_abandoned(run: Run, settings: Settings, now_ms: int) -> bool:
    """Return whether ``run`` will never finish on its own.

    FAILED and KILLED runs are; a RUNNING run is when the same job created it
    (an earlier attempt of the task now running) or when it started more than
    ``settings.stale_run_after_s`` ago.
    """
    status = run.info.status
    if status in ("FAILED", "KILLED"):
        return True
    if status != "RUNNING":
        return False
    if settings.job_id and run.data.tags.get(JOB_TAG) == settings.job_id:
        return True
    age_s = (now_ms - (run.info.start_time or now_ms)) / 1000
    return age_s > settings.stale_run_after_s


def clean_up_run(
    registry: Registry, run: Run, model_name: str, by_run_id: str
) -> tuple[ModelVersion | None, ModelVersion | None]:
    """Close an abandoned run of this execution as FAILED and sort its versions.

    Returns
    -------
    tuple
        The version the run registered and tested, if any (its execution got
        as far as the unit test), and the version it registered but did not
        test, if that version is READY (the execution can go on from there).
        An untested version that is not READY is marked abandoned.
    """
    client = registry.client
    run_id = run.info.run_id
    if run.info.status == "RUNNING":
        tracking.end_run(client, run_id, failed=True)
    tested: ModelVersion | None = None
    resumable: ModelVersion | None = None
    for version in registry.versions_of_run(run_id):
        if version.name != model_name:
            continue
        result = (version.tags or {}).get(UNIT_TEST_TAG)
        if result not in (None, "", PENDING):
            if not result.startswith(ABANDONED):
                tested = version
        elif version.status == "READY" and resumable is None:
            resumable = version
        else:
            abandon_version(
                registry,
                version,
                f"registered by run {run_id}, which did not finish; found by run "
                f"{by_run_id}",
            )
    if tested is not None:
        client.set_tag(run_id, TESTED_VERSION_TAG, str(tested.version))
    if resumable is None:
        # A run whose version is resumed stays unmarked: if the resuming run
        # dies too, the next one finds the version again.
        client.set_tag(run_id, CLEANED_TAG, f"by run {by_run_id}")
    logger.info("closed abandoned run %s of %s", run_id, model_name)
    return tested, resumable


def abandon_version(registry: Registry, version: ModelVersion, reason: str) -> None:
    """Mark ``version`` abandoned and take it out of staging."""
    registry.tag(version, UNIT_TEST_TAG, f"{ABANDONED}: {reason}")
    registry.unstage(version)
    logger.info(
        "%s version %s marked abandoned: %s", version.name, version.version, reason
    )


def complete_promotion(registry: Registry, version: ModelVersion) -> None:
    """Promote a version that passed its test if production is older.

    Older means an earlier version number, registered for the same or an
    earlier processing date.
    """
    if (version.tags or {}).get(UNIT_TEST_TAG) != "passed":
        return
    production = registry.production_version(version.name)
    if production is None or (
        int(production.version) < int(version.version)
        and processing_date(production) <= processing_date(version)
    ):
        registry.promote(version)
        logger.info(
            "%s version %s promoted for an execution that died after its test",
            version.name,
            version.version,
        )


def sweep_untested(
    registry: Registry, model_name: str, run_id: str | None, settings: Settings
) -> list[str]:
    """Abandon the pending versions of ``model_name`` whose run was abandoned.

    Versions of live runs (another execution testing its version right now)
    are left alone. Returns the abandoned version numbers.
    """
    abandoned: list[str] = []
    now_ms = int(time.time() * 1000)
    for version in registry.untested_versions(model_name):
        if not version.run_id or version.run_id == run_id:
            continue
        run = registry.client.get_run(version.run_id)
        if not is_abandoned(run, settings, now_ms):
            continue
        if run.info.status == "RUNNING":
            tracking.end_run(registry.client, version.run_id, failed=True)
        abandon_version(
            registry,
            version,
            f"registered by run {version.run_id}, which did not finish; found by "
            f"run {run_id}",
        )
        abandoned.append(str(version.version))
    return abandoned


__all__ = [
    "ABANDONED",
    "CLEANED_TAG",
    "DEFERS_TAG",
    "EXECUTION_TAG",
    "JOB_TAG",
    "PENDING",
    "REPEATS_TAG",
    "RESUMES_TAG",
    "TESTED_VERSION_TAG",
    "Claim",
    "claim_execution",
    "execution_key",
    "is_abandoned",
    "sweep_untested",
]
