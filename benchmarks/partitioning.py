"""Time forecasting many keys under several ways of partitioning them by key.

In one local Spark session, runs a cheap per-key fit and forecast (a seasonal
naive model in plain pandas, no MLflow) through ``applyInPandas`` after each
of these ways of partitioning the input:

- ``one_per_key``: ``df.repartition(n_keys, key)``, one partition per key;
- ``partition_by_key``: :func:`kronos.spark.partition_by_key` with its default
  count;
- ``per_core=F``: ``partition_by_key`` with ``F`` partitions per core, for
  each ``F`` of ``--per-core``;
- ``groupby`` (with ``--with-groupby``): no repartition, adaptive coalescing
  on, which is what ``df.groupby(key)`` alone gets.

The cases run in turn, the order rotating each repeat, and each timing covers
the whole job: counting the keys when the case needs it, the shuffle, the
per-key function and a small aggregate of its output. ``--sleep-ms`` adds to
each key a wait drawn from a log-normal law with that mean, a stand-in for
models whose fitting time varies from key to key.

Prints one table and, last, one JSON line with every timing.

Example::

    python benchmarks/partitioning.py --keys 1000 --points 100 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812

from kronos.spark import COALESCE_SETTING, local_session, partition_by_key

KEY, DATE, VALUE = "id", "date", "value"
SEASON, HORIZON = 7, 14
OUTPUT_SCHEMA = (
    "id string, date date, fcst double, mae double, partition int, first boolean"
)
#: Spark's own default, which local_session lowers for tests.
SHUFFLE_PARTITIONS = 200


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1000, help="number of series")
    parser.add_argument(
        "--points", type=int, default=100, help="daily observations per series"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs of each case (>= 3)"
    )
    parser.add_argument(
        "--per-core",
        default="1,2,8",
        help="comma-separated partitions per core to time as extra cases; "
        "empty for none",
    )
    parser.add_argument(
        "--sleep-ms",
        type=float,
        default=0.0,
        help="mean extra milliseconds per key (log-normal), 0 for none",
    )
    parser.add_argument(
        "--with-groupby",
        action="store_true",
        help="also time groupby without repartition, coalescing on",
    )
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error(f"--repeats={args.repeats} is too few; pass 3 or more")
    if args.keys < 1 or args.points < SEASON + HORIZON:
        parser.error(
            f"--keys={args.keys} --points={args.points}: pass at least one key "
            f"and at least {SEASON + HORIZON} points"
        )
    return args


def make_panel(n_keys: int, n_points: int) -> pd.DataFrame:
    """Daily series with a weekly season and noise, one per key."""
    rng = np.random.default_rng(0)
    dates = pd.date_range("2024-01-01", periods=n_points, freq="D").date
    t = np.arange(n_points)
    season = 10 * np.sin(2 * np.pi * t / SEASON)
    levels = rng.uniform(50, 150, n_keys)
    values = levels[:, None] + season[None, :] + rng.normal(0, 2, (n_keys, n_points))
    return pd.DataFrame(
        {
            KEY: np.repeat([f"key_{i:06d}" for i in range(n_keys)], n_points),
            DATE: np.tile(dates, n_keys),
            VALUE: values.ravel(),
        }
    )


def make_forecast_fn(sleep_ms: float) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Return the per-key function: seasonal naive, scored on a holdout."""

    def forecast_key(frame: pd.DataFrame) -> pd.DataFrame:
        # Imported here: this runs on Spark's Python workers.
        import zlib

        from pyspark import TaskContext

        frame = frame.sort_values(DATE)
        values = frame[VALUE].to_numpy(dtype=float)
        train, test = values[:-HORIZON], values[-HORIZON:]
        backtest = np.resize(train[-SEASON:], HORIZON)
        mae = float(np.mean(np.abs(test - backtest)))
        last = pd.Timestamp(frame[DATE].iloc[-1])
        key = frame[KEY].iloc[0]
        if sleep_ms > 0:
            seed = zlib.crc32(key.encode())
            sigma = 1.0
            mean_log = np.log(sleep_ms / 1000) - sigma**2 / 2
            wait = np.random.default_rng(seed).lognormal(mean_log, sigma)
            time.sleep(wait)
        return pd.DataFrame(
            {
                KEY: key,
                DATE: pd.date_range(last + pd.Timedelta(days=1), periods=HORIZON).date,
                "fcst": np.resize(values[-SEASON:], HORIZON),
                "mae": mae,
                "partition": TaskContext.get().partitionId(),
                "first": np.arange(HORIZON) == 0,
            }
        )

    return forecast_key


def one_per_key(df: DataFrame) -> DataFrame:
    """Count the keys and make one partition per key (the seed recipe)."""
    df.sparkSession.conf.set(COALESCE_SETTING, "true")
    n_keys = df.select(KEY).distinct().count()
    return df.repartition(n_keys, KEY)


def groupby_only(df: DataFrame) -> DataFrame:
    """Leave the input as it is: the groupby's own shuffle, which Spark coalesces."""
    df.sparkSession.conf.set(COALESCE_SETTING, "true")
    return df


def cases(per_core: list[int], with_groupby: bool) -> dict[str, Callable]:
    chosen: dict[str, Callable[[DataFrame], DataFrame]] = {
        "one_per_key": one_per_key,
        "partition_by_key": lambda df: partition_by_key(df, KEY),
    }
    for factor in per_core:
        chosen[f"per_core={factor}"] = lambda df, f=factor: partition_by_key(
            df, KEY, partitions_per_core=f
        )
    if with_groupby:
        chosen["groupby"] = groupby_only
    return chosen


def run_case(
    df: DataFrame, recipe: Callable[[DataFrame], DataFrame], forecast_fn: Callable
) -> dict[str, float]:
    """Run one case to the end; return its time, rows, keys and tasks used.

    ``tasks`` counts the partitions that held at least one key. The closing
    aggregate has no grouping, so it adds one single-partition step whatever
    the session's shuffle settings.
    """
    started = time.perf_counter()
    result = (
        recipe(df)
        .groupby(KEY)
        .applyInPandas(forecast_fn, schema=OUTPUT_SCHEMA)
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum(F.col("first").cast("int")).alias("keys"),
            F.size(F.collect_set("partition")).alias("tasks"),
        )
        .collect()[0]
    )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows": result["rows"],
        "keys": result["keys"],
        "tasks": result["tasks"],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = os.getloadavg()[0]
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    per_core = [int(x) for x in args.per_core.split(",") if x.strip()]
    spark: SparkSession = local_session("kronos-benchmark-partitioning")
    spark.conf.set("spark.sql.shuffle.partitions", str(SHUFFLE_PARTITIONS))
    parallelism = spark.sparkContext.defaultParallelism
    forecast_fn = make_forecast_fn(args.sleep_ms)
    chosen = cases(per_core, args.with_groupby)

    # Warm up the Python workers on a few keys, outside the timings.
    warm = spark.createDataFrame(make_panel(8, SEASON + HORIZON))
    for recipe in chosen.values():
        run_case(warm, recipe, forecast_fn)

    # The input is built and cached once, so that no case pays for it.
    df = spark.createDataFrame(make_panel(args.keys, args.points)).cache()
    df.count()

    runs: dict[str, list[dict[str, float]]] = {name: [] for name in chosen}
    names = list(chosen)
    for repeat in range(args.repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            outcome = run_case(df, chosen[name], forecast_fn)
            if outcome["keys"] != args.keys or outcome["rows"] != args.keys * HORIZON:
                raise RuntimeError(f"{name} returned {outcome}, not every key")
            runs[name].append(outcome)
            sys.stdout.write(f"repeat {repeat + 1} {name}: {outcome['seconds']:.2f}s\n")
            sys.stdout.flush()

    reference = statistics.median(r["seconds"] for r in runs["one_per_key"])
    summary = []
    for name, outcomes in runs.items():
        seconds = [r["seconds"] for r in outcomes]
        median = statistics.median(seconds)
        summary.append(
            {
                "case": name,
                "tasks": int(statistics.median(r["tasks"] for r in outcomes)),
                "median_s": round(median, 3),
                "min_s": round(min(seconds), 3),
                "max_s": round(max(seconds), 3),
                "keys_per_s": round(args.keys / median, 1),
                "vs_one_per_key": round(reference / median, 2),
                "seconds": [round(s, 3) for s in seconds],
            }
        )

    header = (
        f"{'case':<18}{'tasks':>7}{'median s':>10}{'min s':>9}{'max s':>9}"
        f"{'keys/s':>9}{'speed-up':>10}"
    )
    lines = [header, "-" * len(header)]
    for row in summary:
        lines.append(
            f"{row['case']:<18}{row['tasks']:>7}{row['median_s']:>10.2f}"
            f"{row['min_s']:>9.2f}{row['max_s']:>9.2f}{row['keys_per_s']:>9.1f}"
            f"{row['vs_one_per_key']:>9.2f}x"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    record = {
        "benchmark": "partitioning",
        "keys": args.keys,
        "points": args.points,
        "repeats": args.repeats,
        "sleep_ms": args.sleep_ms,
        "parallelism": parallelism,
        "shuffle_partitions": SHUFFLE_PARTITIONS,
        "cpus": os.cpu_count(),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "python": platform.python_version(),
        "spark": spark.version,
        "cases": summary,
    }
    sys.stdout.write(json.dumps(record) + "\n")
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
