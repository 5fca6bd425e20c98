"""The lifecycle of one key: pandas frame in, forecast frame and outcome out.

:func:`forecast_key` reads as the steps it runs:

1. check that the key can be named safely, open the key's experiment and the
   execution's run, tagged with its execution key;
2. prepare the series; claim the execution (a repeated, concurrent or
   resumed execution trains nothing, see :mod:`kronos.executions`) and load
   the production model;
3. train and score every candidate on every test window, while step 1 and
   2's requests are under way in a background thread (nothing of it is
   logged until the claim says the execution trains);
4. define the candidates and log their parameters and scores;
5. score the production model on the same windows, by the same rule;
6. pick the winner; register it unless production won;
7. stage the new version and unit-test it, loaded fresh from the registry;
8. promote it if the test passed;
9. forecast with the production model.

Nothing here imports Spark: the function that ``applyInPandas`` runs is a thin
wrapper around :func:`forecast_key`, so calling it on one key's pandas frame
gives the same rows as the Spark job.

Failure policy: a key never raises. When its data cannot be used, when no
model can forecast, or when tracking or the registry fail, the key gets its
production model's forecast if that model was already loaded, else the naive
forecast (its last observed value), and the reason is recorded in the outcome
and, where tracking still answers, on the run (which then ends FAILED if the
lifecycle broke off).
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import copy
import functools
import json
import logging
import math
import os
import tempfile
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from kronos import (
    backtest,
    executions,
    intervals,
    metrics,
    plots,
    timeouts,
    tracking,
)
from kronos._version import __version__
from kronos.config import (
    ACTIONS,
    FALLBACK_MODEL_ENTRY,
    FALLBACK_MODEL_NAME,
    QUALITIES,
    Settings,
    parse_models_column,
)
from kronos.models import ForecastModel, build_model
from kronos.models.ensemble import EnsembleModel
from kronos.naming import UnsafeKeyError
from kronos.registry import UNIT_TEST_PENDING, UNIT_TEST_TAG, Registry
from kronos.series import Series, SeriesError, future_dates, prepare_series

logger = logging.getLogger(__name__)

#: Name under which the production model appears among the scores.
PRODUCTION = "production"

#: Version tag naming the ``models_config`` entry a version was trained from.
CANDIDATE_TAG = "kronos.candidate"


class KeyDataError(ValueError):
    """A key's attribute columns are missing, unknown or not constant."""


@dataclass
class KeyOutcome:
    """What happened to one key in one execution."""

    key: str
    action: str | None = None
    quality: str | None = None
    candidates: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    winner: str | None = None
    registered_version: str | None = None
    unit_test: str | None = None
    promoted: bool = False
    forecast_version: str | None = None
    fallback_reason: str | None = None
    run_id: str | None = None
    notes: list[str] = field(default_factory=list)
    experiment_id: str | None = None
    #: Identifies this key, date and configuration (see :mod:`kronos.executions`).
    execution_key: str | None = None
    #: The winner's forecast of the last test window, drawn in the run's plot.
    test_forecast: np.ndarray | None = field(default=None, repr=False)


@dataclass
class KeyResult:
    """The forecast rows of one key and what happened to it."""

    forecast: pd.DataFrame
    outcome: KeyOutcome


@dataclass(frozen=True)
class KeyAttributes:
    """The per-key settings read from the attribute columns."""

    quality: str
    action: str
    candidates: tuple[str, ...]


@dataclass
class CandidateResult:
    """One candidate's forecasts and errors over the test windows."""

    name: str
    entry: Mapping[str, Any]
    window_forecasts: list[np.ndarray] = field(default_factory=list)
    window_metrics: list[dict[str, float]] = field(default_factory=list)
    model: ForecastModel | None = None

    def mean_metrics(self) -> dict[str, float]:
        """Return each metric's mean over the windows."""
        names = self.window_metrics[0]
        return {
            name: float(np.mean([w[name] for w in self.window_metrics]))
            for name in names
        }


@dataclass(frozen=True)
class Production:
    """The key's production version and its model, loaded once per execution."""

    version: ModelVersion | None = None
    model: ForecastModel | None = None


@dataclass
class Opening:
    """What the opening requests of an execution found.

    ``tracking_error`` is set when the run could not be opened; ``error``
    when the claim or the production model's load failed after it was.
    """

    run_id: str | None = None
    experiment_id: str | None = None
    claim: executions.Claim = field(default_factory=lambda: executions.Claim(True))
    production: Production = field(default_factory=Production)
    tracking_error: Exception | None = None
    error: Exception | None = None


@dataclass
class Backtested:
    """Candidates backtested before the claim: their results and what dropped.

    ``error`` is what the backtest raised, such as the :class:`SeriesError`
    of a series too short for a test window; it is raised again where the
    backtest belongs in the lifecycle.
    """

    entries: dict[str, Mapping[str, Any]]
    results: dict[str, CandidateResult] = field(default_factory=dict)
    outcome: KeyOutcome | None = None
    error: Exception | None = None


# --------------------------------------------------------------------------
# The lifecycle
# --------------------------------------------------------------------------


def forecast_key(frame: pd.DataFrame, settings: Settings) -> KeyResult:
    """Run the whole lifecycle for one key; never raises.

    Parameters
    ----------
    frame
        Every input row of one key.
    settings
        The validated settings of the execution.

    Returns
    -------
    KeyResult
        ``forecast_horizon`` rows in the output columns, and the outcome.
    """
    columns = settings.columns
    raw_key = frame[columns.key].iloc[0]
    key = str(raw_key)
    outcome = KeyOutcome(key=key)
    series: Series | None = None
    try:
        model_name = settings.model_name(raw_key)
        settings.experiment_name(raw_key)
    except UnsafeKeyError as exc:
        return _refused_key_result(raw_key, exc, frame, settings)

    client = MlflowClient(settings.tracking_uri, settings.registry_uri)
    record = tracking.RunRecord()
    outcome.execution_key = execution_key_of(frame, key, settings)
    registry = Registry(
        client,
        mode=settings.registry_mode,
        staging_alias=settings.staging_alias,
        production_alias=settings.production_alias,
        registration_timeout_s=settings.registration_timeout_s,
    )
    attributes, series, data_error = read_key_data(frame, settings)

    # The run is opened, the execution claimed and production loaded in the
    # background while the candidates are backtested: the requests overlap
    # with the fits. Nothing is logged from the backtest until the claim says
    # this execution trains.
    with concurrent.futures.ThreadPoolExecutor(
        1, thread_name_prefix="kronos-open"
    ) as pool:
        opening = pool.submit(
            contextvars.copy_context().run,
            open_execution,
            registry,
            settings,
            key,
            frame,
            attributes if data_error is None else None,
            model_name,
            outcome.execution_key,
        )
        backtested = None
        if data_error is None and attributes.action == "competition":
            backtested = backtest_ahead(attributes, series, settings, key)
        opened = opening.result()

    if opened.tracking_error is not None:
        exc = opened.tracking_error
        logger.warning("key %s: tracking unavailable: %s", key, _describe(exc))
        outcome.fallback_reason = f"tracking unavailable: {_describe(exc)}"
        return _fallback_result(outcome, _salvage_series(frame, settings), settings)
    outcome.run_id, outcome.experiment_id = opened.run_id, opened.experiment_id

    if attributes is not None:
        outcome.action, outcome.quality = attributes.action, attributes.quality
    if series is not None:
        outcome.notes.extend(series.notes)
    if data_error is not None:
        outcome.fallback_reason = f"unusable data: {data_error}"
        series = series or _salvage_series(frame, settings)
        close_run(client, outcome, record)
        return _fallback_result(outcome, series, settings)

    production = opened.production
    failed = False
    try:
        claim = record_claim(opened, record, outcome)
        if claim.resume is not None:
            model = test_and_promote(
                registry, claim.resume, series, settings, outcome, production
            )
        elif claim.proceed:
            model = run_action(
                series,
                attributes,
                settings,
                registry,
                record,
                outcome,
                production,
                backtested,
            )
        else:
            model = follow_claim(claim, registry, model_name, production, outcome)
        forecast = final_forecast(model, series, settings)
    except SeriesError as exc:
        # Deterministic data limits, such as a history too short for the test
        # windows: the run is complete, its reason recorded.
        outcome.fallback_reason = f"unusable data: {exc}"
        forecast = production_or_naive(production, series, settings, outcome)
    except Exception as exc:
        failed = True
        logger.warning("key %s: lifecycle failed: %s", key, _describe(exc))
        logger.debug("key %s: %s", key, tracking.redact(traceback.format_exc()))
        outcome.fallback_reason = f"lifecycle failed: {_describe(exc)}"
        forecast = production_or_naive(production, series, settings, outcome)
        abandon_untested(registry, model_name, outcome, record)

    if settings.log_plots:
        log_execution_plot(client, outcome, series, forecast, settings)
    close_run(client, outcome, record, failed=failed)
    _log_outcome(outcome)
    return KeyResult(output_frame(key, forecast, series, settings), outcome)


def run_action(
    series: Series,
    attributes: KeyAttributes,
    settings: Settings,
    registry: Registry,
    record: tracking.RunRecord,
    outcome: KeyOutcome,
    loaded: Production | None = None,
    backtested: Backtested | None = None,
) -> ForecastModel | None:
    """Run the key's action and return the model of the final forecast.

    Returns None when there is no production model to forecast with; the
    caller then gives the key the naive forecast. ``loaded`` is the key's
    production version and model when the caller already loaded them;
    ``backtested``, the candidates already backtested for a competition.
    """
    model_name = settings.model_name(outcome.key)
    loaded = loaded or load_production(registry, model_name)
    production, production_model = loaded.version, loaded.model

    if attributes.action == "predict":
        if production is None:
            outcome.fallback_reason = "no production model to predict with"
            return None
        outcome.forecast_version = str(production.version)
        return production_model

    if attributes.action == "training" and production is not None:
        entries = {_production_candidate(production): _entry_of(production_model)}
        outcome.candidates = list(entries)
        log_candidate_params(record, entries)
        outcome.winner = next(iter(entries))
        winner = refit(outcome.winner, entries, series, settings)
    else:
        if attributes.action == "training":
            outcome.notes.append("no production model to retrain: ran a competition")
        if backtested is None:
            backtested = backtest_ahead(attributes, series, settings, outcome.key)
        entries = backtested.entries
        outcome.candidates = list(entries)
        log_candidate_params(record, entries)
        results = take_backtest(backtested, outcome)
        if production is not None and _is_later(production, settings):
            outcome.notes.append(
                f"production version {production.version} is for a later "
                "processing date: not competing, and not replaced"
            )
        elif production_model is not None:
            try:
                results[PRODUCTION] = score_production(
                    production_model, series, settings, outcome, candidates=results
                )
            except Exception as exc:
                # Like a candidate, production that cannot be scored is dropped.
                outcome.dropped[PRODUCTION] = _describe(exc)
                logger.info(
                    "key %s: production not scored: %s", outcome.key, _describe(exc)
                )
        outcome.scores = combine_scores(results, settings)
        log_scores(record, results, outcome)
        if settings.log_candidate_models:
            log_candidate_models(registry.client, outcome.run_id, results)
        outcome.winner = pick_winner(outcome.scores)
        if outcome.winner is None:
            outcome.fallback_reason = "no candidate could be scored"
            return production_model
        outcome.test_forecast = results[outcome.winner].window_forecasts[-1]
        if outcome.winner == PRODUCTION:
            outcome.forecast_version = str(production.version)
            return production_model
        winner = refit(outcome.winner, entries, series, settings, results)

    version = register_model(registry, model_name, winner, outcome, settings)
    return test_and_promote(registry, version, series, settings, outcome, loaded)


def test_and_promote(
    registry: Registry,
    version: ModelVersion,
    series: Series,
    settings: Settings,
    outcome: KeyOutcome,
    loaded: Production,
) -> ForecastModel | None:
    """Unit-test a registered version, promote it if it passed.

    Returns the model of the final forecast: the new version's when it passed,
    else production's (None when there is none).
    """
    outcome.registered_version = str(version.version)
    if outcome.winner is None:
        outcome.winner = (version.tags or {}).get(CANDIDATE_TAG) or None
    staged_model, failure = stage_and_unit_test(registry, version, series, settings)
    outcome.unit_test = failure or "passed"
    if failure is not None:
        if loaded.version is None:
            outcome.fallback_reason = f"unit test failed: {failure}"
            return None
        outcome.forecast_version = str(loaded.version.version)
        return loaded.model
    outcome.forecast_version = str(version.version)
    current = registry.production_version(version.name)
    if current is not None and _is_later(current, settings):
        # A backfill, or a job for an earlier date finishing after a later
        # one: production never moves back to an earlier processing date.
        outcome.notes.append(
            f"not promoted: production version {current.version} is for a later "
            "processing date"
        )
        registry.unstage(version)
        return staged_model
    registry.promote(version)
    outcome.promoted = True
    return staged_model


def follow_claim(
    claim: executions.Claim,
    registry: Registry,
    model_name: str,
    production: Production,
    outcome: KeyOutcome,
) -> ForecastModel | None:
    """Return the model a run that trains nothing forecasts with.

    It forecasts as the run it repeats or defers to did, when that run
    finished (the same forecast again, with the same version or naively for
    the same reason); otherwise with the current production model.
    """
    if claim.settled:
        if claim.forecast_version is None:
            outcome.fallback_reason = (
                claim.other_reason or "the repeated run had no model to forecast with"
            )
            return None
        outcome.forecast_version = claim.forecast_version
        if production.version is not None and (
            str(production.version.version) == claim.forecast_version
        ):
            return production.model
        version = registry.client.get_model_version(model_name, claim.forecast_version)
        return registry.load(version)
    if production.version is None:
        outcome.fallback_reason = "no production model to predict with"
        return None
    outcome.forecast_version = str(production.version.version)
    return production.model


# --------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------


def read_key_attributes(frame: pd.DataFrame, settings: Settings) -> KeyAttributes:
    """Read quality, action and candidate names, which must be constant.

    Raises
    ------
    KeyDataError
        When a column is missing, not constant within the key, or unknown.
    """
    columns = settings.columns
    missing = [
        name
        for name in (columns.quality, columns.action, columns.models)
        if name not in frame.columns
    ]
    if missing:
        raise KeyDataError(f"missing column(s) {missing}")
    quality = _constant(frame, columns.quality)
    action = _constant(frame, columns.action)
    if quality not in QUALITIES:
        raise KeyDataError(
            f"quality {quality!r} is unknown; accepted: {list(QUALITIES)}"
        )
    if action not in ACTIONS:
        raise KeyDataError(f"action {action!r} is unknown; accepted: {list(ACTIONS)}")
    raw_models = frame[columns.models]
    first = raw_models.iloc[0]
    if any(_as_names(value) != _as_names(first) for value in raw_models.iloc[1:]):
        raise KeyDataError(f"column {columns.models!r} is not constant within the key")
    try:
        names = parse_models_column(first, settings.models_config)
    except ValueError as exc:
        raise KeyDataError(str(exc)) from exc
    return KeyAttributes(quality, action, tuple(names))


def execution_key_of(frame: pd.DataFrame, key: str, settings: Settings) -> str | None:
    """Return the key's execution key, or None when its attributes are unusable.

    A key without usable attributes trains nothing, so it needs none.
    """
    try:
        attributes = read_key_attributes(frame, settings)
    except KeyDataError:
        return None
    entries = candidate_entries(attributes, settings)
    return executions.execution_key(key, settings, attributes.action, entries)


def check_forecast_start(series: Series, settings: Settings) -> None:
    """Refuse a history that goes on after the first forecast date.

    Raises
    ------
    SeriesError
        When the first forecast date falls before the last observation: the
        forecast would cover dates already observed, and the models would be
        trained on data from after the dates they forecast.
    """
    first = future_dates(settings.fcst_first_date, 1, series.freq)[0]
    if first < series.last_date:
        raise SeriesError(
            f"the history ends on {series.last_date.date()}, after the first "
            f"forecast date {first.date()}; drop the rows from fcst_first_date "
            "on, or pass a later fcst_first_date"
        )


def claim_execution(
    registry: Registry,
    settings: Settings,
    attributes: KeyAttributes,
    opening: Opening,
    execution_key: str | None,
    model_name: str,
) -> executions.Claim:
    """Claim this execution of the key before anything is logged or registered.

    When this execution (same key, dates and configuration) already finished,
    or a concurrent run owns it, the claim does not proceed: nothing is
    trained and the key forecasts with its production model. When an earlier
    attempt registered a version and died before its unit test, the claim
    resumes that version. See :mod:`kronos.executions`.
    """
    if (
        not settings.idempotent_executions
        or attributes.action == "predict"
        or execution_key is None
        or opening.experiment_id is None
        or opening.run_id is None
    ):
        return executions.Claim(True)
    return executions.claim_execution(
        registry,
        settings,
        opening.experiment_id,
        opening.run_id,
        execution_key,
        model_name,
    )


def record_claim(
    opening: Opening, record: tracking.RunRecord, outcome: KeyOutcome
) -> executions.Claim:
    """Record on the run which run this one repeats, defers to or resumes.

    Raises
    ------
    Exception
        What the claim or the production model's load raised.
    """
    if opening.error is not None:
        raise opening.error
    claim = opening.claim
    if claim.tag is not None and claim.other_run_id is not None:
        record.tag(claim.tag, claim.other_run_id)
        outcome.notes.append(claim.note or "")
        logger.info("key %s: %s", outcome.key, claim.note)
    return claim


def load_production(registry: Registry, model_name: str) -> Production:
    """Return the production version of ``model_name`` and its loaded model."""
    version = registry.production_version(model_name)
    return Production(version, registry.load(version) if version else None)


def read_key_data(
    frame: pd.DataFrame, settings: Settings
) -> tuple[KeyAttributes | None, Series | None, Exception | None]:
    """Read the key's attributes and prepare its series.

    Returns
    -------
    tuple
        The attributes, the series and None; or what could be read and the
        :class:`KeyDataError` or :class:`SeriesError` that stopped it.
    """
    attributes = series = None
    columns = settings.columns
    try:
        attributes = read_key_attributes(frame, settings)
        series = prepare_series(
            frame,
            columns.date,
            columns.metric,
            freq=settings.freq,
            duplicates=settings.duplicates,
            gaps=settings.gaps,
        )
        check_forecast_start(series, settings)
    except (KeyDataError, SeriesError) as exc:
        return attributes, series, exc
    return attributes, series, None


def open_execution(
    registry: Registry,
    settings: Settings,
    key: str,
    frame: pd.DataFrame,
    attributes: KeyAttributes | None,
    model_name: str,
    execution_key: str | None,
) -> Opening:
    """Open the run, then claim the execution and load the production model.

    Without ``attributes`` (the key's data is unusable) only the run is
    opened. Never raises: failures are returned in the :class:`Opening`.
    """
    opening = Opening()
    try:
        opening.run_id, opening.experiment_id = open_run(
            registry.client, settings, key, frame, execution_key
        )
    except Exception as exc:
        opening.tracking_error = exc
        return opening
    if attributes is None:
        return opening
    try:
        opening.claim = claim_execution(
            registry, settings, attributes, opening, execution_key, model_name
        )
        opening.production = load_production(registry, model_name)
    except Exception as exc:
        opening.error = exc
    return opening


def backtest_ahead(
    attributes: KeyAttributes, series: Series, settings: Settings, key: str
) -> Backtested:
    """Backtest a competition's candidates while the execution is being opened.

    What the backtest drops or notes is kept apart, in its own outcome, until
    the execution is known to train.
    """
    ahead = Backtested({}, outcome=KeyOutcome(key=key))
    try:
        ahead.entries = candidate_entries(attributes, settings)
        ahead.results = evaluate_candidates(
            ahead.entries, series, settings, ahead.outcome
        )
    except Exception as exc:
        ahead.error = exc
    return ahead


def open_run(
    client: MlflowClient,
    settings: Settings,
    key: str,
    frame: pd.DataFrame,
    execution_key: str | None = None,
) -> tuple[str, str]:
    """Get or create the key's experiment and start the execution's run.

    The run is tagged with the key, the dates, the kronos version, the key's
    action and quality as found in its first row, the job and the execution
    key.

    Returns
    -------
    tuple of str
        The run id and the experiment id.
    """
    columns = settings.columns
    experiment_id = tracking.get_or_create_experiment(
        client, settings.experiment_name(key)
    )
    tags = {
        "kronos.key": key,
        "kronos.current_date": settings.current_date.isoformat(),
        "kronos.fcst_first_date": settings.fcst_first_date.isoformat(),
        "kronos.version": __version__,
        executions.JOB_TAG: settings.job_id,
    }
    if execution_key is not None:
        tags[executions.EXECUTION_TAG] = execution_key
    for tag, column in (
        ("kronos.action", columns.action),
        ("kronos.quality", columns.quality),
    ):
        if column in frame.columns:
            tags[tag] = str(frame[column].iloc[0])
    run_id, _ = tracking.start_run(
        client, experiment_id, settings.execution_timestamp, tags
    )
    return run_id, experiment_id


def candidate_entries(
    attributes: KeyAttributes, settings: Settings
) -> dict[str, Mapping[str, Any]]:
    """Return the model entries that compete for the key.

    A ``bad`` key trains only the naive model. Ensemble members that the key
    did not name are not added to its competition (they are backtested as the
    ensemble's parts, see :func:`evaluate_candidates`).
    """
    if attributes.quality == "bad":
        return {FALLBACK_MODEL_NAME: FALLBACK_MODEL_ENTRY}
    return {name: settings.models_config[name] for name in attributes.candidates}


def log_candidate_params(
    record: tracking.RunRecord, entries: Mapping[str, Mapping[str, Any]]
) -> None:
    """Record each candidate's flavor and parameters as ``<name>.<param>``."""
    for name, entry in entries.items():
        for param, value in entry.items():
            record.param(f"{name}.{param}", value)


def take_backtest(
    backtested: Backtested, outcome: KeyOutcome
) -> dict[str, CandidateResult]:
    """Return the backtest's results, its notes and drops moved to ``outcome``.

    Raises
    ------
    Exception
        What the backtest raised, such as :class:`SeriesError` when the series
        was too short for a test window.
    """
    if backtested.outcome is not None:
        outcome.notes.extend(backtested.outcome.notes)
        outcome.dropped.update(backtested.outcome.dropped)
    if backtested.error is not None:
        raise backtested.error
    return backtested.results


def evaluate_candidates(
    entries: Mapping[str, Mapping[str, Any]],
    series: Series,
    settings: Settings,
    outcome: KeyOutcome,
) -> dict[str, CandidateResult]:
    """Fit and score every candidate on every test window.

    A candidate that cannot be fitted, forecasts non-finite values, or needs a
    longer series is dropped with its reason in ``outcome.dropped``.
    Ensembles are scored from their members' window forecasts. Members that
    the key did not name are backtested as parts of their ensemble only: they
    do not compete and are not among the returned results.
    """
    windows = test_windows(series, settings)
    if len(windows) < settings.n_windows:
        outcome.notes.append(
            f"series too short for {settings.n_windows} test windows: "
            f"backtested on {len(windows)}"
        )
    results: dict[str, CandidateResult] = {}
    single = {n: e for n, e in entries.items() if e["model_flavor"] != "ensemble"}
    parts = {
        member: settings.models_config[member]
        for entry in entries.values()
        for member in entry.get("members") or ()
        if member not in entries
    }
    for name, entry in {**single, **parts}.items():
        try:
            result = timeouts.run_within(
                settings.candidate_timeout_s,
                functools.partial(
                    backtest_candidate, name, entry, series, windows, settings
                ),
                f"candidate {name}",
            )
        except Exception as exc:
            outcome.dropped[name] = _describe(exc)
            logger.info(
                "key %s: candidate %s dropped: %s", outcome.key, name, _describe(exc)
            )
            continue
        results[name] = result

    for name, entry in entries.items():
        if entry["model_flavor"] == "ensemble":
            try:
                results[name] = score_ensemble(name, entry, results, series, settings)
            except ValueError as exc:
                outcome.dropped[name] = str(exc)
    for name in parts:
        results.pop(name, None)
    return results


def backtest_candidate(
    name: str,
    entry: Mapping[str, Any],
    series: Series,
    windows: list[backtest.Window],
    settings: Settings,
) -> CandidateResult:
    """Fit one candidate on each window's training data and score its forecast.

    Raises
    ------
    Exception
        When the series is too short for it, or it fails to fit or forecast.
    """
    result = CandidateResult(name, entry)
    for window in windows:
        train, test = backtest.window_frames(series.data, window)
        model = build_model(entry, series.freq)
        _check_length(model, entry, len(train))
        model.fit(train)
        yhat = _predict_values(model, pd.DatetimeIndex(test["ds"]))
        result.window_forecasts.append(yhat)
        result.window_metrics.append(
            score(test["y"].to_numpy(), yhat, train["y"].to_numpy(), settings)
        )
        result.model = model
    return result


def score_ensemble(
    name: str,
    entry: Mapping[str, Any],
    results: Mapping[str, CandidateResult],
    series: Series,
    settings: Settings,
) -> CandidateResult:
    """Score an ensemble by combining its members' window forecasts."""
    members = ensemble_members(entry, results, settings)
    combine = np.median if entry.get("method", "mean") == "median" else np.mean
    result = CandidateResult(name, {**entry, "members": members})
    for index, window in enumerate(test_windows(series, settings)):
        train, test = backtest.window_frames(series.data, window)
        stacked = np.vstack([results[m].window_forecasts[index] for m in members])
        yhat = combine(stacked, axis=0)
        result.window_forecasts.append(yhat)
        result.window_metrics.append(
            score(test["y"].to_numpy(), yhat, train["y"].to_numpy(), settings)
        )
    return result


def ensemble_members(
    entry: Mapping[str, Any],
    results: Mapping[str, CandidateResult],
    settings: Settings,
) -> list[str]:
    """Return the members of an ensemble that were scored.

    Named members must all have been scored; ``k`` takes the best ``k`` single
    candidates of the key by combined score.
    """
    if entry.get("members"):
        missing = [m for m in entry["members"] if m not in results]
        if missing:
            raise ValueError(f"members {missing} could not be scored")
        return list(entry["members"])
    singles = {
        n: r for n, r in results.items() if r.entry["model_flavor"] != "ensemble"
    }
    if not singles:
        raise ValueError("no single candidate could be scored")
    ranked = metrics.rank(combine_scores(singles, settings))
    return ranked[: int(entry["k"])]


def test_windows(series: Series, settings: Settings) -> list[backtest.Window]:
    """Place the rolling-origin test windows on the series.

    A key too short for ``n_windows`` windows of ``n_test`` points after at
    least one training point is backtested on as many windows as fit; one too
    short for a single window raises :class:`SeriesError`.
    """
    fitting = max(1, (len(series.data) - 1) // settings.n_test)
    return backtest.rolling_origin_windows(
        len(series.data), settings.n_test, min(settings.n_windows, fitting)
    )


def score(
    actual: np.ndarray, forecast: np.ndarray, train: np.ndarray, settings: Settings
) -> dict[str, float]:
    """Compute every competition metric of one window."""
    season = settings.season_length or 1
    return {
        name: metrics.METRICS[name](
            actual, forecast, y_train=train, season_length=season
        )
        for name in settings.competition_metrics
    }


def score_production(
    production_model: ForecastModel,
    series: Series,
    settings: Settings,
    outcome: KeyOutcome,
    *,
    candidates: Mapping[str, CandidateResult] | None = None,
) -> CandidateResult:
    """Score the production model on the candidates' windows.

    When the production model was trained before the first test window, it
    forecasts the windows as it is. Otherwise it has seen them, so its
    configuration is retrained on each window's training data, as the
    candidates were: no model is judged on data it was trained on. When one
    of ``candidates`` has that very configuration, its retraining on those
    windows has already been done: its window forecasts are production's.
    """
    result = CandidateResult(PRODUCTION, _entry_of(production_model))
    windows = test_windows(series, settings)
    first_test_date = series.data["ds"].iloc[windows[0].test_start]
    as_loaded = (
        production_model.last_date is not None
        and production_model.last_date < first_test_date
    )
    twin = None if as_loaded else _same_configuration(production_model, candidates)
    if twin is not None:
        outcome.notes.append(
            f"production scored by retraining its configuration on each window, "
            f"as candidate {twin.name} was"
        )
        result.window_forecasts = list(twin.window_forecasts)
        result.window_metrics = [dict(window) for window in twin.window_metrics]
        return result
    outcome.notes.append(
        "production scored as loaded"
        if as_loaded
        else "production scored by retraining its configuration on each window"
    )

    def backtest_production() -> CandidateResult:
        for window in windows:
            train, test = backtest.window_frames(series.data, window)
            if as_loaded:
                model = production_model
            else:
                model = copy.deepcopy(production_model)
                _check_length(model, result.entry, len(train))
                model.fit(train)
            yhat = _predict_values(model, pd.DatetimeIndex(test["ds"]))
            result.window_forecasts.append(yhat)
            result.window_metrics.append(
                score(test["y"].to_numpy(), yhat, train["y"].to_numpy(), settings)
            )
        return result

    return timeouts.run_within(
        settings.candidate_timeout_s, backtest_production, "production scoring"
    )


def _same_configuration(
    model: ForecastModel, candidates: Mapping[str, CandidateResult] | None
) -> CandidateResult | None:
    """Return the scored candidate configured exactly as ``model``, if any."""
    if not candidates or model.flavor == "ensemble":
        return None
    wanted = _canonical(_entry_of(model))
    for name, result in candidates.items():
        if (
            name != PRODUCTION
            and result.model is not None
            and result.model.freq == model.freq
            and _canonical(result.entry) == wanted
        ):
            return result
    return None


def _canonical(entry: Mapping[str, Any]) -> str:
    return json.dumps(dict(entry), sort_keys=True, default=str)


def combine_scores(
    results: Mapping[str, CandidateResult], settings: Settings
) -> dict[str, float]:
    """Combine each candidate's mean metrics into one scale-free score."""
    if not results:
        return {}
    return metrics.combined_scores(
        {name: result.mean_metrics() for name, result in results.items()},
        dict(settings.competition_metric_weights),
    )


def pick_winner(scores: Mapping[str, float]) -> str | None:
    """Return the best-scored name; production keeps its place on a tie."""
    finite = {name: value for name, value in scores.items() if math.isfinite(value)}
    if not finite:
        return None
    best = min(finite.values())
    if finite.get(PRODUCTION) == best:
        return PRODUCTION
    return metrics.rank(finite)[0]


def log_scores(
    record: tracking.RunRecord,
    results: Mapping[str, CandidateResult],
    outcome: KeyOutcome,
) -> None:
    """Record per-window metrics, means, combined scores, ranks and drops."""
    ranking = metrics.rank(outcome.scores) if outcome.scores else []
    for name, result in results.items():
        for index, window in enumerate(result.window_metrics):
            for metric, value in window.items():
                record.metric(f"{name}.{metric}.window_{index}", float(value))
        for metric, value in result.mean_metrics().items():
            record.metric(f"{name}.{metric}", float(value))
        record.metric(f"{name}.score", float(outcome.scores[name]))
        record.metric(f"{name}.rank", ranking.index(name) + 1)
        if result.entry.get("model_flavor") == "ensemble":
            record.tag(f"{name}.members", ",".join(result.entry["members"]))
    for name, reason in outcome.dropped.items():
        record.tag(f"{name}.dropped", reason)


def log_candidate_models(
    client: MlflowClient, run_id: str | None, results: Mapping[str, CandidateResult]
) -> None:
    """Log each candidate fitted on its last window under ``candidates/<name>``."""
    fitted = {
        name: result.model
        for name, result in results.items()
        if result.model is not None and name != PRODUCTION
    }
    if not fitted or run_id is None:
        return

    def write(folder: str) -> None:
        for name, model in fitted.items():
            model.save(os.path.join(folder, name))

    tracking.write_artifacts(client, run_id, "candidates", write)


def refit(
    name: str,
    entries: Mapping[str, Mapping[str, Any]],
    series: Series,
    settings: Settings,
    results: Mapping[str, CandidateResult] | None = None,
) -> ForecastModel:
    """Fit the winner's configuration on the whole series.

    An ensemble is refit with the members it was scored with in ``results``
    (its best ``k`` of this key), or else with the members its entry names.

    Raises
    ------
    kronos.timeouts.TimeLimitError
        When the fit runs over ``candidate_timeout_s``.
    """
    entry = entries[name]

    def fit() -> ForecastModel:
        if entry["model_flavor"] != "ensemble":
            return build_model(entry, series.freq).fit(series.data)
        scored = results.get(name) if results else None
        members = scored.entry["members"] if scored else entry["members"]
        configs = {**settings.models_config, **entries}
        fitted = {
            member: build_model(configs[member], series.freq).fit(series.data)
            for member in members
        }
        return EnsembleModel.from_members(fitted, entry.get("method", "mean"))

    return timeouts.run_within(settings.candidate_timeout_s, fit, f"refit of {name}")


def register_model(
    registry: Registry,
    model_name: str,
    model: ForecastModel,
    outcome: KeyOutcome,
    settings: Settings,
) -> ModelVersion:
    """Log the winner under the run's ``model`` folder and register it.

    Pending versions that abandoned executions left are marked first (see
    :func:`kronos.executions.sweep_untested`). The new version's unit-test tag
    is ``pending`` until its test.
    """
    # Created first: a model this execution creates has no pending version of
    # another execution, and the sweep needs no search.
    registry.ensure_model(model_name)
    executions.sweep_untested(registry, model_name, outcome.run_id, settings)
    tracking.write_artifacts(registry.client, outcome.run_id, "model", model.save)
    run_artifacts = tracking.artifact_uri(registry.client, outcome.run_id)
    source = f"{run_artifacts.rstrip('/')}/model"
    tags = {
        "kronos.key": outcome.key,
        "kronos.current_date": settings.current_date.isoformat(),
        CANDIDATE_TAG: outcome.winner or "",
        "kronos.flavor": model.flavor,
        UNIT_TEST_TAG: UNIT_TEST_PENDING,
    }
    if outcome.execution_key:
        tags[executions.EXECUTION_TAG] = outcome.execution_key
    version = registry.register(model_name, source, outcome.run_id, tags)
    outcome.registered_version = str(version.version)
    return version


def stage_and_unit_test(
    registry: Registry, version: ModelVersion, series: Series, settings: Settings
) -> tuple[TestedModel | None, str | None]:
    """Stage ``version``, load it fresh from the registry and unit-test it.

    Returns
    -------
    tuple
        The loaded model and None when the test passed, or the model (None if
        it could not be loaded) and the reason it failed.
    """
    registry.stage(version)
    model: TestedModel | None = None
    try:
        # The files the registry names as this version's source, read back
        # from storage: the version is known by number, so no alias look-up
        # is needed (another execution may even have staged its own since).
        model = TestedModel(registry.load(version))
        failure = unit_test(model, series, settings)
    except Exception as exc:
        failure = f"could not load or forecast: {_describe(exc)}"
    registry.tag(version, UNIT_TEST_TAG, f"failed: {failure}" if failure else "passed")
    return model, failure


class TestedModel:
    """A model loaded for its unit test, keeping the forecast the test made.

    The unit test asks for the dates of the final forecast as well, with the
    final forecast's interval width, and checks the first ``n_unit_test`` of
    them; the final forecast, asked of the same loaded model, is then that
    forecast rather than a second prediction. Everything else is the model's.
    """

    def __init__(self, model: ForecastModel) -> None:
        self.model = model
        self._dates: pd.DatetimeIndex | None = None
        self._interval_width: float | None = None
        self._forecast: pd.DataFrame | None = None

    def predict_ahead(
        self, dates: pd.DatetimeIndex, series: Series, settings: Settings
    ) -> pd.DataFrame:
        """Forecast ``dates`` and the final forecast's dates in one prediction.

        Returns the rows of ``dates``, or the whole forecast when it does not
        begin with them.
        """
        final = future_dates(
            settings.fcst_first_date, settings.forecast_horizon, series.freq
        )
        both = final if len(final) >= len(dates) else dates
        forecast = self.model.predict(both, interval_width=settings.interval_width)
        self._dates, self._interval_width = final, settings.interval_width
        self._forecast = forecast.head(len(final)).reset_index(drop=True)
        head = forecast.head(len(dates)).reset_index(drop=True)
        if len(head) == len(dates) and pd.DatetimeIndex(head["ds"]).equals(dates):
            return head
        return forecast

    def predict(
        self, dates: pd.DatetimeIndex, interval_width: float | None = None
    ) -> pd.DataFrame:
        """Return the kept forecast when it is of these dates, else predict."""
        if (
            self._forecast is not None
            and self._interval_width == interval_width
            and self._dates is not None
            and self._dates.equals(pd.DatetimeIndex(dates))
        ):
            return self._forecast.copy()
        return self.model.predict(dates, interval_width=interval_width)

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes the wrapper lacks; "model" itself is
        # missing while a copy is being built, and must not recurse.
        if name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)


def unit_test(model: ForecastModel, series: Series, settings: Settings) -> str | None:
    """Check that ``model`` forecasts ``n_unit_test`` finite points.

    Returns
    -------
    str or None
        None when the test passed, else what went wrong.
    """
    dates = future_dates(settings.fcst_first_date, settings.n_unit_test, series.freq)
    if isinstance(model, TestedModel):
        forecast = model.predict_ahead(dates, series, settings)
    else:
        forecast = model.predict(dates)
    if len(forecast) != len(dates):
        return f"forecast {len(forecast)} points instead of {len(dates)}"
    if not pd.DatetimeIndex(forecast["ds"]).equals(dates):
        return "forecast dates differ from the requested dates"
    if not np.isfinite(forecast["yhat"].to_numpy(dtype=float)).all():
        return "forecast has non-finite values"
    return None


def final_forecast(
    model: ForecastModel | None, series: Series, settings: Settings
) -> pd.DataFrame:
    """Forecast ``forecast_horizon`` dates from ``fcst_first_date``.

    Without a model, the naive forecast is returned (the reason is already in
    the outcome). With ``interval_width``, a model that has no intervals of
    its own gets bounds from its errors on the key's backtest windows
    (:mod:`kronos.intervals`).
    """
    if model is None:
        return naive_forecast(series, settings)
    dates = future_dates(
        settings.fcst_first_date, settings.forecast_horizon, series.freq
    )
    forecast = model.predict(dates, interval_width=settings.interval_width)
    if not np.isfinite(forecast["yhat"].to_numpy(dtype=float)).all():
        raise ValueError("the production model forecast non-finite values")
    if settings.interval_width is not None and "yhat_lower" not in forecast:
        # The model has no intervals of its own: bounds from its backtest errors.
        try:
            windows = test_windows(series, settings)
        except SeriesError:
            windows = []
        forecast = intervals.add_residual_bounds(
            forecast, model, series.data, windows, settings.interval_width
        )
    return forecast


def production_or_naive(
    production: Production,
    series: Series | None,
    settings: Settings,
    outcome: KeyOutcome,
) -> pd.DataFrame:
    """Forecast with the loaded production model, or naively without one.

    Used when the lifecycle broke off: the production model, if it was loaded
    before, still forecasts (nothing more is asked of tracking).
    """
    outcome.forecast_version = None
    if production.model is not None and production.version is not None:
        try:
            forecast = final_forecast(production.model, series, settings)
        except Exception as exc:
            outcome.notes.append(f"production model failed: {_describe(exc)}")
        else:
            outcome.forecast_version = str(production.version.version)
            return forecast
    return naive_forecast(series, settings)


def abandon_untested(
    registry: Registry,
    model_name: str,
    outcome: KeyOutcome,
    record: tracking.RunRecord,
) -> None:
    """Mark the version this execution registered abandoned if it was not tested.

    Best effort: when tracking is down the version stays ``pending`` and the
    next execution of the key marks it (see :mod:`kronos.executions`).
    """
    if outcome.registered_version is None or outcome.unit_test is not None:
        return
    try:
        version = registry.client.get_model_version(
            model_name, outcome.registered_version
        )
        executions.abandon_version(
            registry,
            version,
            f"run {outcome.run_id} failed before the unit test: "
            f"{outcome.fallback_reason}",
        )
    except Exception as exc:
        logger.info(
            "key %s: version %s left pending: %s",
            outcome.key,
            outcome.registered_version,
            _describe(exc),
        )
        return
    record.tag(executions.CLEANED_TAG, f"by run {outcome.run_id}")


def naive_forecast(series: Series | None, settings: Settings) -> pd.DataFrame:
    """Return the last observed value for every forecast date (NaN if none)."""
    freq = series.freq if series is not None else (settings.freq or "D")
    dates = future_dates(settings.fcst_first_date, settings.forecast_horizon, freq)
    last = float(series.data["y"].iloc[-1]) if series is not None else math.nan
    return pd.DataFrame({"ds": dates, "yhat": last})


def output_frame(
    key: str, forecast: pd.DataFrame, series: Series | None, settings: Settings
) -> pd.DataFrame:
    """Shape a forecast into the output columns of the result schema."""
    columns = settings.columns
    dates = pd.DatetimeIndex(forecast["ds"])
    sub_daily = series is not None and _is_sub_daily(series.freq)
    days = (
        (settings.current_date - series.last_date.date()).days
        if series is not None
        else None
    )
    out = pd.DataFrame(
        {
            columns.key: key,
            columns.date: list(dates.to_pydatetime())
            if sub_daily
            else [d.date() for d in dates],
            columns.fcst: forecast["yhat"].astype("float32").to_numpy(),
            columns.dt_creation: settings.current_date,
            columns.dt_reference: settings.fcst_first_date,
            columns.days_from_last_obs: pd.array([days] * len(dates), dtype="Int32"),
        }
    )
    if settings.interval_width is not None:
        for source, target in (
            ("yhat_lower", columns.fcst_lower),
            ("yhat_upper", columns.fcst_upper),
        ):
            if source in forecast:
                out[target] = forecast[source].to_numpy(dtype="float32")
            else:
                out[target] = np.float32(math.nan)
    return out


def log_execution_plot(
    client: MlflowClient,
    outcome: KeyOutcome,
    series: Series,
    forecast: pd.DataFrame,
    settings: Settings,
) -> None:
    """Log the execution's picture as the run's artifact ``plots/forecast.png``.

    It shows the winner's forecast of the last test window against the
    actuals, and the final forecast after the history. A picture that cannot
    be drawn or logged is reported in the worker log; the key goes on.
    """
    try:
        actual = predicted = None
        if outcome.test_forecast is not None:
            window = test_windows(series, settings)[-1]
            _, actual = backtest.window_frames(series.data, window)
            predicted = actual.assign(yhat=outcome.test_forecast)
        with tempfile.TemporaryDirectory(prefix="kronos-plots-") as tmp:
            path = os.path.join(tmp, "forecast.png")
            plots.plot_execution(
                series.data,
                actual,
                predicted,
                forecast,
                path,
                title=outcome.key,
                winner=outcome.winner,
            )
            tracking.log_directory(client, outcome.run_id, tmp, "plots")
    except Exception as exc:
        logger.warning(
            "key %s: plot not logged: %s", outcome.key, tracking.redact(str(exc))
        )


def close_run(
    client: MlflowClient,
    outcome: KeyOutcome,
    record: tracking.RunRecord,
    failed: bool = False,
) -> None:
    """Record the outcome on the run and end it; tracking errors are logged.

    The run ends FAILED when ``failed`` (the lifecycle broke off), so that a
    later execution of the same key, date and configuration redoes it.
    """
    record.tag("kronos.winner", outcome.winner or "")
    record.tag("kronos.promoted", outcome.promoted)
    if outcome.registered_version:
        record.tag("kronos.registered_version", outcome.registered_version)
    if outcome.forecast_version:
        record.tag("kronos.forecast_version", outcome.forecast_version)
    if outcome.unit_test:
        record.tag(UNIT_TEST_TAG, outcome.unit_test)
    if outcome.fallback_reason:
        record.tag("kronos.fallback_reason", outcome.fallback_reason)
    if outcome.notes:
        record.tag("kronos.notes", "; ".join(outcome.notes))
    try:
        tracking.flush(client, outcome.run_id, record)
        tracking.end_run(client, outcome.run_id, failed=failed)
    except Exception as exc:
        logger.warning("key %s: could not close run: %s", outcome.key, _describe(exc))
        outcome.notes.append(f"run not closed: {_describe(exc)}")


def outcome_columns(outcome: KeyOutcome) -> dict[str, Any]:
    """Return the outcome as the values of the ``kronos_*`` output columns."""
    return {
        "kronos_action": outcome.action,
        "kronos_quality": outcome.quality,
        "kronos_winner": outcome.winner,
        "kronos_scores": json.dumps(
            {name: _json_number(value) for name, value in outcome.scores.items()}
        ),
        "kronos_dropped": json.dumps(outcome.dropped),
        "kronos_registered_version": outcome.registered_version,
        "kronos_unit_test": outcome.unit_test,
        "kronos_promoted": outcome.promoted,
        "kronos_forecast_version": outcome.forecast_version,
        "kronos_fallback_reason": outcome.fallback_reason,
        "kronos_run_id": outcome.run_id,
    }


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _fallback_result(
    outcome: KeyOutcome, series: Series | None, settings: Settings
) -> KeyResult:
    _log_outcome(outcome)
    forecast = naive_forecast(series, settings)
    return KeyResult(output_frame(outcome.key, forecast, series, settings), outcome)


def _refused_key_result(
    raw_key: Any, exc: UnsafeKeyError, frame: pd.DataFrame, settings: Settings
) -> KeyResult:
    """Return the naive forecast of a key that no safe MLflow name can hold."""
    shown = repr(str(raw_key))
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    logger.warning("key %s refused: %s", shown, exc)
    outcome = KeyOutcome(key=str(raw_key), fallback_reason=f"key refused: {exc}")
    series = _salvage_series(frame, settings)
    forecast = output_frame(
        outcome.key, naive_forecast(series, settings), series, settings
    )
    if raw_key is None or (isinstance(raw_key, float) and math.isnan(raw_key)):
        forecast[settings.columns.key] = None
    return KeyResult(forecast, outcome)


def _salvage_series(frame: pd.DataFrame, settings: Settings) -> Series | None:
    """Salvage the last finite observation of unusable data, if there is one.

    Numbers in the date column are not dates (they would read as instants of
    1970), so they salvage nothing.
    """
    columns = settings.columns
    try:
        if pd.api.types.is_numeric_dtype(frame[columns.date].dtype):
            return None
        dates = pd.to_datetime(frame[columns.date], errors="coerce", utc=True)
        values = pd.to_numeric(frame[columns.metric], errors="coerce")
    except (KeyError, TypeError, ValueError):
        return None
    usable = pd.DataFrame({"ds": dates.dt.tz_localize(None), "y": values})
    usable = usable[usable["ds"].notna() & np.isfinite(usable["y"])]
    if usable.empty:
        return None
    usable = usable.sort_values("ds").tail(1).reset_index(drop=True)
    last = usable["ds"].iloc[-1]
    return Series(
        data=usable,
        freq=settings.freq or "D",
        last_date=last,
        notes=("kept only the last valid observation",),
    )


def _log_outcome(outcome: KeyOutcome) -> None:
    logger.info(
        "key %s: action=%s winner=%s registered=%s promoted=%s fallback=%s",
        outcome.key,
        outcome.action,
        outcome.winner,
        outcome.registered_version,
        outcome.promoted,
        outcome.fallback_reason,
    )


def _is_later(version: ModelVersion, settings: Settings) -> bool:
    """Whether ``version`` was registered for a later processing date."""
    registered_for = executions.processing_date(version)
    return registered_for > settings.current_date.isoformat()


def _production_candidate(version: ModelVersion) -> str:
    return (version.tags or {}).get(CANDIDATE_TAG) or "production_config"


def _entry_of(model: ForecastModel) -> dict[str, Any]:
    return {"model_flavor": model.flavor, **model.params}


def _check_length(model: ForecastModel, entry: Mapping[str, Any], n: int) -> None:
    params = {k: v for k, v in entry.items() if k != "model_flavor"}
    if isinstance(model, EnsembleModel):
        # The class-level minimum of an ensemble is 1; its members decide.
        needed = model.required_train_length
    else:
        needed = type(model).min_train_length(params)
    if n < needed:
        raise SeriesError(f"needs at least {needed} training points, the key has {n}")


def _predict_values(model: ForecastModel, dates: pd.DatetimeIndex) -> np.ndarray:
    yhat = model.predict(dates)["yhat"].to_numpy(dtype=float)
    if len(yhat) != len(dates) or not np.isfinite(yhat).all():
        raise ValueError("forecast has missing or non-finite values")
    return yhat


def _constant(frame: pd.DataFrame, column: str) -> Any:
    values = frame[column].dropna().unique()
    if len(values) != 1:
        shown = [str(v) for v in values[:3]]
        raise KeyDataError(
            f"column {column!r} must hold one value per key, found {shown or 'none'}"
        )
    return values[0]


def _as_names(value: Any) -> Any:
    if value is None or isinstance(value, str | float):
        return value
    return tuple(value.tolist() if hasattr(value, "tolist") else value)


def _is_sub_daily(freq: str) -> bool:
    offset = pd.tseries.frequencies.to_offset(freq)
    try:
        return pd.Timedelta(offset) < pd.Timedelta(days=1)
    except ValueError:
        return False


def _json_number(value: float) -> float | str:
    return round(value, 6) if math.isfinite(value) else str(value)


def _describe(exc: BaseException) -> str:
    """Return the first line of ``exc`` with credentials removed, at most 500."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = tracking.redact(text)
    return f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__


__all__ = [
    "CANDIDATE_TAG",
    "PRODUCTION",
    "KeyOutcome",
    "KeyResult",
    "forecast_key",
]
