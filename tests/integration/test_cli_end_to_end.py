"""``kronos run`` and ``kronos plot`` end to end: local Spark, Delta, real MLflow."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import uuid
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from kronos import cli
from kronos.demo import generate_panel

pytestmark = pytest.mark.integration

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
N_KEYS, DAYS, HORIZON = 4, 120, 7
CURRENT_DATE = dt.date(2024, 7, 1)  # the day after generate_panel's last date
BAD_KEY = "meter_04"
MODELS = {
    "naive_1": {"model_flavor": "naive"},
    "weekly_1": {"model_flavor": "seasonal_naive", "season_length": 7},
}


@contextlib.contextmanager
def logging_restored():
    """``main`` configures logging as a program does; undo it afterwards."""
    kronos_logger, root = logging.getLogger("kronos"), logging.getLogger()
    levels, handlers = (kronos_logger.level, root.level), list(root.handlers)
    try:
        yield
    finally:
        kronos_logger.setLevel(levels[0])
        root.setLevel(levels[1])
        root.handlers[:] = handlers


@pytest.fixture(autouse=True)
def keep_logging_as_it_was():
    with logging_restored():
        yield


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    panel = generate_panel(n_keys=N_KEYS, days=DAYS)
    panel["models"] = "naive_1,weekly_1"
    panel.loc[panel["id"] == BAD_KEY, "quality"] = "bad"
    panel.to_parquet(folder / "panel.parquet", index=False)
    (folder / "models.json").write_text(json.dumps(MODELS), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def prefix() -> str:
    """Experiment and model names of this module, apart from other tests'."""
    return f"cli_{uuid.uuid4().hex[:8]}"


def write_job(workdir: Path, prefix: str, tracking_uri: str) -> Path:
    path = workdir / "job.toml"
    path.write_text(
        f"""
models = "models.json"

[input]
path = "panel.parquet"

[dates]
current_date = {CURRENT_DATE.isoformat()}

[forecast]
n_test = 14
n_unit_test = 7
forecast_horizon = {HORIZON}

[mlflow]
tracking_uri = "{tracking_uri}"
registry_uri = "{tracking_uri}"
experiment_name_template = "{prefix}/{{key}}"
model_name_template = "{prefix}_{{key}}"

[output]
path = "forecasts"

[report]
path = "outcomes"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def job_run(spark, mlflow_sqlite_server, workdir, prefix):
    """Run ``kronos run`` once, in this process, and keep what it wrote."""
    job = write_job(workdir, prefix, mlflow_sqlite_server.tracking_uri)
    out = io.StringIO()
    with logging_restored(), contextlib.redirect_stdout(out):
        code = cli.main(["run", "--config", str(job)])
    return code, out.getvalue()


def test_run_succeeds(job_run):
    code, _ = job_run

    assert code == 0


def test_run_merges_the_horizon_of_every_key_into_delta(spark, job_run, workdir):
    forecasts = spark.read.format("delta").load(str(workdir / "forecasts")).toPandas()

    assert len(forecasts) == N_KEYS * HORIZON
    assert sorted(forecasts["id"].unique()) == [
        f"meter_{i:02d}" for i in range(1, N_KEYS + 1)
    ]
    assert set(forecasts["dt_creation"]) == {CURRENT_DATE}
    assert set(forecasts["dt_reference"]) == {CURRENT_DATE}
    assert min(forecasts["date"]) == CURRENT_DATE
    assert not any(column.startswith("kronos_") for column in forecasts.columns)
    assert forecasts["fcst"].notna().all()


def test_run_ends_with_one_summary_line_per_key(job_run):
    _, out = job_run

    lines = out.splitlines()
    header = next(
        i for i, line in enumerate(lines) if line.split()[:2] == ["key", "action"]
    )
    table = lines[header + 1 : header + 1 + N_KEYS]
    assert [line.split()[0] for line in table] == [
        f"meter_{i:02d}" for i in range(1, N_KEYS + 1)
    ]
    for line in table:
        assert " competition " in line
        assert " passed " in line and " yes " in line
    bad = next(line for line in table if line.startswith(BAD_KEY))
    assert " naive " in bad
    assert f"{N_KEYS} key(s): {N_KEYS} registered, {N_KEYS} promoted, 0 fallback" in out
    assert f"processing date {CURRENT_DATE}" in out


def test_run_appends_the_outcome_report(spark, job_run, workdir):
    outcomes = spark.read.format("delta").load(str(workdir / "outcomes")).toPandas()

    assert len(outcomes) == N_KEYS
    assert outcomes["kronos_promoted"].all()
    assert set(outcomes["forecast_rows"]) == {HORIZON}
    assert set(outcomes["dt_creation"]) == {CURRENT_DATE}


def test_each_run_holds_the_execution_plot(
    job_run, mlflow_sqlite_server, prefix, tmp_path
):
    client = MlflowClient(mlflow_sqlite_server.tracking_uri)
    experiment = client.get_experiment_by_name(f"{prefix}/meter_01")
    [run] = client.search_runs([experiment.experiment_id])

    artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "plots")]
    assert artifacts == ["plots/forecast.png"]
    local = client.download_artifacts(
        run.info.run_id, "plots/forecast.png", str(tmp_path)
    )
    data = Path(local).read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 10_000


def test_plot_draws_the_chosen_keys(job_run, workdir, tmp_path, capsys):
    out = tmp_path / "plots"

    code = cli.main(
        [
            "plot",
            "--input",
            str(workdir / "panel.parquet"),
            "--forecast",
            str(workdir / "forecasts"),
            "--forecast-format",
            "delta",
            "--keys",
            "meter_01,meter_02",
            "--out",
            str(out),
        ]
    )

    assert code == 0
    for key in ("meter_01", "meter_02"):
        data = (out / f"{key}.png").read_bytes()
        assert data[:8] == PNG_SIGNATURE and len(data) > 5_000
    assert f"wrote {out / 'meter_01.png'}" in capsys.readouterr().out


def test_plot_takes_tables_and_columns_from_the_job_file(
    job_run, workdir, tmp_path, capsys
):
    code = cli.main(
        [
            "plot",
            "--config",
            str(workdir / "job.toml"),
            "--keys",
            "meter_03",
            "nowhere",
            "--out",
            str(tmp_path),
        ]
    )

    assert code == 1
    assert (tmp_path / "meter_03.png").read_bytes()[:8] == PNG_SIGNATURE
    assert "no forecast for key 'nowhere'" in capsys.readouterr().err


def test_an_unreadable_input_fails_on_one_line(spark, workdir, tmp_path, capsys):
    job = (workdir / "job.toml").read_text(encoding="utf-8")
    broken = tmp_path / "job.toml"
    broken.write_text(
        job.replace('path = "panel.parquet"', 'path = "missing.parquet"').replace(
            'models = "models.json"', f'models = "{workdir / "models.json"}"'
        ),
        encoding="utf-8",
    )

    assert cli.main(["run", "--config", str(broken), "-q"]) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("kronos run: error: cannot read the input")


def test_keys_without_plots_when_turned_off(mlflow_sqlite_server, prefix):
    from kronos.forecast_udf import forecast_udf_gen

    panel = generate_panel(n_keys=1, days=60)
    panel["models"] = "naive_1"
    client = MlflowClient(mlflow_sqlite_server.tracking_uri)
    forecast_udf = forecast_udf_gen(
        client,
        "id",
        "date",
        "value",
        "quality",
        "action",
        "models",
        MODELS,
        "days_from_last_obs",
        CURRENT_DATE,
        CURRENT_DATE,
        14,
        7,
        HORIZON,
        "dt_creation",
        "dt_reference",
        experiment_name_template=f"{prefix}_noplot/{{key}}",
        model_name_template=f"{prefix}_noplot_{{key}}",
        log_plots=False,
        with_outcome=True,
    )

    rows = forecast_udf(panel)

    run_id = rows["kronos_run_id"].iloc[0]
    assert rows["kronos_promoted"].all()
    assert client.list_artifacts(run_id, "plots") == []
