"""The job file of ``kronos run``: read, checked and typed before Spark starts.

A job file is TOML (``.toml``) or YAML (``.yaml``, ``.yml``) with these
sections; only ``forecast`` and ``output`` and one of ``input.path`` or
``input.table`` are required::

    [input]     path or table; format (delta, parquet, csv); partitions
    [columns]   key, date, metric, quality, action, models, and the output
                columns fcst, dt_creation, dt_reference, days_from_last_obs,
                fcst_lower, fcst_upper
    models      a table of model entries, or the path of a JSON file holding it
    [dates]     current_date, fcst_first_date, timezone
    [forecast]  n_test, n_unit_test, forecast_horizon and the optional
                settings of forecast_udf_gen (n_windows, competition_metrics...)
    [mlflow]    tracking_uri, registry_uri, registry_mode, aliases, templates,
                the retries and time-out of MLflow requests
    [output]    path or table; format (delta, parquet)
    [report]    path or table; format (delta, parquet): the per-key outcome,
                appended at each run

Relative file paths are relative to the job file's folder; paths with a
scheme (``dbfs:/``, ``abfss://``, ``s3://``...) are used as they are.

Every mistake raises :class:`JobConfigError` with one line that names the
file, the field, the bad value and what to write instead.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import logging
import os
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

INPUT_FORMATS = ("delta", "parquet", "csv")
OUTPUT_FORMATS = ("delta", "parquet")

#: Column fields and their defaults (the names of the demo panel).
COLUMN_DEFAULTS: Mapping[str, str] = {
    "key": "id",
    "date": "date",
    "metric": "value",
    "quality": "quality",
    "action": "action",
    "models": "models",
    "fcst": "fcst",
    "dt_creation": "dt_creation",
    "dt_reference": "dt_reference",
    "days_from_last_obs": "days_from_last_obs",
    "fcst_lower": "fcst_lower",
    "fcst_upper": "fcst_upper",
}

#: Fields of ``[forecast]`` that must be given.
REQUIRED_FORECAST_FIELDS = ("n_test", "n_unit_test", "forecast_horizon")

#: Optional fields of ``[forecast]``: keyword-only settings of forecast_udf_gen.
FORECAST_SETTINGS = (
    "competition_metrics",
    "competition_metric_weights",
    "season_length",
    "n_windows",
    "interval_width",
    "freq",
    "duplicates",
    "gaps",
    "log_candidate_models",
    "log_plots",
    "registration_timeout_s",
    "candidate_timeout_s",
    "idempotent_executions",
    "stale_run_after_s",
)

#: Optional fields of ``[mlflow]`` that are keyword-only settings.
MLFLOW_SETTINGS = (
    "registry_mode",
    "staging_alias",
    "production_alias",
    "experiment_name_template",
    "model_name_template",
    "http_max_retries",
    "http_backoff_factor",
    "http_timeout_s",
)

_SECTIONS = (
    "input",
    "columns",
    "models",
    "dates",
    "forecast",
    "mlflow",
    "output",
    "report",
)
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")


class JobConfigError(ValueError):
    """A job file cannot be read, or one of its fields is wrong."""


@dataclass(frozen=True)
class TableSpec:
    """Where a table is: a path (with its format) or a table name."""

    path: str | None = None
    table: str | None = None
    format: str | None = None

    @property
    def target(self) -> str:
        """The path, or else the table name."""
        return self.path or self.table or ""

    def describe(self) -> str:
        """Say where the table is, for log lines."""
        if self.path:
            return f"{self.format or 'inferred'} path {self.path}"
        return f"table {self.table}"


@dataclass(frozen=True)
class JobConfig:
    """A checked job file.

    ``settings`` holds the keyword-only settings to pass to
    :func:`kronos.forecast_udf.forecast_udf_gen` as they are.
    """

    input: TableSpec
    output: TableSpec
    columns: Mapping[str, str]
    models_config: Mapping[str, Any]
    n_test: int
    n_unit_test: int
    forecast_horizon: int
    timezone: str = "UTC"
    current_date: dt.date | None = None
    fcst_first_date: dt.date | None = None
    partitions: int | None = None
    tracking_uri: str | None = None
    registry_uri: str | None = None
    report: TableSpec | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def resolve_dates(self, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
        """Return the processing date and the first forecast date.

        A missing ``current_date`` is today in ``timezone`` (``today`` when
        given); a missing ``fcst_first_date`` is the processing date.
        """
        current = self.current_date
        if current is None:
            current = today or dt.datetime.now(zoneinfo.ZoneInfo(self.timezone)).date()
        return current, self.fcst_first_date or current

    def udf_arguments(
        self, current_date: dt.date, fcst_first_date: dt.date
    ) -> dict[str, Any]:
        """Return the arguments of forecast_udf_gen, except the client."""
        columns = self.columns
        return {
            "key_col": columns["key"],
            "date_col": columns["date"],
            "metric_col": columns["metric"],
            "quality_col": columns["quality"],
            "action_col": columns["action"],
            "models_col": columns["models"],
            "models_config": dict(self.models_config),
            "days_from_last_obs_col": columns["days_from_last_obs"],
            "current_date": current_date,
            "fcst_first_date": fcst_first_date,
            "n_test": self.n_test,
            "n_unit_test": self.n_unit_test,
            "forecast_horizon": self.forecast_horizon,
            "dt_creation_col": columns["dt_creation"],
            "dt_reference_col": columns["dt_reference"],
            "fcst_col": columns["fcst"],
            "fcst_lower_col": columns["fcst_lower"],
            "fcst_upper_col": columns["fcst_upper"],
            **self.settings,
        }

    @property
    def input_columns(self) -> list[str]:
        """The input columns the job needs."""
        names = ("key", "date", "metric", "quality", "action", "models")
        return [self.columns[name] for name in names]


def load_job_config(path: str | os.PathLike[str]) -> JobConfig:
    """Read and check a job file.

    Parameters
    ----------
    path
        A ``.toml``, ``.yaml`` or ``.yml`` file.

    Returns
    -------
    JobConfig
        The checked configuration, relative paths resolved against the file's
        folder.

    Raises
    ------
    JobConfigError
        When the file is missing, does not parse, or a field is wrong; the
        message names the file and the field.
    """
    file = Path(path)
    raw = read_job_file(file)
    try:
        return parse_job_config(raw, base_dir=file.resolve().parent)
    except JobConfigError as exc:
        raise JobConfigError(f"{file}: {exc}") from None


def read_job_file(path: Path) -> dict[str, Any]:
    """Return the top-level table of a TOML or YAML job file.

    Raises
    ------
    JobConfigError
        When the file is missing, unreadable, of another kind, or malformed.
    """
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise JobConfigError(
            f"{path}: a job file must end in .toml, .yaml or .yml, got "
            f"{suffix or 'no extension'!r}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JobConfigError(f"{path}: no such job file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise JobConfigError(f"{path}: cannot read the job file ({exc})") from None

    if suffix == ".toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise JobConfigError(f"{path}: not valid TOML: {exc}") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            at = (
                f" at line {where.line + 1}, column {where.column + 1}" if where else ""
            )
            problem = getattr(exc, "problem", None) or "malformed"
            raise JobConfigError(f"{path}: not valid YAML{at}: {problem}") from None
    if not isinstance(data, dict):
        raise JobConfigError(
            f"{path}: the job file must hold a table of sections such as "
            "[input], [forecast] and [output], got "
            f"{type(data).__name__ if data is not None else 'nothing'}"
        )
    return data


def parse_job_config(raw: Mapping[str, Any], base_dir: Path | None = None) -> JobConfig:
    """Check the parsed content of a job file and return it typed.

    Parameters
    ----------
    raw
        The top-level table, as TOML or YAML parse it.
    base_dir
        The folder relative paths are resolved against; the working directory
        when None.

    Raises
    ------
    JobConfigError
        Naming the first wrong field (``section.field``), its value and the
        fix.
    """
    base = base_dir or Path.cwd()
    _no_unknown(raw, _SECTIONS, "the job file", "section")

    input_section = _section(raw, "input", required=True)
    _no_unknown(input_section, ("path", "table", "format", "partitions"), "[input]")
    source = _table_spec(input_section, "input", INPUT_FORMATS, base, default=None)
    partitions = input_section.get("partitions")
    if partitions is not None:
        partitions = _positive_int(partitions, "input.partitions")

    output_section = _section(raw, "output", required=True)
    _no_unknown(output_section, ("path", "table", "format"), "[output]")
    output = _table_spec(output_section, "output", OUTPUT_FORMATS, base, "delta")

    report = None
    if "report" in raw:
        report_section = _section(raw, "report", required=True)
        _no_unknown(report_section, ("path", "table", "format"), "[report]")
        report = _table_spec(report_section, "report", OUTPUT_FORMATS, base, "delta")

    columns_section = _section(raw, "columns")
    _no_unknown(columns_section, tuple(COLUMN_DEFAULTS), "[columns]")
    columns = dict(COLUMN_DEFAULTS)
    for name, value in columns_section.items():
        columns[name] = _string(value, f"columns.{name}")

    dates = _section(raw, "dates")
    _no_unknown(dates, ("current_date", "fcst_first_date", "timezone"), "[dates]")
    timezone = _timezone(dates.get("timezone", "UTC"))
    current_date = _optional_date(dates.get("current_date"), "dates.current_date")
    fcst_first_date = _optional_date(
        dates.get("fcst_first_date"), "dates.fcst_first_date"
    )

    forecast = _section(raw, "forecast", required=True)
    _no_unknown(forecast, REQUIRED_FORECAST_FIELDS + FORECAST_SETTINGS, "[forecast]")
    for name in REQUIRED_FORECAST_FIELDS:
        if name not in forecast:
            raise JobConfigError(
                f"forecast.{name} is missing; set it to a positive integer, "
                f"such as {name} = 14"
            )
    settings = {name: forecast[name] for name in FORECAST_SETTINGS if name in forecast}

    mlflow_section = _section(raw, "mlflow")
    _no_unknown(
        mlflow_section, ("tracking_uri", "registry_uri", *MLFLOW_SETTINGS), "[mlflow]"
    )
    # forecast_udf_gen checks these settings and names them in its errors.
    for name in MLFLOW_SETTINGS:
        if name in mlflow_section:
            settings[name] = mlflow_section[name]
    tracking_uri = _optional_string(
        mlflow_section.get("tracking_uri"), "mlflow.tracking_uri"
    )
    registry_uri = _optional_string(
        mlflow_section.get("registry_uri"), "mlflow.registry_uri"
    )

    return JobConfig(
        input=source,
        output=output,
        columns=columns,
        models_config=_models_config(raw.get("models"), base),
        n_test=_positive_int(forecast["n_test"], "forecast.n_test"),
        n_unit_test=_positive_int(forecast["n_unit_test"], "forecast.n_unit_test"),
        forecast_horizon=_positive_int(
            forecast["forecast_horizon"], "forecast.forecast_horizon"
        ),
        timezone=timezone,
        current_date=current_date,
        fcst_first_date=fcst_first_date,
        partitions=partitions,
        tracking_uri=tracking_uri,
        registry_uri=registry_uri,
        report=report,
        settings=settings,
    )


def parse_date_text(value: Any, field_name: str) -> dt.date:
    """Return an ISO date (a string, or a date as TOML and YAML read it).

    Raises
    ------
    JobConfigError
        Naming ``field_name`` when the value is not a date.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise JobConfigError(
        f"{field_name}={value!r} is not a date; write it as YYYY-MM-DD, "
        "such as 2024-06-30"
    )


# --------------------------------------------------------------------------
# Fields
# --------------------------------------------------------------------------


def _section(raw: Mapping[str, Any], name: str, required: bool = False) -> dict:
    if name not in raw:
        if required:
            raise JobConfigError(
                f"the section [{name}] is missing; see examples/job.toml for one"
            )
        return {}
    value = raw[name]
    if not isinstance(value, Mapping):
        raise JobConfigError(
            f"[{name}] must be a table of fields, got {_short(value)}; write it "
            f"as a [{name}] section"
        )
    return dict(value)


def _no_unknown(
    table: Mapping[str, Any], accepted: tuple[str, ...], where: str, kind="field"
) -> None:
    for name in table:
        if name in accepted:
            continue
        close = difflib.get_close_matches(str(name), accepted, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise JobConfigError(
            f"{where} has an unknown {kind} {name!r}; {hint}accepted: "
            f"{', '.join(accepted)}"
        )


def _table_spec(
    section: Mapping[str, Any],
    name: str,
    formats: tuple[str, ...],
    base: Path,
    default: str | None,
) -> TableSpec:
    path = _optional_string(section.get("path"), f"{name}.path")
    table = _optional_string(section.get("table"), f"{name}.table")
    if (path is None) == (table is None):
        raise JobConfigError(
            f"[{name}] needs exactly one of path (a Delta, parquet or CSV path) "
            f"or table (a table name), got {'both' if path else 'neither'}"
        )
    fmt = section.get("format")
    if fmt is not None and fmt not in formats:
        raise JobConfigError(
            f"{name}.format={fmt!r} is not accepted; use one of {list(formats)}"
        )
    if table is not None:
        if fmt not in (None, "delta"):
            raise JobConfigError(
                f"{name}.format={fmt!r} applies to a path; a table is read and "
                f"written as it is: drop {name}.format or give {name}.path"
            )
        return TableSpec(table=table)
    return TableSpec(path=_resolve_path(path, base), format=fmt or default)


def _models_config(value: Any, base: Path) -> dict[str, Any]:
    if value is None:
        raise JobConfigError(
            "models is missing; give the model entries as a table "
            '([models.naive_1] model_flavor = "naive") or the path of a JSON '
            'file (models = "models.json")'
        )
    if isinstance(value, str):
        path = Path(_resolve_path(value, base))
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise JobConfigError(
                f"models={str(path)!r}: no such file; give the path of a JSON "
                "file of model entries, relative to the job file"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise JobConfigError(
                f"models={str(path)!r}: cannot read it ({exc})"
            ) from None
        except json.JSONDecodeError as exc:
            raise JobConfigError(
                f"models={str(path)!r} is not valid JSON ({exc.msg} at line "
                f"{exc.lineno}, column {exc.colno})"
            ) from None

    from kronos.config import parse_models_config

    try:
        return parse_models_config(value)
    except ValueError as exc:
        raise JobConfigError(f"models: {exc}") from None


def _resolve_path(value: str, base: Path) -> str:
    if _URI_SCHEME.match(value) or os.path.isabs(value):
        return value
    return str((base / value).resolve())


def _timezone(value: Any) -> str:
    name = _string(value, "dates.timezone")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise JobConfigError(
            f"dates.timezone={name!r} is not a known time zone; use an IANA "
            "name such as 'UTC' or 'Europe/Rome'"
        ) from None
    return name


def _optional_date(value: Any, field_name: str) -> dt.date | None:
    return None if value is None else parse_date_text(value, field_name)


def _positive_int(value: Any, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise JobConfigError(
            f"{field_name}={_short(value)} is invalid; write a positive integer "
            "such as 7"
        )
    return value


def _string(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise JobConfigError(
            f"{field_name}={_short(value)} is invalid; write a non-empty string"
        )
    return value


def _optional_string(value: Any, field_name: str) -> str | None:
    return None if value is None else _string(value, field_name)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = [
    "COLUMN_DEFAULTS",
    "FORECAST_SETTINGS",
    "INPUT_FORMATS",
    "MLFLOW_SETTINGS",
    "OUTPUT_FORMATS",
    "REQUIRED_FORECAST_FIELDS",
    "JobConfig",
    "JobConfigError",
    "TableSpec",
    "load_job_config",
    "parse_date_text",
    "parse_job_config",
    "read_job_file",
]
