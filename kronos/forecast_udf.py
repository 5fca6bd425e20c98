"""The public entry point: :func:`forecast_udf_gen`.

The factory validates every setting, captures the tracking and registry URIs
of the client it is given, and returns the function that
``df.groupby(key).applyInPandas(fn, schema=...)`` runs on each key.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import urllib.parse
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from kronos import config, naming, retry, tracking
from kronos.lifecycle import forecast_key, outcome_columns

logger = logging.getLogger(__name__)


def run_forecast(frame: pd.DataFrame, settings: config.Settings) -> pd.DataFrame:
    """Run the lifecycle on one key's rows and return its output rows."""
    tracking.quiet_mlflow()
    tracking.mark_databricks_runtime_absent()
    key_column = settings.columns.key
    if key_column not in frame.columns:
        raise KeyError(
            f"key_col={key_column!r} is not a column of the input; the input has "
            f"{sorted(frame.columns)}"
        )
    with retry.http_policy(
        settings.http_max_retries, settings.http_backoff_factor, settings.http_timeout_s
    ):
        result = forecast_key(frame, settings)
    if not settings.with_outcome:
        return result.forecast
    return result.forecast.assign(**outcome_columns(result.outcome))


def forecast_udf_gen(
    client: MlflowClient,
    key_col: str,
    date_col: str,
    metric_col: str,
    quality_col: str,
    action_col: str,
    models_col: str,
    models_config: str | Mapping[str, Any],
    days_from_last_obs_col: str,
    current_date: dt.date | str,
    fcst_first_date: dt.date | str,
    n_test: int,
    n_unit_test: int,
    forecast_horizon: int,
    dt_creation_col: str,
    dt_reference_col: str,
    *,
    fcst_col: str = "fcst",
    fcst_lower_col: str = "fcst_lower",
    fcst_upper_col: str = "fcst_upper",
    competition_metrics: str | Sequence[str] = "rmse",
    competition_metric_weights: Sequence[float] | Mapping[str, float] | None = None,
    season_length: int | None = None,
    n_windows: int = 1,
    interval_width: float | None = None,
    freq: str | None = None,
    duplicates: str = "mean",
    gaps: str = "interpolate",
    registry_mode: str = "aliases",
    staging_alias: str = "challenger",
    production_alias: str = "champion",
    experiment_name_template: str = "{key}",
    model_name_template: str = "{key}",
    log_candidate_models: bool = True,
    log_plots: bool = True,
    registration_timeout_s: float = 120.0,
    candidate_timeout_s: float | None = 600.0,
    with_outcome: bool = False,
    idempotent_executions: bool = True,
    stale_run_after_s: float = 3600.0,
    http_max_retries: int = 3,
    http_backoff_factor: int = 1,
    http_timeout_s: int = 60,
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Build the function that forecasts each key with the full lifecycle.

    Parameters
    ----------
    client
        An ``MlflowClient``; its tracking and registry URIs travel with the
        function to every Spark worker.
    key_col, date_col, metric_col
        The series key, its dates and its values.
    quality_col
        ``"good"`` (the models of ``models_col`` compete) or ``"bad"`` (only the
        naive model is trained).
    action_col
        ``"competition"``, ``"training"`` or ``"predict"``.
    models_col
        The names of ``models_config`` that compete for the key: an array or a
        comma-separated string; empty or null means all of them.
    models_config
        A JSON object (string or mapping) from model name to configuration.
    days_from_last_obs_col, dt_creation_col, dt_reference_col
        Output columns: days from the last observation to ``current_date``,
        ``current_date``, and ``fcst_first_date``.
    current_date
        The processing date.
    fcst_first_date
        The first forecast date.
    n_test
        Observations in each test window.
    n_unit_test
        Points the staged model must forecast in its unit test.
    forecast_horizon
        Rows returned per key, from ``fcst_first_date`` on.
    dt_creation_col, dt_reference_col
        See above.
    fcst_col, fcst_lower_col, fcst_upper_col
        Output columns of the forecast and of its interval bounds.
    competition_metrics, competition_metric_weights
        Metric name(s) that score candidates, and their weights (equal by
        default), combined scale-free.
    season_length
        Season used by ``mase`` (1 when not given).
    n_windows
        Rolling-origin test windows of ``n_test`` points each.
    interval_width
        When set (between 0 and 1), lower and upper bounds are returned.
    freq
        The series frequency (a pandas alias); inferred per key when None.
    duplicates, gaps
        How duplicate dates and missing periods are handled; see
        :func:`kronos.series.prepare_series`.
    registry_mode
        ``"aliases"`` (default; Unity Catalog) or ``"stages"``.
    staging_alias, production_alias
        Alias names in ``aliases`` mode.
    experiment_name_template, model_name_template
        Templates with ``{key}`` for experiment and registered model names, for
        example ``"/Shared/kronos/{key}"`` or ``"main.forecasts.{key}"``.
    log_candidate_models
        Log every candidate's model, not only the registered winner's.
    log_plots
        Log a PNG of the winner's test-window forecast against the actuals and
        of the final forecast after the history, as the run's artifact
        ``plots/forecast.png``.
    registration_timeout_s
        How long to wait for a new model version to become READY.
    candidate_timeout_s
        Seconds one candidate may take to be fitted and scored on all its test
        windows (and the winner to be refitted); a candidate over the limit is
        dropped with the reason, and the key goes on without waiting for it.
        None for no limit. See :mod:`kronos.timeouts`.
    with_outcome
        Add the ``kronos_*`` outcome columns to every row (build the schema with
        ``kronos.result_schema(..., outcome=True)``).
    idempotent_executions
        Look up, before training, a previous run of the same key, processing
        date and configuration; when one finished, train and register nothing
        and forecast with production (see ``docs/reliability.md``). False
        retrains on every call.
    stale_run_after_s
        A run of another job still RUNNING after this many seconds is taken for
        dead: its execution is redone and its untested versions are marked
        abandoned. Younger ones are taken for concurrent executions. Set 0 when
        rerunning a failed job that no other job overlaps.
    http_max_retries, http_backoff_factor, http_timeout_s
        Retries of a failed MLflow request (0 to 10), the backoff unit in
        seconds (0 to 120; waits are about ``factor * (2 + 4 + ...)``), and
        the seconds one request may wait for an answer. They bound the time a
        key spends when the tracking server is down.

    Returns
    -------
    Callable
        The function to pass to ``applyInPandas``. It holds only the validated
        settings (its ``settings`` attribute), so it pickles to the workers with
        the tracking and registry URIs inside; called on one key's pandas frame
        it returns exactly the rows the Spark job returns for that key.

    Raises
    ------
    ValueError
        When a setting is invalid; the message names the field, the value and
        the fix.
    """
    metric_names, weights = config.parse_competition_metrics(
        competition_metrics, competition_metric_weights
    )
    if interval_width is not None and not (
        isinstance(interval_width, float | int) and 0 < interval_width < 1
    ):
        raise ValueError(
            f"interval_width={interval_width!r} is invalid; pass a number between "
            "0 and 1 such as 0.8, or None for no interval"
        )
    names = {
        "key_col": key_col,
        "date_col": date_col,
        "metric_col": metric_col,
        "quality_col": quality_col,
        "action_col": action_col,
        "models_col": models_col,
        "fcst_col": fcst_col,
        "dt_creation_col": dt_creation_col,
        "dt_reference_col": dt_reference_col,
        "days_from_last_obs_col": days_from_last_obs_col,
        "fcst_lower_col": fcst_lower_col,
        "fcst_upper_col": fcst_upper_col,
    }
    for field_name, value in names.items():
        config.column_name(value, field_name)
    columns = config.Columns(
        key=key_col,
        date=date_col,
        metric=metric_col,
        quality=quality_col,
        action=action_col,
        models=models_col,
        fcst=fcst_col,
        dt_creation=dt_creation_col,
        dt_reference=dt_reference_col,
        days_from_last_obs=days_from_last_obs_col,
        fcst_lower=fcst_lower_col,
        fcst_upper=fcst_upper_col,
    )
    tracking_uri, registry_uri = client_uris(client)
    settings = config.Settings(
        columns=columns,
        models_config=config.parse_models_config(models_config),
        current_date=config.parse_date(current_date, "current_date"),
        fcst_first_date=config.parse_date(fcst_first_date, "fcst_first_date"),
        n_test=config.positive_int(n_test, "n_test"),
        n_unit_test=config.positive_int(n_unit_test, "n_unit_test"),
        forecast_horizon=config.positive_int(forecast_horizon, "forecast_horizon"),
        tracking_uri=tracking_uri,
        registry_uri=registry_uri,
        execution_timestamp=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        competition_metrics=metric_names,
        competition_metric_weights=weights,
        season_length=None
        if season_length is None
        else config.positive_int(season_length, "season_length"),
        n_windows=config.positive_int(n_windows, "n_windows"),
        interval_width=None if interval_width is None else float(interval_width),
        freq=_check_freq(freq),
        duplicates=config.one_of(duplicates, "duplicates", config.DUPLICATE_POLICIES),
        gaps=config.one_of(gaps, "gaps", config.GAP_POLICIES),
        registry_mode=config.one_of(
            registry_mode, "registry_mode", config.REGISTRY_MODES
        ),
        staging_alias=_alias(staging_alias, "staging_alias"),
        production_alias=_alias(production_alias, "production_alias"),
        experiment_name_template=config.validate_name_template(
            experiment_name_template, "experiment_name_template"
        ),
        model_name_template=config.validate_name_template(
            model_name_template, "model_name_template"
        ),
        log_candidate_models=bool(log_candidate_models),
        log_plots=bool(log_plots),
        registration_timeout_s=float(registration_timeout_s),
        candidate_timeout_s=config.time_limit(
            candidate_timeout_s, "candidate_timeout_s"
        ),
        with_outcome=bool(with_outcome),
        idempotent_executions=bool(idempotent_executions),
        stale_run_after_s=config.non_negative_number(
            stale_run_after_s, "stale_run_after_s"
        ),
        http_max_retries=config.bounded_int(
            http_max_retries, "http_max_retries", 0, retry.MAX_RETRIES_LIMIT
        ),
        http_backoff_factor=config.bounded_int(
            http_backoff_factor, "http_backoff_factor", 0, retry.MAX_BACKOFF_FACTOR
        ),
        http_timeout_s=config.bounded_int(http_timeout_s, "http_timeout_s", 1, 3600),
        job_id=uuid.uuid4().hex,
    )
    naming.validate_templates(
        settings.experiment_name_template,
        settings.model_name_template,
        unity_catalog=naming.is_unity_catalog(registry_uri),
    )
    if settings.staging_alias == settings.production_alias:
        raise ValueError(
            f"staging_alias and production_alias are both "
            f"{settings.staging_alias!r}; give them different names"
        )
    logger.info(
        "forecast function ready: %d model(s), tracking at %s, registry mode %s",
        len(settings.models_config),
        _redact(tracking_uri),
        settings.registry_mode,
    )

    def forecast_udf(frame: pd.DataFrame) -> pd.DataFrame:
        return run_forecast(frame, settings)

    forecast_udf.settings = settings  # type: ignore[attr-defined]
    return forecast_udf


def client_uris(client: MlflowClient) -> tuple[str, str]:
    """Return the client's tracking and registry URIs, local paths made absolute.

    Spark workers run in other directories, so a relative local store would
    point them elsewhere.
    """
    tracking_uri = absolute_uri(client.tracking_uri)
    registry_uri = getattr(client, "_registry_uri", None) or mlflow.get_registry_uri()
    return tracking_uri, absolute_uri(registry_uri)


def absolute_uri(uri: str) -> str:
    """Make a local store URI absolute; other URIs are returned unchanged."""
    if uri.startswith(("databricks", "uc")):
        return uri
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme in ("", "file"):
        path = parsed.path if parsed.scheme == "file" else uri
        return urllib.parse.urlunparse(("file", "", os.path.abspath(path), "", "", ""))
    if parsed.scheme == "sqlite" and not uri.startswith("sqlite:////"):
        relative = uri[len("sqlite:///") :]
        if relative and relative != ":memory:":
            return f"sqlite:///{os.path.abspath(relative)}"
    return uri


def _check_freq(freq: str | None) -> str | None:
    if freq is None:
        return None
    try:
        pd.tseries.frequencies.to_offset(freq)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"freq={freq!r} is not a pandas frequency; use one such as 'D', "
            "'W-SUN', 'MS', 'QS', 'YS' or 'h', or None to infer it"
        ) from exc
    return freq


def _alias(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not value.replace("_", "").isalnum():
        raise ValueError(
            f"{field_name}={value!r} is not a valid alias; use letters, digits and "
            "underscores, such as 'champion'"
        )
    return value


def _redact(uri: str) -> str:
    """Hide credentials in a URI before it is logged."""
    return tracking.redact(uri)
