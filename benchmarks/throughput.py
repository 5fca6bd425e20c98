r"""Throughput of kronos against the plain fit-and-forecast pattern, on local Spark.

One generated daily panel; in the same process and the same Spark session, the
benchmark runs, alternating and repeated:

- ``plain``: ``applyInPandas`` with a function that fits the same models with
  :mod:`kronos.models` and forecasts each key, nothing else;
- ``day1``: the full kronos lifecycle against a real ``mlflow server`` on
  127.0.0.1 that the benchmark starts, with fresh experiment and model names:
  every key registers, unit-tests and promotes a model;
- ``day2``: one more day of data, the same names: the candidates compete with
  the production models.

Each repetition uses its own names, and the order of the phases rotates
between repetitions (day 2 always follows its day 1). Figures are medians over
the repetitions. The server counts the requests it answers (its access log);
timers installed in the Spark workers (``benchmarks/_probes.py``) measure, per
key, the time waiting for the server, the model work (fit and predict) and
the model files written and read. Peak resident memory is sampled on the
driver, the JVM and the Python workers.

It prints a table and, as its last line, a JSON object.

Example::

    .venv/bin/python benchmarks/throughput.py --keys 500 --points 400 \
        --models prophet --repeats 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _probes

logger = logging.getLogger("kronos.benchmarks.throughput")

KEY, DATE, VALUE = "id", "date", "value"
QUALITY, ACTION, MODELS = "quality", "action", "models"
N_TEST, N_UNIT_TEST, HORIZON = 28, 7, 14
LAST_DAY_1 = dt.date(2024, 6, 30)

#: Named model sets for ``--models``.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "prophet": {"prophet_1": {"model_flavor": "prophet"}},
    "naive": {"naive_1": {"model_flavor": "naive"}},
    "seasonal_naive": {
        "seasonal_naive_1": {"model_flavor": "seasonal_naive", "season_length": 7}
    },
    "arima": {
        "arima_1": {
            "model_flavor": "statsforecast",
            "model": "AutoARIMA",
            "season_length": 7,
        }
    },
    "mixed": {
        "prophet_1": {"model_flavor": "prophet"},
        "arima_1": {
            "model_flavor": "statsforecast",
            "model": "AutoARIMA",
            "season_length": 7,
        },
        "naive_1": {"model_flavor": "naive"},
    },
}
PHASES = ("plain", "day1", "day2")
MEMORY_PARTS = (
    "driver",
    "jvm",
    "python_workers",
    "largest_python_worker",
    "total",
    "server",
)


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------


def parse_models(text: str) -> dict[str, dict[str, Any]]:
    """Return the models of ``--models``: a preset name or a JSON object."""
    if text in PRESETS:
        return PRESETS[text]
    try:
        models = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"--models {text!r} is neither a preset ({', '.join(PRESETS)}) nor "
            f"a JSON object: {exc.msg}"
        ) from exc
    if not isinstance(models, dict) or not models:
        raise argparse.ArgumentTypeError("--models must be a non-empty JSON object")
    return models


def make_panel(
    keys: int, points: int, last_day: dt.date, seed: int = 11
) -> pd.DataFrame:
    """Return ``points`` daily observations per key ending on ``last_day``.

    Each series has a level, a trend, weekly and yearly waves and noise.
    """
    rng = np.random.default_rng(seed)
    dates = pd.date_range(end=pd.Timestamp(last_day), periods=points, freq="D")
    t = np.arange(points)
    level = rng.uniform(50, 200, (keys, 1))
    trend = rng.uniform(-0.02, 0.08, (keys, 1)) * level / 100
    weekly = rng.uniform(0.05, 0.2, (keys, 1)) * level * np.sin(2 * np.pi * t / 7)
    yearly = rng.uniform(0.1, 0.3, (keys, 1)) * level * np.sin(2 * np.pi * t / 365.25)
    noise = rng.normal(0, 0.04, (keys, points)) * level
    values = np.maximum(level + trend * t + weekly + yearly + noise, 0.0)
    return pd.DataFrame(
        {
            KEY: np.repeat([f"key_{i:05d}" for i in range(keys)], points),
            DATE: np.tile(dates.date, keys),
            VALUE: values.ravel().round(3),
            QUALITY: "good",
            ACTION: "competition",
            MODELS: "",
        }
    )


# --------------------------------------------------------------------------
# The functions applyInPandas runs
# --------------------------------------------------------------------------


def plain_function(
    models_config: Mapping[str, Mapping[str, Any]], first_date: dt.date, horizon: int
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Return the plain pattern: fit every model on the key's history, forecast."""

    def plain(frame: pd.DataFrame) -> pd.DataFrame:
        from kronos.models import build_model

        _probes.install()
        _probes.reset()
        history = pd.DataFrame(
            {"ds": pd.to_datetime(frame[DATE]), "y": frame[VALUE].astype("float64")}
        ).sort_values("ds", ignore_index=True)
        dates = pd.date_range(first_date, periods=horizon, freq="D")
        parts = []
        for name, entry in models_config.items():
            if entry["model_flavor"] == "ensemble":
                continue
            forecast = build_model(entry, "D").fit(history).predict(dates)
            parts.append(
                pd.DataFrame(
                    {
                        KEY: frame[KEY].iloc[0],
                        "model": name,
                        DATE: dates.date,
                        "fcst": forecast["yhat"].astype("float32"),
                    }
                )
            )
        return pd.concat(parts, ignore_index=True).assign(**_probes.columns())

    return plain


def plain_schema() -> Any:
    from pyspark.sql.types import (
        DateType,
        DoubleType,
        FloatType,
        StringType,
        StructField,
        StructType,
    )

    fields = [
        StructField(KEY, StringType()),
        StructField("model", StringType()),
        StructField(DATE, DateType()),
        StructField("fcst", FloatType()),
    ]
    return StructType(fields + [StructField(n, DoubleType()) for n in _probes.FIELDS])


def kronos_function(
    forecast_udf: Callable[[pd.DataFrame], pd.DataFrame],
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Return kronos's function for ``applyInPandas`` with the timers around it."""

    def timed(frame: pd.DataFrame) -> pd.DataFrame:
        _probes.install()
        _probes.reset()
        return forecast_udf(frame).assign(**_probes.columns())

    return timed


def kronos_schema() -> Any:
    from pyspark.sql.types import DoubleType, StructField, StructType

    import kronos

    schema = kronos.result_schema(KEY, DATE, outcome=True)
    return StructType(
        list(schema.fields) + [StructField(n, DoubleType()) for n in _probes.FIELDS]
    )


def kronos_forecast_udf(
    tracking_uri: str,
    models_config: Mapping[str, Any],
    current_date: dt.date,
    names: str,
    log_plots: bool,
    log_candidate_models: bool,
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    from mlflow.tracking import MlflowClient

    from kronos.forecast_udf import forecast_udf_gen

    return forecast_udf_gen(
        client=MlflowClient(tracking_uri, tracking_uri),
        key_col=KEY,
        date_col=DATE,
        metric_col=VALUE,
        quality_col=QUALITY,
        action_col=ACTION,
        models_col=MODELS,
        models_config=dict(models_config),
        days_from_last_obs_col="days_from_last_obs",
        current_date=current_date,
        fcst_first_date=current_date,
        n_test=N_TEST,
        n_unit_test=N_UNIT_TEST,
        forecast_horizon=HORIZON,
        dt_creation_col="dt_creation",
        dt_reference_col="dt_reference",
        experiment_name_template=f"{names}_{{key}}",
        model_name_template=f"{names}_{{key}}",
        log_plots=log_plots,
        log_candidate_models=log_candidate_models,
        with_outcome=True,
    )


# --------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------


class MemorySampler:
    """Sample the resident memory of the driver, its JVM and Python workers.

    A background thread reads every process under this one (the MLflow
    server's tree apart) every ``interval`` seconds and keeps, per part, the
    peak since the last :meth:`take_peaks`, and the peaks of the first and
    the last quarter of that time: memory that grows with the keys processed
    shows as a last quarter above the first. Resident sizes count the pages a
    forked Python worker shares with its parent in both, so the sum overstates
    the memory actually used.
    """

    PARTS = ("driver", "jvm", "python_workers", "server")

    def __init__(self, server_pid: int | None, interval: float = 1.0) -> None:
        self.server_pid = server_pid
        self.interval = interval
        self._peaks: dict[str, float] = {}
        self._timeline: list[tuple[float, float, float]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> dict[str, float]:
        """Return the resident MB of each part now, and their total."""
        parts = dict.fromkeys(self.PARTS, 0.0)
        parts["largest_python_worker"] = 0.0
        for part, process in process_parts(self.server_pid):
            try:
                rss = process.memory_info().rss / 2**20
            except psutil.NoSuchProcess:
                continue
            parts[part] += rss
            if part == "python_workers":
                parts["largest_python_worker"] = max(
                    parts["largest_python_worker"], rss
                )
        parts["total"] = parts["driver"] + parts["jvm"] + parts["python_workers"]
        return parts

    def take_peaks(self) -> dict[str, float]:
        """Return the peaks since the last call and start over."""
        current = self.sample()
        with self._lock:
            peaks, self._peaks = self._peaks, {}
            timeline, self._timeline = self._timeline, []
        result = {k: round(max(v, peaks.get(k, 0.0)), 1) for k, v in current.items()}
        if len(timeline) >= 4:
            start, end = timeline[0][0], timeline[-1][0]
            quarter = (end - start) / 4
            first = [t for t in timeline if t[0] <= start + quarter]
            last = [t for t in timeline if t[0] >= end - quarter]
            for index, name in ((1, "total"), (2, "largest_python_worker")):
                result[f"{name}_first_quarter"] = round(max(t[index] for t in first), 1)
                result[f"{name}_last_quarter"] = round(max(t[index] for t in last), 1)
        return result

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                current = self.sample()
            except psutil.Error:
                continue
            with self._lock:
                for name, value in current.items():
                    self._peaks[name] = max(value, self._peaks.get(name, 0.0))
                self._timeline.append(
                    (
                        time.monotonic(),
                        current["total"],
                        current["largest_python_worker"],
                    )
                )


@dataclass
class PhaseRun:
    """One run of one phase."""

    phase: str
    repeat: int
    wall_s: float
    per_key: pd.DataFrame
    requests: dict[str, int]
    cpu_s: dict[str, float]
    memory: dict[str, float]
    outcome: dict[str, Any] = field(default_factory=dict)


def process_parts(server_pid: int | None) -> list[tuple[str, psutil.Process]]:
    """Return this process and its descendants, each with the part it is.

    Parts: ``driver`` (this process), ``jvm`` (Spark's JVM), ``python_workers``
    (Spark's Python daemon and workers, with the processes they start, such
    as Stan's optimiser) and ``server`` (the MLflow server's tree).
    """
    me = psutil.Process()
    server_tree: set[int] = set()
    if server_pid is not None:
        try:
            server = psutil.Process(server_pid)
            server_tree = {server.pid, *(p.pid for p in server.children(True))}
        except psutil.NoSuchProcess:
            pass
    parts = [("driver", me)]
    for process in me.children(recursive=True):
        try:
            name = process.name()
        except psutil.NoSuchProcess:
            continue
        if process.pid in server_tree:
            parts.append(("server", process))
        elif name.startswith("java"):
            parts.append(("jvm", process))
        else:
            parts.append(("python_workers", process))
    return parts


def cpu_seconds(server_pid: int | None) -> dict[int, tuple[str, float]]:
    """Return the CPU seconds each process of :func:`process_parts` used so far.

    A process's figure includes the children it waited for, so a fit's
    optimiser counts with the worker that ran it.
    """
    used = {}
    for part, process in process_parts(server_pid):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total = times.user + times.system + times.children_user
        used[process.pid] = (part, total + times.children_system)
    return used


def cpu_used(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """Return the CPU seconds each part used between two :func:`cpu_seconds`."""
    parts: dict[str, float] = dict.fromkeys(MemorySampler.PARTS, 0.0)
    for pid, (part, seconds) in after.items():
        parts[part] += seconds - before.get(pid, (part, 0.0))[1]
    return parts


def run_phase(
    phase: str,
    repeat: int,
    frame: Any,
    function: Callable[[pd.DataFrame], pd.DataFrame],
    schema: Any,
    server: Any,
    sampler: MemorySampler,
) -> PhaseRun:
    """Run one ``applyInPandas`` job to the end and measure it."""
    mark = server.log_size()
    cpu_before = cpu_seconds(server.pid)
    sampler.take_peaks()
    start = time.perf_counter()
    rows = frame.groupby(KEY).applyInPandas(function, schema=schema).toPandas()
    wall = time.perf_counter() - start
    memory = sampler.take_peaks()
    cpu = cpu_used(cpu_before, cpu_seconds(server.pid))
    time.sleep(0.5)  # the access log line of the last request may lag behind it
    from kronos.local_server import count_requests

    requests = count_requests(server.log_since(mark))
    per_key = rows.drop_duplicates(KEY).reset_index(drop=True)
    if os.environ.get("KRONOS_BENCH_DUMP"):
        per_key.to_csv(f"{os.environ['KRONOS_BENCH_DUMP']}_{phase}_{repeat}.csv")
    run = PhaseRun(phase, repeat, wall, per_key, requests, cpu, memory)
    if phase != "plain":
        run.outcome = outcome_summary(per_key)
    emit_progress(
        f"{phase} repeat {repeat}: {wall:.1f} s, {len(per_key)} keys, "
        f"{sum(requests.values())} requests"
    )
    return run


def outcome_summary(per_key: pd.DataFrame) -> dict[str, Any]:
    """Count what the lifecycle did to the keys."""
    reasons = per_key["kronos_fallback_reason"].dropna()
    return {
        "registered": int(per_key["kronos_registered_version"].notna().sum()),
        "promoted": int(per_key["kronos_promoted"].fillna(False).sum()),
        "production_won": int((per_key["kronos_winner"] == "production").sum()),
        "fallbacks": len(reasons),
        "fallback_examples": sorted(set(reasons))[:3],
    }


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def phase_figures(runs: list[PhaseRun], keys: int) -> dict[str, Any]:
    """Return the medians of one phase over its repetitions."""
    walls = [run.wall_s for run in runs]

    def per_key(column: str) -> float:
        return median([float(run.per_key[column].mean()) for run in runs])

    requests = [sum(run.requests.values()) / keys for run in runs]
    return {
        "wall_s": median(walls),
        "wall_s_all": [round(w, 2) for w in walls],
        "keys_per_s": keys / median(walls),
        "calls_per_key": median(requests),
        "client_calls_per_key": per_key("bench_http_calls"),
        "http_ms_per_key": per_key("bench_http_ms"),
        "model_ms_per_key": per_key("bench_model_ms"),
        "model_io_ms_per_key": per_key("bench_model_io_ms"),
        "key_ms": per_key("bench_key_ms"),
        "key_ms_p95": median(
            [float(run.per_key["bench_key_ms"].quantile(0.95)) for run in runs]
        ),
        "cpu_ms_per_key": {
            part: median([run.cpu_s[part] * 1000 / keys for run in runs])
            for part in runs[0].cpu_s
        },
        "cpu_busy": median(
            [
                sum(run.cpu_s.values()) / run.wall_s / (os.cpu_count() or 1)
                for run in runs
            ]
        ),
        "memory_mb": {
            part: max(run.memory.get(part, 0.0) for run in runs)
            for part in runs[0].memory
        },
        "requests_by_endpoint": {
            name: count / keys for name, count in sorted(runs[-1].requests.items())
        },
        "outcome": runs[-1].outcome,
    }


def print_table(figures: Mapping[str, Mapping[str, Any]], plain_wall: float) -> None:
    header = (
        f"{'phase':6} {'wall s':>8} {'keys/s':>8} {'ratio':>6} {'calls/key':>9} "
        f"{'http ms':>8} {'model ms':>8} {'io ms':>7} {'key ms':>7} "
        f"{'wrk cpu':>8} {'srv cpu':>8} {'busy':>5} {'rss MB':>7}"
    )
    emit(header)
    emit("-" * len(header))
    for phase, f in figures.items():
        ratio = f["wall_s"] / plain_wall if plain_wall else float("nan")
        emit(
            f"{phase:6} {f['wall_s']:8.1f} {f['keys_per_s']:8.2f} {ratio:6.2f} "
            f"{f['calls_per_key']:9.2f} {f['http_ms_per_key']:8.1f} "
            f"{f['model_ms_per_key']:8.1f} {f['model_io_ms_per_key']:7.1f} "
            f"{f['key_ms']:7.1f} {f['cpu_ms_per_key']['python_workers']:8.1f} "
            f"{f['cpu_ms_per_key']['server']:8.1f} {f['cpu_busy']:5.2f} "
            f"{f['memory_mb']['total']:7.0f}"
        )
    emit(
        "medians over the repetitions. calls/key: counted by the server. http, "
        "model (fit and predict), io (model files), key: ms per key timed in "
        "the worker. wrk cpu, srv cpu: CPU ms per key of the Python workers "
        "(with the optimisers they start) and of the MLflow server. busy: CPU "
        "used by all of them over wall time and cores. rss: peak MB of driver "
        "+ JVM + Python workers"
    )


def emit(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def emit_progress(text: str) -> None:
    sys.stderr.write(f"[throughput] {text}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------


@contextmanager
def tracking_server(args: argparse.Namespace, root: Path) -> Iterator[Any]:
    """Start the MLflow server (and PostgreSQL when asked) for the run."""
    from kronos.local_server import LocalServer

    options = {
        "serve_artifacts": args.artifacts == "served",
        "http_server": args.http_server,
        "workers": args.server_workers,
        "threads": args.server_threads,
    }
    if args.backend == "sqlite":
        with LocalServer(root / "mlflow", **options) as server:
            yield server
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from _postgres import LocalPostgres, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        raise SystemExit(f"--backend postgresql: {reason}")
    with (
        LocalPostgres() as postgres,
        LocalServer(root / "mlflow", postgres.uri, **options) as server,
    ):
        yield server


def phase_order(repeat: int, phases: tuple[str, ...]) -> list[str]:
    """Rotate where ``plain`` runs; day 2 always follows its day 1."""
    lifecycle = [p for p in ("day1", "day2") if p in phases]
    if "plain" not in phases:
        return lifecycle
    position = repeat % (len(lifecycle) + 1)
    return [*lifecycle[:position], "plain", *lifecycle[position:]]


def run(args: argparse.Namespace) -> dict[str, Any]:
    from kronos.spark import local_session

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    models = args.models
    day_1 = LAST_DAY_1 + dt.timedelta(days=1)
    day_2 = day_1 + dt.timedelta(days=1)
    panel = make_panel(args.keys, args.points + 1, day_1)
    inputs = {
        "day1": panel[panel[DATE] < day_1],
        "day2": panel,
    }
    root = Path(tempfile.mkdtemp(prefix="kronos-throughput-"))
    spark = local_session("kronos-throughput", task_slots=args.task_slots)
    spark.sparkContext.addPyFile(str(Path(_probes.__file__).resolve()))
    partitions = args.partitions or min(args.keys, 8)

    def spark_frame(data: pd.DataFrame) -> Any:
        df = spark.createDataFrame(data).repartition(partitions, KEY).cache()
        df.count()
        return df

    frames = {day: spark_frame(data) for day, data in inputs.items()}
    runs: dict[str, list[PhaseRun]] = {phase: [] for phase in args.phases}
    with tracking_server(args, root) as server, MemorySampler(server.pid) as sampler:
        # One small job of each kind first, so that the Python workers have
        # imported every library before anything is timed.
        warm = spark_frame(inputs["day1"][inputs["day1"][KEY] < "key_00004"])
        for function, schema in (
            (plain_function(models, day_1, HORIZON), plain_schema()),
            (
                kronos_function(
                    kronos_forecast_udf(
                        server.tracking_uri,
                        models,
                        day_1,
                        "warm",
                        args.log_plots,
                        args.log_candidate_models,
                    )
                ),
                kronos_schema(),
            ),
        ):
            warm.groupby(KEY).applyInPandas(function, schema=schema).toPandas()

        for repeat in range(args.repeats):
            names = f"r{repeat}"
            for phase in phase_order(repeat, args.phases):
                if phase == "plain":
                    function = plain_function(models, day_1, HORIZON)
                    schema = plain_schema()
                    frame = frames["day1"]
                else:
                    current = day_1 if phase == "day1" else day_2
                    function = kronos_function(
                        kronos_forecast_udf(
                            server.tracking_uri,
                            models,
                            current,
                            names,
                            args.log_plots,
                            args.log_candidate_models,
                        )
                    )
                    schema = kronos_schema()
                    frame = frames[phase]
                runs[phase].append(
                    run_phase(phase, repeat, frame, function, schema, server, sampler)
                )
        server_command = server.command()
        backend = server.backend_store_uri.split(":", 1)[0]
    spark.catalog.clearCache()
    if args.keep_store:
        emit_progress(f"MLflow store kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)

    figures = {phase: phase_figures(runs[phase], args.keys) for phase in args.phases}
    plain_wall = figures["plain"]["wall_s"] if "plain" in figures else float("nan")
    print_table(figures, plain_wall)
    return summary(args, figures, plain_wall, server_command, backend, partitions)


def summary(
    args: argparse.Namespace,
    figures: Mapping[str, Mapping[str, Any]],
    plain_wall: float,
    server_command: list[str],
    backend: str,
    partitions: int,
) -> dict[str, Any]:
    """Return the JSON object printed last."""

    def get(phase: str, name: str) -> Any:
        return figures[phase][name] if phase in figures else None

    def ratio(phase: str) -> float | None:
        if phase not in figures or "plain" not in figures:
            return None
        return round(figures[phase]["wall_s"] / plain_wall, 3)

    lifecycle = [p for p in ("day1", "day2") if p in figures]
    memory = [figures[p]["memory_mb"] for p in figures]
    result = {
        "keys": args.keys,
        "points": args.points,
        "models": args.models,
        "repeats": args.repeats,
        "medians": args.repeats > 1,
        "partitions": partitions,
        "plain_keys_per_s": _round(get("plain", "keys_per_s")),
        "kronos_day1_keys_per_s": _round(get("day1", "keys_per_s")),
        "kronos_day2_keys_per_s": _round(get("day2", "keys_per_s")),
        "overhead_ratio_day1": ratio("day1"),
        "overhead_ratio_day2": ratio("day2"),
        "wall_s": {p: _round(f["wall_s"]) for p, f in figures.items()},
        "wall_s_all": {p: f["wall_s_all"] for p, f in figures.items()},
        "mlflow_calls_per_key": {p: _round(get(p, "calls_per_key")) for p in lifecycle},
        "mlflow_ms_per_key": {
            p: _round(get(p, "http_ms_per_key") + get(p, "model_io_ms_per_key"))
            for p in lifecycle
        },
        "mlflow_http_ms_per_key": {
            p: _round(get(p, "http_ms_per_key")) for p in lifecycle
        },
        "model_io_ms_per_key": {
            p: _round(get(p, "model_io_ms_per_key")) for p in lifecycle
        },
        "model_ms_per_key": {
            p: _round(f["model_ms_per_key"]) for p, f in figures.items()
        },
        "key_ms": {p: _round(f["key_ms"]) for p, f in figures.items()},
        "cpu_ms_per_key": {
            p: {k: _round(v) for k, v in f["cpu_ms_per_key"].items()}
            for p, f in figures.items()
        },
        "cpu_busy": {p: _round(f["cpu_busy"]) for p, f in figures.items()},
        "requests_by_endpoint": {
            p: {k: _round(v) for k, v in get(p, "requests_by_endpoint").items()}
            for p in lifecycle
        },
        "outcome": {p: get(p, "outcome") for p in lifecycle},
        "peak_rss_mb": {
            part: max(m.get(part, 0.0) for m in memory) for part in MEMORY_PARTS
        },
        "rss_mb_by_phase": {p: f["memory_mb"] for p, f in figures.items()},
        "server": {
            "command": " ".join(
                Path(server_command[0]).name if i == 0 else part
                for i, part in enumerate(server_command)
            ),
            "host": "127.0.0.1",
            "http_server": args.http_server,
            "workers": args.server_workers,
            "threads": args.server_threads,
            "backend": backend,
            "artifacts": "served by the tracking server"
            if args.artifacts == "served"
            else "written and read directly by the workers (local folder)",
        },
        "log_plots": args.log_plots,
        "log_candidate_models": args.log_candidate_models,
        "spark": f"kronos.spark.local_session: local[{args.task_slots}]",
        "cpu_count": os.cpu_count(),
    }
    return result


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Throughput of kronos against the plain pattern on local Spark."
    )
    parser.add_argument("--keys", type=int, default=500, help="series in the panel")
    parser.add_argument(
        "--points", type=int, default=400, help="daily observations per key on day 1"
    )
    parser.add_argument(
        "--models",
        type=parse_models,
        default="prophet",
        help=f"a preset ({', '.join(PRESETS)}) or a models_config JSON object",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="repetitions of each phase (>= 3)"
    )
    parser.add_argument(
        "--single-pass",
        action="store_true",
        help="run each phase once (smoke tests, long scale runs): no medians",
    )
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help="comma-separated phases among plain, day1, day2",
    )
    parser.add_argument(
        "--artifacts",
        choices=("direct", "served"),
        default="direct",
        help="workers write model files themselves, or through the server",
    )
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the tracking server's store",
    )
    parser.add_argument(
        "--http-server",
        choices=("uvicorn", "gunicorn"),
        default="gunicorn",
        help=(
            "what serves MLflow's API: gunicorn (the faster here) or uvicorn "
            "(MLflow's default)"
        ),
    )
    parser.add_argument(
        "--server-workers",
        type=int,
        default=1,
        help="worker processes of the MLflow server",
    )
    parser.add_argument(
        "--server-threads",
        type=int,
        default=1,
        help="threads per worker of the MLflow server (gunicorn only)",
    )
    parser.add_argument(
        "--log-plots",
        choices=("on", "off"),
        default="on",
        help="kronos's log_plots setting (on is kronos's default)",
    )
    parser.add_argument(
        "--log-candidate-models",
        choices=("on", "off"),
        default="on",
        help="kronos's log_candidate_models setting (on is kronos's default)",
    )
    parser.add_argument(
        "--keep-store",
        action="store_true",
        help="keep the MLflow store and artifacts of the run (deleted by default)",
    )
    parser.add_argument(
        "--task-slots",
        type=int,
        default=2,
        help="tasks Spark runs at once, for the plain pattern and kronos alike "
        "(local[N]; default 2)",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="input partitions (default: min(keys, 8))",
    )
    args = parser.parse_args(argv)
    if isinstance(args.models, str):
        args.models = parse_models(args.models)
    phases = tuple(p.strip() for p in args.phases.split(",") if p.strip())
    unknown = sorted(set(phases) - set(PHASES))
    if unknown or not phases:
        parser.error(f"--phases: unknown {unknown}; use some of {list(PHASES)}")
    if "day2" in phases and "day1" not in phases:
        parser.error("--phases: day2 needs day1")
    args.phases = tuple(p for p in PHASES if p in phases)
    args.log_plots = args.log_plots == "on"
    args.log_candidate_models = args.log_candidate_models == "on"
    if args.single_pass:
        args.repeats = 1
    elif args.repeats < 3:
        parser.error("--repeats must be at least 3 (or pass --single-pass)")
    if args.task_slots < 1:
        parser.error("--task-slots must be at least 1")
    if args.keys < 1 or args.points < N_TEST + 2 * N_UNIT_TEST:
        parser.error(f"--keys must be >= 1 and --points >= {N_TEST + 2 * N_UNIT_TEST}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    result = run(args)
    emit(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
