"""The ``kronos`` command line without Spark: help, arguments, job files."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from kronos import __version__, cli

REPO = Path(__file__).resolve().parents[2]

VALID_JOB = """
[input]
path = "panel.parquet"

[models.naive_1]
model_flavor = "naive"

[forecast]
n_test = 14
n_unit_test = 7
forecast_horizon = 7

[mlflow]
tracking_uri = "http://127.0.0.1:9"

[output]
path = "forecasts"
"""


@pytest.fixture(autouse=True)
def keep_logging_as_it_was():
    """``main`` configures logging as a program does; undo it after each test."""
    kronos_logger, root = logging.getLogger("kronos"), logging.getLogger()
    levels, handlers = (kronos_logger.level, root.level), list(root.handlers)
    yield
    kronos_logger.setLevel(levels[0])
    root.setLevel(levels[1])
    root.handlers[:] = handlers


@pytest.fixture
def no_spark(monkeypatch):
    """Fail the test if a command tries to start Spark."""

    def refuse():
        raise AssertionError("Spark must not start")

    monkeypatch.setattr(cli, "start_session", refuse)


def job_file(tmp_path: Path, text: str = VALID_JOB, name: str = "job.toml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    [group] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(group.choices)


# --------------------------------------------------------------------------
# Help
# --------------------------------------------------------------------------


def test_top_level_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0

    out = capsys.readouterr().out
    for command in ("run", "demo", "plot"):
        assert f"    {command} " in out
    assert "Exit codes" in out


@pytest.mark.parametrize(
    ("command", "phrases"),
    [
        ("run", ["--config", "--current-date", "--check", "today in", "summary"]),
        ("demo", ["--workdir", "--keys", "--horizon", "Java"]),
        ("plot", ["--keys", "--out", "--input", "--forecast", "band", "latest"]),
    ],
)
def test_each_command_has_a_complete_help(capsys, command, phrases):
    assert cli.main([command, "--help"]) == 0

    out = " ".join(capsys.readouterr().out.split())
    for phrase in phrases:
        assert phrase in out


@pytest.mark.parametrize("command", ["run", "demo", "plot"])
def test_every_option_is_explained(command):
    parser = subcommands()[command]

    for action in parser._actions:
        assert action.help, f"kronos {command} {action.option_strings} has no help"
    assert parser.description and parser.epilog


def test_version(capsys):
    assert cli.main(["--version"]) == 0

    assert capsys.readouterr().out.strip() == f"kronos {__version__}"


def test_python_dash_m_kronos_runs_the_command_line():
    done = subprocess.run(
        [sys.executable, "-m", "kronos", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0
    assert "usage: kronos" in done.stdout


def test_python_dash_m_kronos_demo_is_the_demo_command():
    done = subprocess.run(
        [sys.executable, "-m", "kronos.demo", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0
    assert "usage: kronos demo" in done.stdout


# --------------------------------------------------------------------------
# Bad arguments and bad job files: one line, exit code 2
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "kronos: error: name a command"),
        (["forecast"], "kronos: error: argument COMMAND: invalid choice: 'forecast'"),
        (["run"], "kronos run: error: the following arguments are required: --config"),
        (["run", "--config", "j.toml", "--current-date", "31/12/2024"], "YYYY-MM-DD"),
        (["demo", "--keys", "0"], "'0' is not a positive integer"),
        (["demo", "--horizon", "x"], "'x' is not a positive integer"),
        (["plot", "--out", "p"], "the following arguments are required: --keys"),
        (["plot", "--keys", "a"], "--input is needed"),
        (
            [
                "plot",
                "--keys",
                "a",
                "--input",
                "i",
                "--forecast",
                "f",
                "--history",
                "-1",
            ],
            "--history=-1 is invalid",
        ),
    ],
)
def test_a_bad_argument_gets_one_line_and_code_2(capsys, no_spark, argv, message):
    assert cli.main(argv) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[input\n", "not valid TOML"),
        (
            VALID_JOB.replace("n_test = 14", "n_test = 0"),
            "forecast.n_test=0 is invalid",
        ),
        (VALID_JOB.replace("[output]", "[outputs]"), "did you mean 'output'"),
        (
            VALID_JOB + '\n[dates]\ntimezone = "Nowhere/City"\n',
            "dates.timezone='Nowhere/City'",
        ),
        # Checked by forecast_udf_gen, still before Spark starts.
        (
            VALID_JOB.replace("n_test = 14", 'n_test = 14\ncompetition_metrics = "r2"'),
            "competition_metrics",
        ),
        (
            VALID_JOB.replace(
                'tracking_uri = "http://127.0.0.1:9"',
                'tracking_uri = "http://127.0.0.1:9"\nstaging_alias = "champion"',
            ),
            "give them different names",
        ),
        (
            VALID_JOB.replace(
                'tracking_uri = "http://127.0.0.1:9"',
                'tracking_uri = "http://127.0.0.1:9"\nhttp_max_retries = 99',
            ),
            "http_max_retries=99",
        ),
    ],
)
@pytest.mark.parametrize("check", [True, False])
def test_a_bad_job_file_gets_one_line_and_code_2(
    capsys, tmp_path, no_spark, text, message, check
):
    argv = ["run", "--config", job_file(tmp_path, text)] + (
        ["--check"] if check else []
    )

    assert cli.main(argv) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("kronos run: error: ")
    assert message in err


def test_a_missing_job_file_gets_one_line_and_code_2(capsys, tmp_path, no_spark):
    assert cli.main(["run", "--config", str(tmp_path / "nope.yaml")]) == 2

    err = capsys.readouterr().err
    assert err == f"kronos run: error: {tmp_path / 'nope.yaml'}: no such job file\n"


def test_check_validates_a_good_job_file_without_spark(capsys, tmp_path, no_spark):
    assert cli.main(["run", "--config", job_file(tmp_path), "--check"]) == 0

    assert "job file is valid; 1 model(s)" in capsys.readouterr().out


def test_the_example_job_file_passes_the_check(capsys, no_spark):
    config = str(REPO / "examples" / "job.toml")

    assert cli.main(["run", "--config", config, "--check", "-q"]) == 0
    assert "job file is valid; 4 model(s)" in capsys.readouterr().out


def test_console_main_raises_system_exit_only_on_failure(monkeypatch, no_spark):
    monkeypatch.setattr(sys, "argv", ["kronos", "--version"])
    assert cli.console_main() is None

    monkeypatch.setattr(sys, "argv", ["kronos", "run"])
    with pytest.raises(SystemExit) as info:
        cli.console_main()
    assert info.value.code == 2


# --------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------


def test_a_missing_current_date_is_today_in_the_time_zone_and_logged(caplog):
    from kronos.jobconfig import parse_job_config

    job = parse_job_config(
        {
            "input": {"path": "/in.parquet"},
            "models": {"naive_1": {"model_flavor": "naive"}},
            "dates": {"timezone": "Asia/Tokyo"},
            "forecast": {"n_test": 14, "n_unit_test": 7, "forecast_horizon": 7},
            "output": {"path": "/out"},
        }
    )

    with caplog.at_level(logging.INFO, logger="kronos.cli"):
        current, first = cli.resolve_dates(job)

    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert current == first == dt.datetime.now(tokyo).date()
    assert (
        f"dates.current_date is not set: the processing date is today in "
        f"Asia/Tokyo, {current}" in caplog.text
    )


def test_given_dates_are_not_called_today(caplog):
    from kronos.jobconfig import parse_job_config

    job = parse_job_config(
        {
            "input": {"path": "/in.parquet"},
            "models": {"naive_1": {"model_flavor": "naive"}},
            "dates": {"current_date": "2024-06-30", "fcst_first_date": "2024-07-02"},
            "forecast": {"n_test": 14, "n_unit_test": 7, "forecast_horizon": 7},
            "output": {"path": "/out"},
        }
    )

    with caplog.at_level(logging.INFO, logger="kronos.cli"):
        dates = cli.resolve_dates(job)

    assert dates == (dt.date(2024, 6, 30), dt.date(2024, 7, 2))
    assert "is not set" not in caplog.text


def test_command_line_dates_override_the_job_file(capsys, tmp_path, no_spark, caplog):
    config = job_file(tmp_path)

    with caplog.at_level(logging.INFO, logger="kronos.cli"):
        code = cli.main(
            ["run", "--config", config, "--check", "--current-date", "2024-02-29"]
        )

    assert code == 0
    assert "processing date 2024-02-29, first forecast date 2024-02-29" in caplog.text


# --------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------


class FakeTracker:
    def __init__(self) -> None:
        self.done = 0

    def getActiveStageIds(self):  # noqa: N802 - Spark's name
        return [7]

    def getStageInfo(self, stage_id):  # noqa: N802 - Spark's name
        return SimpleNamespace(
            stageId=stage_id,
            numTasks=4,
            numActiveTasks=2,
            numCompletedTasks=self.done,
            numFailedTasks=0,
        )


def test_progress_logs_a_line_when_a_stage_moves(caplog):
    tracker = FakeTracker()
    spark = SimpleNamespace(sparkContext=SimpleNamespace(statusTracker=lambda: tracker))
    progress = cli.SparkProgress(spark)

    with caplog.at_level(logging.INFO, logger="kronos.cli"):
        progress.report()
        progress.report()
        tracker.done = 2
        progress.report()

    lines = [r.getMessage() for r in caplog.records if r.name == "kronos.cli"]
    assert lines == [
        "stage 7: 0/4 tasks done, 2 running",
        "stage 7: 2/4 tasks done, 2 running",
    ]


def test_progress_without_a_status_tracker_does_nothing():
    spark = SimpleNamespace()  # a Spark Connect session has no sparkContext

    with cli.SparkProgress(spark, interval_s=0.01) as progress:
        pass

    assert progress._thread is None
