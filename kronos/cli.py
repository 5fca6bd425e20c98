"""The ``kronos`` command: run a forecasting job, the demo, or draw forecasts.

``kronos run --config job.toml`` reads the input, forecasts every key with the
full lifecycle, writes the forecasts, and ends with one line per key saying
what happened to it. ``kronos demo`` runs the two-day demo. ``kronos plot``
draws the history and the forecast of chosen keys as PNG files.

Exit codes: 0 when the command did its work (keys that fell back are part of
the work: they are in the summary), 1 when it could not (Java missing, input
unreadable, output not written), 2 for a bad argument or a bad job file, which
are reported on one line of standard error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from kronos._version import __version__

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

    from kronos.jobconfig import JobConfig, TableSpec

logger = logging.getLogger(__name__)

PROG = "kronos"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_PROGRESS_INTERVAL_S = 5.0


class CommandError(Exception):
    """A command cannot go on; ``code`` is the exit code to return."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """An argument parser that reports a usage error on one line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Write one line naming the mistake and where help is, then exit 2."""
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_USAGE)


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kronos`` command line and return its exit code.

    Parameters
    ----------
    argv
        The arguments after the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        0 on success, 1 when the work failed, 2 for bad arguments or a bad
        job file.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        sys.stderr.write(
            f"{PROG}: error: name a command: run, demo or plot (see '{PROG} --help')\n"
        )
        return EXIT_USAGE

    configure_logging(args.verbose - args.quiet)
    try:
        return args.handler(args)
    except CommandError as exc:
        sys.stderr.write(f"{PROG} {args.command}: error: {exc}\n")
        return exc.code
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG} {args.command}: interrupted\n")
        return 130


def console_main() -> None:
    """Run the command line as the installed ``kronos`` program does.

    A failure raises ``SystemExit`` with the exit code, so that runners that
    call this function instead of starting a process (such as a Databricks
    Python wheel task) see the failure; success returns normally.
    """
    code = main()
    if code != EXIT_OK:
        raise SystemExit(code)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the ``kronos`` command and its subcommands."""
    verbosity = _Parser(add_help=False)
    verbosity.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log more: once for kronos's details (DEBUG), twice for every library",
    )
    verbosity.add_argument(
        "-q",
        "--quiet",
        action="count",
        default=0,
        help="log only warnings and errors",
    )

    parser = _Parser(
        prog=PROG,
        description=(
            "Forecast many time series at once on Spark, with each key's model "
            "lifecycle (training, competition, registration, unit test, "
            "promotion) kept in MLflow."
        ),
        epilog=(
            "Run 'kronos COMMAND --help' for a command's options. Exit codes: 0 "
            "done, 1 failed (Java missing, input unreadable, output not "
            "written), 2 bad arguments or job file."
        ),
    )
    parser.add_argument("--version", action="version", version=f"kronos {__version__}")
    commands = parser.add_subparsers(
        dest="command", title="commands", metavar="COMMAND"
    )

    run = commands.add_parser(
        "run",
        parents=[verbosity],
        help="run a forecasting job described by a TOML or YAML job file",
        description=(
            "Read the input, forecast every key with the full lifecycle on "
            "Spark, write the forecasts, and end with one line per key: its "
            "winner, the candidates' scores, the registered version, whether it "
            "was promoted, and the fallback reason if any. Progress goes to the "
            "log (standard error); the summary goes to standard output."
        ),
        epilog=(
            "The job file has the sections [input], [columns], models, [dates], "
            "[forecast], [mlflow], [output] and [report]; examples/job.toml "
            "shows each field. A missing dates.current_date is today in "
            "dates.timezone (UTC by default); a missing dates.fcst_first_date "
            "is the processing date. Example: kronos run --config job.toml "
            "--current-date 2024-06-30"
        ),
    )
    run.add_argument(
        "--config",
        required=True,
        metavar="FILE",
        help="the job file (.toml, .yaml or .yml)",
    )
    run.add_argument(
        "--current-date",
        type=_date_argument,
        metavar="YYYY-MM-DD",
        help="processing date, overriding dates.current_date (for reruns and "
        "backfills)",
    )
    run.add_argument(
        "--fcst-first-date",
        type=_date_argument,
        metavar="YYYY-MM-DD",
        help="first forecast date, overriding dates.fcst_first_date",
    )
    run.add_argument(
        "--check",
        action="store_true",
        help="check the job file and the settings, then stop before Spark starts",
    )
    run.set_defaults(handler=_run_command)

    demo = commands.add_parser(
        "demo",
        parents=[verbosity],
        help="run the two-day demo on local Spark with a local MLflow store",
        description=(
            "Generate a panel of daily series and forecast it on two "
            "consecutive processing days with local Spark and a SQLite MLflow "
            "store in the work folder: day 1 registers and promotes a model per "
            "key, day 2 competes with production. Needs Java 17 or later."
        ),
        epilog="Example: kronos demo --keys 5 --horizon 7 --workdir /tmp/kronos_demo",
    )
    demo.add_argument(
        "--workdir",
        default="kronos_demo",
        metavar="DIR",
        help="folder of the demo's MLflow store (default: %(default)s)",
    )
    demo.add_argument(
        "--keys",
        type=_positive_int_argument,
        default=20,
        metavar="N",
        help="number of generated series (default: %(default)s)",
    )
    demo.add_argument(
        "--horizon",
        type=_positive_int_argument,
        default=14,
        metavar="DAYS",
        help="days to forecast (default: %(default)s)",
    )
    demo.set_defaults(handler=_demo_command)

    plot = commands.add_parser(
        "plot",
        parents=[verbosity],
        help="draw the history and the forecast of chosen keys as PNG files",
        description=(
            "Read the input table and the forecast table, and draw for each "
            "chosen key its history followed by its forecast, with the interval "
            "band when the forecast has lower and upper bounds. A forecast table "
            "that holds several processing runs is drawn at its latest "
            "dt_reference unless --reference-date is given. One PNG per key, "
            "named after the key, goes to the output folder."
        ),
        epilog=(
            "With --config, the input, the forecast table (the job's output) and "
            "the column names come from the job file; the options override "
            "them. Example: kronos plot --config job.toml --keys meter_01 "
            "meter_02 --out plots"
        ),
    )
    plot.add_argument(
        "--keys",
        required=True,
        nargs="+",
        metavar="KEY",
        help="the keys to draw (separated by spaces or commas)",
    )
    plot.add_argument(
        "--config", metavar="FILE", help="a job file giving tables and column names"
    )
    plot.add_argument(
        "--input", metavar="PATH|TABLE", help="the history: a path or a table name"
    )
    plot.add_argument(
        "--input-format",
        choices=("delta", "parquet", "csv"),
        help="format of an --input path (inferred when omitted)",
    )
    plot.add_argument(
        "--forecast",
        metavar="PATH|TABLE",
        help="the forecasts: a path or a table name",
    )
    plot.add_argument(
        "--forecast-format",
        choices=("delta", "parquet", "csv"),
        help="format of a --forecast path (inferred when omitted)",
    )
    plot.add_argument(
        "--out",
        default="kronos_plots",
        metavar="DIR",
        help="folder of the PNG files, created if needed (default: %(default)s)",
    )
    plot.add_argument(
        "--reference-date",
        type=_date_argument,
        metavar="YYYY-MM-DD",
        help="draw the forecast made for this dt_reference (default: the latest)",
    )
    plot.add_argument(
        "--history",
        type=int,
        default=365,
        metavar="N",
        help="history points drawn before the forecast, 0 for all "
        "(default: %(default)s)",
    )
    for name, default in (
        ("key", "id"),
        ("date", "date"),
        ("metric", "value"),
        ("fcst", "fcst"),
        ("dt-reference", "dt_reference"),
    ):
        plot.add_argument(
            f"--{name}-col",
            metavar="NAME",
            help=f"the {name.replace('-', '_')} column (default: the job file's, "
            f"else {default!r})",
        )
    plot.set_defaults(handler=_plot_command)
    return parser


def configure_logging(verbosity: int) -> None:
    """Send log lines to standard error: kronos at INFO, other libraries quieter.

    ``verbosity`` is ``--verbose`` counts minus ``--quiet`` counts. This is the
    application's choice; the library itself never configures logging.
    """
    root = logging.getLogger()
    if not root.handlers:
        # Nobody configured logging (the usual case of a command): do it.
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_LOG_FORMAT))
        root.addHandler(handler)
        root.setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
    level = logging.INFO
    if verbosity >= 1:
        level = logging.DEBUG
    elif verbosity < 0:
        level = logging.WARNING
    logging.getLogger("kronos").setLevel(level)


# --------------------------------------------------------------------------
# kronos run
# --------------------------------------------------------------------------


@dataclass
class JobResult:
    """What ``kronos run`` did."""

    current_date: dt.date
    fcst_first_date: dt.date
    forecast_rows: int
    report: pd.DataFrame
    summary: str


def _run_command(args: argparse.Namespace) -> int:
    job = _load_job(args.config)
    if args.current_date is not None or args.fcst_first_date is not None:
        job = _override_dates(job, args.current_date, args.fcst_first_date)
    if args.check:
        current, first = resolve_dates(job)
        build_forecast_function(job, current, first, source=args.config)
        sys.stdout.write(
            f"{args.config}: job file is valid; {len(job.models_config)} model(s), "
            f"input {job.input.describe()}, output {job.output.describe()}\n"
        )
        return EXIT_OK
    result = run_job(job, source=args.config)
    sys.stdout.write(
        f"\nkronos run: processing date {result.current_date}, first forecast "
        f"date {result.fcst_first_date}, {result.forecast_rows} forecast rows "
        f"written to {job.output.describe()}\n\n{result.summary}\n"
    )
    sys.stdout.flush()
    return EXIT_OK


def run_job(
    job: JobConfig,
    *,
    spark: SparkSession | None = None,
    today: dt.date | None = None,
    source: str = "the job file",
) -> JobResult:
    """Run a forecasting job: read, forecast every key, write, report.

    Parameters
    ----------
    job
        A checked job file (see :func:`kronos.jobconfig.load_job_config`).
    spark
        The session to use; the active one, else a new local session.
    today
        The date a missing ``current_date`` defaults to; today in the job's
        time zone when None.
    source
        How the job file is named in error messages.

    Returns
    -------
    JobResult
        The dates, the number of forecast rows written, the per-key outcome
        report (pandas) and its text summary.

    Raises
    ------
    CommandError
        When the settings are wrong (code 2), or the input cannot be read or
        the output written (code 1).
    """
    from pyspark.storagelevel import StorageLevel

    from kronos import report
    from kronos.spark import (
        OUTCOME_FIELDS,
        check_input_columns,
        partition_by_key,
        result_schema,
    )

    # Dates, then the forecasting function: every setting is checked here,
    # before Spark does any work.
    current, first = resolve_dates(job, today)
    forecast_udf = build_forecast_function(job, current, first, source=source)
    settings = forecast_udf.settings  # type: ignore[attr-defined]
    columns = job.columns

    spark = spark or start_session()
    started = time.monotonic()
    logger.info("reading the input: %s", job.input.describe())
    df = _read(spark, job.input.target, _read_format(job.input), "input")
    try:
        check_input_columns(df, job.input_columns)
    except ValueError as exc:
        raise CommandError(f"{source}: {exc} (see [columns])", EXIT_USAGE) from None

    df = partition_by_key(df, columns["key"], job.partitions)
    schema = result_schema(
        columns["key"],
        columns["date"],
        columns["fcst"],
        columns["dt_creation"],
        columns["dt_reference"],
        columns["days_from_last_obs"],
        interval=settings.interval_width is not None,
        fcst_lower_col=columns["fcst_lower"],
        fcst_upper_col=columns["fcst_upper"],
        sub_daily=_is_sub_daily(settings.freq),
        outcome=True,
    )
    # The lifecycle registers and promotes models: it must run once per key,
    # so its result is kept while it is written and reported.
    predictions = (
        df.groupby(columns["key"])
        .applyInPandas(forecast_udf, schema=schema)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        logger.info("forecasting every key (the lifecycle runs on the workers)")
        with SparkProgress(spark):
            n_rows = predictions.count()
        logger.info("forecast %d rows in %.0f s", n_rows, time.monotonic() - started)

        forecasts = predictions.drop(*(name for name, _ in OUTCOME_FIELDS))
        logger.info("writing the forecasts: %s", job.output.describe())
        with SparkProgress(spark):
            _write_forecasts(spark, forecasts, job)

        outcome = report.outcome_report(predictions, columns["key"])
        if job.report is not None:
            logger.info("appending the outcome report: %s", job.report.describe())
            _append(outcome, job.report, "report")
        rows = outcome.toPandas()
    finally:
        predictions.unpersist()

    summary = report.summary_table(rows, columns["key"])
    logger.info("done in %.0f s", time.monotonic() - started)
    return JobResult(current, first, n_rows, rows, summary)


def resolve_dates(
    job: JobConfig, today: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """Return the job's processing date and first forecast date, and log them.

    A missing ``current_date`` is today in the job's time zone (``today``
    when given), which the log says; a missing ``fcst_first_date`` is the
    processing date.
    """
    current, first = job.resolve_dates(today)
    if job.current_date is None:
        logger.info(
            "dates.current_date is not set: the processing date is today in %s, %s",
            job.timezone,
            current,
        )
    logger.info("processing date %s, first forecast date %s", current, first)
    return current, first


def build_forecast_function(
    job: JobConfig, current: dt.date, first: dt.date, source: str = "the job file"
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Return the forecasting function of a job, with the outcome columns on.

    Raises
    ------
    CommandError
        With exit code 2 when a setting is refused.
    """
    from mlflow.tracking import MlflowClient

    from kronos.forecast_udf import forecast_udf_gen

    client = MlflowClient(tracking_uri=job.tracking_uri, registry_uri=job.registry_uri)
    try:
        return forecast_udf_gen(
            client=client, **job.udf_arguments(current, first), with_outcome=True
        )
    except (TypeError, ValueError) as exc:
        raise CommandError(f"{source}: {exc}", EXIT_USAGE) from None


def start_session() -> SparkSession:
    """Return the active Spark session, else the cluster's, else a local one.

    Raises
    ------
    CommandError
        When no session exists and Java is missing for a local one.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return SparkSession.builder.getOrCreate()

    from kronos.spark import JavaMissingError, local_session

    logger.info("starting a local Spark session")
    try:
        return local_session("kronos")
    except JavaMissingError as exc:
        raise CommandError(str(exc)) from None


class SparkProgress:
    """Log the progress of running Spark stages every few seconds.

    A background thread asks Spark's status tracker for the active stages and
    logs a line per stage when its count of finished tasks changed. Where the
    tracker is not available (Spark Connect), it does nothing.

    Parameters
    ----------
    spark
        The session whose jobs to follow.
    interval_s
        Seconds between two looks.
    """

    def __init__(self, spark: SparkSession, interval_s: float = _PROGRESS_INTERVAL_S):
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: dict[int, tuple[int, int]] = {}
        try:
            self._tracker = spark.sparkContext.statusTracker()
        except Exception as exc:
            logger.debug("no Spark status tracker, no progress lines: %s", exc)
            self._tracker = None

    def __enter__(self) -> SparkProgress:
        if self._tracker is not None:
            self._thread = threading.Thread(
                target=self._watch, name="kronos-progress", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 5)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.report()
            except Exception as exc:
                logger.debug("progress unavailable: %s", exc)
                return

    def report(self) -> None:
        """Log one line per active stage whose progress changed."""
        for stage_id in self._tracker.getActiveStageIds():
            info = self._tracker.getStageInfo(stage_id)
            if info is None:
                continue
            state = (info.numCompletedTasks, info.numActiveTasks)
            if self._seen.get(stage_id) == state:
                continue
            self._seen[stage_id] = state
            logger.info(
                "stage %d: %d/%d tasks done, %d running%s",
                stage_id,
                info.numCompletedTasks,
                info.numTasks,
                info.numActiveTasks,
                f", {info.numFailedTasks} failed" if info.numFailedTasks else "",
            )


def _load_job(path: str) -> JobConfig:
    from kronos.jobconfig import JobConfigError, load_job_config

    try:
        return load_job_config(path)
    except JobConfigError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None


def _override_dates(
    job: JobConfig, current: dt.date | None, first: dt.date | None
) -> JobConfig:
    import dataclasses

    changes: dict[str, dt.date] = {}
    if current is not None:
        changes["current_date"] = current
    if first is not None:
        changes["fcst_first_date"] = first
    return dataclasses.replace(job, **changes)


def _read(spark: SparkSession, source: str, fmt: str | None, what: str) -> DataFrame:
    from kronos.delta import read_input

    try:
        return read_input(spark, source, format=fmt)
    except Exception as exc:
        raise CommandError(
            f"cannot read the {what} {source}: {_first_line(exc)}"
        ) from exc


def _read_format(spec: TableSpec) -> str | None:
    return "table" if spec.table else spec.format


def _write_forecasts(spark: SparkSession, forecasts: DataFrame, job: JobConfig) -> None:
    from kronos.delta import write_forecasts, write_parquet

    columns = job.columns
    output = job.output
    try:
        if output.format == "parquet":
            write_parquet(forecasts, output.target, columns["dt_reference"])
            return
        counts = write_forecasts(
            spark,
            forecasts,
            output.target,
            key_col=columns["key"],
            date_col=columns["date"],
            dt_reference_col=columns["dt_reference"],
        )
        logger.info(
            "forecasts merged: %d inserted, %d updated, %d deleted",
            counts["num_inserted_rows"],
            counts["num_updated_rows"],
            counts["num_deleted_rows"],
        )
    except Exception as exc:
        raise CommandError(
            f"cannot write the forecasts to {output.target}: {_first_line(exc)}"
        ) from exc


def _append(df: DataFrame, spec: TableSpec, what: str) -> None:
    try:
        writer = df.write.mode("append")
        if spec.table:
            writer.format("delta").saveAsTable(spec.table)
        else:
            writer.format(spec.format or "delta").save(spec.path)
    except Exception as exc:
        raise CommandError(
            f"cannot write the {what} to {spec.target}: {_first_line(exc)}"
        ) from exc


def _is_sub_daily(freq: str | None) -> bool:
    if freq is None:
        return False
    import pandas as pd

    try:
        return pd.Timedelta(pd.tseries.frequencies.to_offset(freq)) < pd.Timedelta(
            days=1
        )
    except ValueError:
        return False


# --------------------------------------------------------------------------
# kronos demo
# --------------------------------------------------------------------------


def _demo_command(args: argparse.Namespace) -> int:
    from kronos.demo import run_demo
    from kronos.spark import JavaMissingError

    try:
        run_demo(args.workdir, n_keys=args.keys, horizon=args.horizon)
    except JavaMissingError as exc:
        raise CommandError(str(exc)) from None
    return EXIT_OK


# --------------------------------------------------------------------------
# kronos plot
# --------------------------------------------------------------------------


def _plot_command(args: argparse.Namespace) -> int:
    from kronos.jobconfig import COLUMN_DEFAULTS

    job = _load_job(args.config) if args.config else None
    names = dict(job.columns if job else COLUMN_DEFAULTS)
    for name in ("key", "date", "metric", "fcst", "dt_reference"):
        value = getattr(args, f"{name}_col")
        if value:
            names[name] = value

    input_source, input_format = args.input, args.input_format
    if input_source is None and job is not None:
        input_source = job.input.target
        input_format = input_format or _read_format(job.input)
    forecast_source, forecast_format = args.forecast, args.forecast_format
    if forecast_source is None and job is not None:
        forecast_source = job.output.target
        forecast_format = forecast_format or _read_format(job.output)
    if input_source is None or forecast_source is None:
        missing = "--input" if input_source is None else "--forecast"
        raise CommandError(
            f"{missing} is needed (or --config with a job file that names it)",
            EXIT_USAGE,
        )
    if args.history < 0:
        raise CommandError(
            f"--history={args.history} is invalid; give 0 (all) or more", EXIT_USAGE
        )
    keys = [key for item in args.keys for key in item.split(",") if key.strip()]

    spark = start_session()
    history = _read(spark, input_source, input_format, "input")
    forecast = _read(spark, forecast_source, forecast_format, "forecast")
    drawn, missing_keys = draw_keys(
        history,
        forecast,
        keys,
        names,
        args.out,
        reference_date=args.reference_date,
        history_points=args.history or None,
    )
    for path in drawn:
        sys.stdout.write(f"wrote {path}\n")
    for key in missing_keys:
        sys.stderr.write(f"{PROG} plot: no forecast for key {key!r}\n")
    return EXIT_FAILED if missing_keys else EXIT_OK


def draw_keys(
    history: DataFrame,
    forecast: DataFrame,
    keys: Sequence[str],
    names: dict[str, str],
    out_dir: str,
    *,
    reference_date: dt.date | None = None,
    history_points: int | None = 365,
) -> tuple[list[str], list[str]]:
    """Draw each key's history and forecast to ``<out_dir>/<key>.png``.

    Parameters
    ----------
    history, forecast
        The input and the forecast tables.
    keys
        The keys to draw.
    names
        Column names by field (``key``, ``date``, ``metric``, ``fcst``,
        ``dt_reference``, ``fcst_lower``, ``fcst_upper``).
    out_dir
        The folder of the PNG files; created if needed.
    reference_date
        Draw the forecast of this ``dt_reference``; the latest one of each
        key when None.
    history_points
        History points drawn before the forecast; None draws all.

    Returns
    -------
    tuple
        The paths written and the keys without a forecast.

    Raises
    ------
    CommandError
        When a named column is missing from a table (code 2).
    """
    import pandas as pd
    from pyspark.sql import functions as sf

    from kronos import plots

    key, date, metric, fcst = (names[n] for n in ("key", "date", "metric", "fcst"))
    reference = names.get("dt_reference", "dt_reference")
    lower, upper = (
        names.get("fcst_lower", "fcst_lower"),
        names.get("fcst_upper", "fcst_upper"),
    )
    _require_columns(history, [key, date, metric], "input")
    _require_columns(forecast, [key, date, fcst], "forecast")

    wanted = sf.col(key).cast("string").isin(list(keys))
    past = history.where(wanted).select(key, date, metric).toPandas()
    extra = [c for c in (reference, lower, upper) if c in forecast.columns]
    future = forecast.where(wanted).select(key, date, fcst, *extra).toPandas()
    if reference in future.columns and not future.empty:
        future[reference] = pd.to_datetime(future[reference])
        if reference_date is not None:
            future = future[future[reference] == pd.Timestamp(reference_date)]
        else:
            latest = future.groupby(key)[reference].transform("max")
            future = future[future[reference] == latest]

    os.makedirs(out_dir, exist_ok=True)
    drawn: list[str] = []
    missing: list[str] = []
    for name in keys:
        rows = future[future[key].astype(str) == name]
        if rows.empty:
            missing.append(name)
            continue
        series = past[past[key].astype(str) == name]
        series = pd.DataFrame(
            {
                "ds": pd.to_datetime(series[date]),
                "y": pd.to_numeric(series[metric], errors="coerce"),
            }
        ).dropna()
        frame = pd.DataFrame({"ds": pd.to_datetime(rows[date]), "yhat": rows[fcst]})
        if lower in rows.columns and upper in rows.columns:
            frame["yhat_lower"] = rows[lower].to_numpy()
            frame["yhat_upper"] = rows[upper].to_numpy()
        path = os.path.join(out_dir, f"{_file_name(name)}.png")
        plots.plot_forecast(
            series, frame, path, title=name, history_points=history_points
        )
        logger.info("key %s drawn to %s", name, path)
        drawn.append(path)
    return drawn, missing


def _require_columns(df: DataFrame, names: list[str], what: str) -> None:
    missing = [name for name in names if name not in df.columns]
    if missing:
        raise CommandError(
            f"the {what} lacks column(s) {missing}; it has {df.columns}. Name the "
            "columns with --key-col, --date-col, --metric-col or --fcst-col",
            EXIT_USAGE,
        )


def _file_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._") or "key"


# --------------------------------------------------------------------------
# Argument types
# --------------------------------------------------------------------------


def _date_argument(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; write it as YYYY-MM-DD"
        ) from None


def _positive_int_argument(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a positive integer; give one such as 5"
        )
    return value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line[:300]


__all__ = [
    "CommandError",
    "JobResult",
    "SparkProgress",
    "build_forecast_function",
    "build_parser",
    "configure_logging",
    "console_main",
    "draw_keys",
    "main",
    "resolve_dates",
    "run_job",
    "start_session",
]
