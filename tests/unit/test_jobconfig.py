"""The job file of ``kronos run``: parsing, defaults and one-line errors."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import textwrap
from pathlib import Path

import pytest

from kronos import jobconfig
from kronos.jobconfig import JobConfigError, load_job_config, parse_job_config

REPO = Path(__file__).resolve().parents[2]

MINIMAL_TOML = """
[input]
path = "data/panel.parquet"

[models.naive_1]
model_flavor = "naive"

[forecast]
n_test = 14
n_unit_test = 7
forecast_horizon = 7

[output]
path = "out/forecasts"
"""

MINIMAL_YAML = """
input:
  path: data/panel.parquet
models:
  naive_1:
    model_flavor: naive
forecast:
  n_test: 14
  n_unit_test: 7
  forecast_horizon: 7
output:
  path: out/forecasts
"""


def minimal() -> dict:
    return {
        "input": {"path": "/data/panel.parquet"},
        "models": {"naive_1": {"model_flavor": "naive"}},
        "forecast": {"n_test": 14, "n_unit_test": 7, "forecast_horizon": 7},
        "output": {"path": "/out/forecasts"},
    }


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_minimal_toml_file_gets_the_documented_defaults(tmp_path):
    job = load_job_config(write(tmp_path, "job.toml", MINIMAL_TOML))

    assert job.input.path == str(tmp_path / "data" / "panel.parquet")
    assert job.input.format is None
    assert job.output.format == "delta"
    assert job.columns == dict(jobconfig.COLUMN_DEFAULTS)
    assert job.timezone == "UTC"
    assert job.current_date is None and job.fcst_first_date is None
    assert job.tracking_uri is None and job.registry_uri is None
    assert job.report is None
    assert job.settings == {}
    assert (job.n_test, job.n_unit_test, job.forecast_horizon) == (14, 7, 7)


def test_yaml_and_toml_files_give_the_same_job(tmp_path):
    from_toml = load_job_config(write(tmp_path, "job.toml", MINIMAL_TOML))
    from_yaml = load_job_config(write(tmp_path, "job.yml", MINIMAL_YAML))

    assert from_yaml == from_toml


def test_every_section_is_read(tmp_path):
    (tmp_path / "models.json").write_text(
        json.dumps({"naive_1": {"model_flavor": "naive"}}), encoding="utf-8"
    )
    path = write(
        tmp_path,
        "job.toml",
        """
        models = "models.json"

        [input]
        table = "main.energy.readings"
        partitions = 8

        [columns]
        key = "meter_id"
        metric = "kwh"

        [dates]
        current_date = 2024-06-30
        fcst_first_date = "2024-07-01"
        timezone = "Europe/Rome"

        [forecast]
        n_test = 28
        n_unit_test = 7
        forecast_horizon = 14
        n_windows = 2
        log_plots = false

        [mlflow]
        tracking_uri = "http://127.0.0.1:5000"
        registry_mode = "stages"

        [output]
        path = "s3://bucket/forecasts"
        format = "parquet"

        [report]
        table = "main.energy.outcomes"
        """,
    )
    job = load_job_config(path)

    assert job.input.table == "main.energy.readings" and job.input.path is None
    assert job.partitions == 8
    assert job.columns["key"] == "meter_id" and job.columns["date"] == "date"
    assert job.current_date == dt.date(2024, 6, 30)
    assert job.fcst_first_date == dt.date(2024, 7, 1)
    assert job.timezone == "Europe/Rome"
    assert job.settings == {
        "n_windows": 2,
        "log_plots": False,
        "registry_mode": "stages",
    }
    assert job.tracking_uri == "http://127.0.0.1:5000"
    assert job.output.path == "s3://bucket/forecasts"
    assert job.output.format == "parquet"
    assert job.report.table == "main.energy.outcomes"
    assert job.models_config == {"naive_1": {"model_flavor": "naive"}}


def test_missing_current_date_is_today_and_first_date_follows_it():
    job = parse_job_config(minimal())

    assert job.resolve_dates(today=dt.date(2024, 3, 1)) == (
        dt.date(2024, 3, 1),
        dt.date(2024, 3, 1),
    )


def test_missing_current_date_is_today_in_the_configured_time_zone():
    raw = minimal()
    raw["dates"] = {"timezone": "Pacific/Kiritimati"}
    job = parse_job_config(raw)

    current, _ = job.resolve_dates()

    # UTC+14: the date there is never behind the date in UTC.
    assert current >= dt.datetime.now(dt.UTC).date()


def test_given_dates_win_over_today():
    raw = minimal()
    raw["dates"] = {"current_date": "2024-06-30"}
    job = parse_job_config(raw)

    assert job.resolve_dates(today=dt.date(2030, 1, 1)) == (
        dt.date(2024, 6, 30),
        dt.date(2024, 6, 30),
    )


def test_paths_with_a_scheme_or_absolute_are_kept(tmp_path):
    raw = minimal()
    raw["input"] = {"path": "dbfs:/mnt/raw/panel", "format": "delta"}
    raw["output"] = {"path": "/abs/out"}
    job = parse_job_config(raw, base_dir=tmp_path)

    assert job.input.path == "dbfs:/mnt/raw/panel"
    assert job.output.path == "/abs/out"


def test_udf_arguments_are_parameters_of_forecast_udf_gen():
    from kronos.forecast_udf import forecast_udf_gen

    raw = minimal()
    raw["forecast"]["n_windows"] = 2
    raw["mlflow"] = {"model_name_template": "m_{key}"}
    arguments = parse_job_config(raw).udf_arguments(
        dt.date(2024, 1, 1), dt.date(2024, 1, 2)
    )

    parameters = inspect.signature(forecast_udf_gen).parameters
    assert set(arguments) <= set(parameters) - {"client"}
    assert arguments["n_windows"] == 2
    assert arguments["model_name_template"] == "m_{key}"


def test_optional_settings_are_keyword_settings_of_forecast_udf_gen():
    from kronos.forecast_udf import forecast_udf_gen

    keyword_only = {
        name
        for name, parameter in inspect.signature(forecast_udf_gen).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
    assert set(jobconfig.FORECAST_SETTINGS) <= keyword_only
    assert set(jobconfig.MLFLOW_SETTINGS) <= keyword_only


def test_a_job_file_can_give_every_setting_of_forecast_udf_gen():
    from kronos.forecast_udf import forecast_udf_gen

    keyword_only = {
        name
        for name, parameter in inspect.signature(forecast_udf_gen).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
    # Output column names come from [columns]; the command sets with_outcome.
    from_columns = {"fcst_col", "fcst_lower_col", "fcst_upper_col"}
    reachable = set(jobconfig.FORECAST_SETTINGS) | set(jobconfig.MLFLOW_SETTINGS)

    missing = keyword_only - reachable - from_columns - {"with_outcome"}
    assert not missing, (
        f"add {sorted(missing)} to FORECAST_SETTINGS or MLFLOW_SETTINGS of "
        "kronos/jobconfig.py and to the README's job file table"
    )


def test_the_example_job_file_is_valid():
    job = load_job_config(REPO / "examples" / "job.toml")

    assert job.input.table
    assert job.output.table
    assert len(job.models_config) >= 2


def _without(section: str, field: str) -> dict:
    raw = minimal()
    del raw[section][field]
    return raw


def _with(section: str, field: str, value: object) -> dict:
    raw = minimal()
    raw.setdefault(section, {})[field] = value
    return raw


def _drop(section: str) -> dict:
    raw = minimal()
    del raw[section]
    return raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_drop("input"), r"the section \[input\] is missing"),
        (_drop("output"), r"the section \[output\] is missing"),
        (_drop("forecast"), r"the section \[forecast\] is missing"),
        (_drop("models"), r"models is missing; give the model entries"),
        (
            {**minimal(), "inputs": {}},
            r"unknown section 'inputs'; did you mean 'input'",
        ),
        (_with("input", "table", "t"), r"\[input\] needs exactly one of path .* both"),
        (_without("input", "path"), r"\[input\] needs exactly one of path .* neither"),
        (_with("input", "format", "orc"), r"input.format='orc' is not accepted"),
        (_with("input", "partitions", 0), r"input.partitions=0 is invalid"),
        (_with("forecast", "n_tset", 3), r"unknown field 'n_tset'; did you mean"),
        (_without("forecast", "n_test"), r"forecast.n_test is missing"),
        (_with("forecast", "n_test", "28"), r"forecast.n_test='28' is invalid"),
        (_with("forecast", "forecast_horizon", 0), r"forecast_horizon=0 is invalid"),
        (_with("dates", "timezone", "Mars/Base"), r"dates.timezone='Mars/Base'"),
        (_with("dates", "current_date", "30/06/2024"), r"current_date='30/06/2024'"),
        (_with("columns", "key", ""), r"columns.key='' is invalid"),
        (_with("columns", "keys", "id"), r"\[columns\] has an unknown field 'keys'"),
        (_with("output", "format", "csv"), r"output.format='csv' is not accepted"),
        ({**minimal(), "mlflow": "http://x"}, r"\[mlflow\] must be a table"),
        (_with("mlflow", "tracking_uri", 5), r"mlflow.tracking_uri=5 is invalid"),
        (
            {**minimal(), "models": {"m": {"model_flavor": "nope"}}},
            r"models: .*nope",
        ),
        (
            {**minimal(), "output": {"table": "t", "format": "parquet"}},
            r"output.format='parquet' applies to a path",
        ),
    ],
)
def test_a_wrong_field_is_named_in_one_line(raw, message):
    with pytest.raises(JobConfigError, match=message) as info:
        parse_job_config(raw)

    assert "\n" not in str(info.value)


def test_missing_models_file_is_named(tmp_path):
    raw = minimal()
    raw["models"] = "missing.json"

    with pytest.raises(JobConfigError, match=r"missing.json'?: no such file"):
        parse_job_config(raw, base_dir=tmp_path)


def test_malformed_models_file_is_named(tmp_path):
    (tmp_path / "models.json").write_text("{not json", encoding="utf-8")
    raw = minimal()
    raw["models"] = "models.json"

    with pytest.raises(JobConfigError, match=r"is not valid JSON"):
        parse_job_config(raw, base_dir=tmp_path)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("job.toml", "[input\npath = 1", r"job.toml: not valid TOML"),
        ("job.yaml", "input: [1, 2\n", r"job.yaml: not valid YAML at line"),
        ("job.yml", "- a\n- b\n", r"must hold a table of sections"),
        ("job.yml", "", r"must hold a table of sections.*got nothing"),
        ("job.json", "{}", r"must end in .toml, .yaml or .yml"),
    ],
)
def test_an_unreadable_file_is_named_in_one_line(tmp_path, name, text, message):
    path = write(tmp_path, name, text)

    with pytest.raises(JobConfigError, match=message) as info:
        load_job_config(path)

    assert "\n" not in str(info.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(JobConfigError, match=r"nope.toml: no such job file"):
        load_job_config(tmp_path / "nope.toml")


def test_errors_of_a_file_name_the_file(tmp_path):
    path = write(
        tmp_path, "job.toml", MINIMAL_TOML.replace("n_test = 14", "n_test = -1")
    )

    with pytest.raises(
        JobConfigError, match=r"job.toml: forecast.n_test=-1 is invalid"
    ):
        load_job_config(path)
