"""Settings of a forecasting job: parsed once, validated, typed.

Everything a user passes to :func:`kronos.forecast_udf.forecast_udf_gen` is
checked here, before any Spark job starts. A mistake raises :class:`ValueError`
naming the field, the bad value and how to fix it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kronos import metrics, naming
from kronos.models import ModelConfigError, validate_model_entry

logger = logging.getLogger(__name__)

QUALITIES = ("good", "bad")
ACTIONS = ("competition", "training", "predict")
REGISTRY_MODES = ("aliases", "stages")
DUPLICATE_POLICIES = ("reject", "mean", "sum", "last")
GAP_POLICIES = ("interpolate", "zero", "ffill", "reject")

#: The model a ``bad`` key trains, and every key's fallback.
FALLBACK_MODEL_NAME = "naive"
FALLBACK_MODEL_ENTRY: Mapping[str, Any] = {"model_flavor": "naive"}


@dataclass(frozen=True)
class Columns:
    """Names of the input and output columns."""

    key: str
    date: str
    metric: str
    quality: str
    action: str
    models: str
    fcst: str
    dt_creation: str
    dt_reference: str
    days_from_last_obs: str
    fcst_lower: str
    fcst_upper: str


@dataclass(frozen=True)
class Settings:
    """Everything one execution needs, already validated.

    Instances are pickled to the Spark workers with the forecasting function,
    so they hold only plain values (no client, no session).
    """

    columns: Columns
    models_config: Mapping[str, Mapping[str, Any]]
    current_date: dt.date
    fcst_first_date: dt.date
    n_test: int
    n_unit_test: int
    forecast_horizon: int
    # Kept out of the repr: a URI may carry credentials.
    tracking_uri: str = field(repr=False)
    registry_uri: str = field(repr=False)
    execution_timestamp: str
    competition_metrics: tuple[str, ...] = ("rmse",)
    competition_metric_weights: Mapping[str, float] = field(
        default_factory=lambda: {"rmse": 1.0}
    )
    season_length: int | None = None
    n_windows: int = 1
    interval_width: float | None = None
    freq: str | None = None
    duplicates: str = "mean"
    gaps: str = "interpolate"
    registry_mode: str = "aliases"
    staging_alias: str = "challenger"
    production_alias: str = "champion"
    experiment_name_template: str = "{key}"
    model_name_template: str = "{key}"
    log_candidate_models: bool = True
    log_plots: bool = True
    registration_timeout_s: float = 120.0
    candidate_timeout_s: float | None = 600.0
    with_outcome: bool = False
    idempotent_executions: bool = True
    stale_run_after_s: float = 3600.0
    http_max_retries: int = 3
    http_backoff_factor: int = 1
    http_timeout_s: int = 60
    job_id: str = ""

    def experiment_name(self, key: Any) -> str:
        """Return the MLflow experiment name of ``key``, escaped.

        Raises
        ------
        kronos.naming.UnsafeKeyError
            When no safe name can be made from the key.
        """
        return naming.experiment_name(self.experiment_name_template, key)

    def model_name(self, key: Any) -> str:
        """Return the registered model name of ``key``, escaped.

        Raises
        ------
        kronos.naming.UnsafeKeyError
            When no safe name can be made from the key.
        """
        return naming.model_name(
            self.model_name_template,
            key,
            unity_catalog=naming.is_unity_catalog(self.registry_uri),
        )


def parse_models_config(
    models_config: str | Mapping[str, Any],
) -> dict[str, dict[str, Any]]:
    """Parse and validate ``models_config``.

    Parameters
    ----------
    models_config
        A JSON object, as a string or a mapping, from model name to its
        configuration: ``{"prophet_1": {"model_flavor": "prophet", ...}}``.

    Raises
    ------
    ValueError
        On malformed JSON, an empty mapping, an unknown flavor or parameter, a
        wrong type, or an ensemble member that is not another model's name.
    """
    if isinstance(models_config, str):
        try:
            parsed = json.loads(models_config)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"models_config is not valid JSON ({exc.msg} at line {exc.lineno}, "
                f"column {exc.colno}); pass a JSON object such as "
                '\'{"prophet_1": {"model_flavor": "prophet"}}\''
            ) from exc
    else:
        parsed = models_config
    if not isinstance(parsed, Mapping) or not parsed:
        raise ValueError(
            f"models_config must be a non-empty JSON object mapping a model name "
            f"to its configuration, got {_short(parsed)}"
        )

    config: dict[str, dict[str, Any]] = {}
    for name, entry in parsed.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(
                f"models_config has an invalid model name {name!r}: "
                "use a non-empty string"
            )
        if not isinstance(entry, Mapping):
            raise ValueError(
                f"models_config[{name!r}] must be an object with a 'model_flavor' "
                f"field, got {_short(entry)}"
            )
        try:
            validate_model_entry(name, entry)
        except ModelConfigError as exc:
            raise ValueError(str(exc)) from exc
        config[name] = dict(entry)

    for name, entry in config.items():
        for member in entry.get("members") or ():
            if member not in config or member == name:
                raise ValueError(
                    f"models_config[{name!r}].members names {member!r}, which is "
                    f"not another model of models_config; accepted: "
                    f"{sorted(set(config) - {name})}"
                )
    return config


def parse_models_column(value: Any, models_config: Mapping[str, Any]) -> list[str]:
    """Return the candidate names of one key from its ``models_col`` value.

    An array of strings or a comma-separated string; empty or null means every
    model of ``models_config``.

    Raises
    ------
    ValueError
        When a name is not a key of ``models_config``.
    """
    if value is None or (isinstance(value, float) and value != value):
        names: list[str] = []
    elif isinstance(value, str):
        names = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, Sequence) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else list(value)
        names = [str(part).strip() for part in items if str(part).strip()]
    else:
        raise ValueError(
            f"the models column holds {_short(value)}; use an array of model "
            "names or a comma-separated string"
        )
    unknown = [name for name in names if name not in models_config]
    if unknown:
        raise ValueError(
            f"unknown model name(s) {unknown} in the models column; "
            f"accepted: {sorted(models_config)}"
        )
    return names or list(models_config)


def parse_date(value: Any, field_name: str) -> dt.date:
    """Return ``value`` (a date, a datetime or an ISO string) as a date.

    Raises
    ------
    ValueError
        Naming ``field_name`` when the value is none of these.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise ValueError(
        f"{field_name}={value!r} is not a date; pass a datetime.date or an ISO "
        "string such as '2024-01-31'"
    )


def positive_int(value: Any, field_name: str) -> int:
    """Return ``value`` as an int, refusing zero, negatives and non-integers."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"{field_name}={value!r} is invalid; pass a positive integer such as 7"
        )
    return value


def bounded_int(value: Any, field_name: str, low: int, high: int) -> int:
    """Return ``value`` if it is an integer from ``low`` to ``high``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
    ):
        raise ValueError(
            f"{field_name}={value!r} is invalid; pass an integer from {low} to {high}"
        )
    return value


def non_negative_number(value: Any, field_name: str) -> float:
    """Return ``value`` as a float if it is a finite number of 0 or more."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value < float("inf")
    ):
        raise ValueError(
            f"{field_name}={value!r} is invalid; pass a number of seconds of 0 or "
            "more, such as 3600"
        )
    return float(value)


def time_limit(value: Any, field_name: str) -> float | None:
    """Return ``value`` as seconds (a finite number above 0), or None for none."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value < float("inf")
    ):
        raise ValueError(
            f"{field_name}={value!r} is invalid; pass a number of seconds above 0, "
            "such as 600, or None for no limit"
        )
    return float(value)


def one_of(value: Any, field_name: str, accepted: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``accepted``, else raise ValueError."""
    if value not in accepted:
        raise ValueError(
            f"{field_name}={value!r} is not accepted; use one of {list(accepted)}"
        )
    return value


def column_name(value: Any, field_name: str) -> str:
    """Return ``value`` if it is a usable column name."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"{field_name}={value!r} is not a column name; pass the column's name "
            "as a non-empty string"
        )
    return value


def parse_competition_metrics(
    names: str | Sequence[str],
    weights: Sequence[float] | Mapping[str, float] | None,
) -> tuple[tuple[str, ...], dict[str, float]]:
    """Validate the competition metrics and their weights.

    Returns
    -------
    tuple
        The metric names and a weight per metric, normalised to sum to one.
    """
    metric_names = (names,) if isinstance(names, str) else tuple(names)
    if not metric_names:
        raise ValueError(
            "competition_metrics is empty; name at least one of "
            f"{sorted(metrics.METRICS)}"
        )
    for name in metric_names:
        metrics.validate_metric_name(name, "competition_metrics")
    return metric_names, metrics.validate_weights(list(metric_names), weights)


def validate_name_template(template: Any, field_name: str) -> str:
    """Check that a name template holds ``{key}`` and nothing else to format."""
    if not isinstance(template, str) or "{key}" not in template:
        raise ValueError(
            f"{field_name}={template!r} must be a string containing '{{key}}', "
            "for example '/Shared/kronos/{key}'"
        )
    try:
        template.format(key="k")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"{field_name}={template!r} has a placeholder other than '{{key}}'; "
            "double any literal braces"
        ) from exc
    return template


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
