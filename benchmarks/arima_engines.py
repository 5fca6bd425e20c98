"""AutoARIMA of statsforecast against auto_arima of pmdarima, on the same keys.

Both engines are used the way the kronos lifecycle uses them, through
:mod:`kronos.models` (flavors ``statsforecast`` with ``model: AutoARIMA`` and
``pmdarima``), with the same season. On each key of the generated daily panel
of ``benchmarks/throughput.py``, each engine is fitted on all but the last
``--horizon`` points and forecasts them; the order of the two engines
alternates from key to key, in one process. Reported: the median fit and
forecast time per key, their ratio, and the accuracy of both against the
held-out points (mean MASE, sMAPE and RMSE over the keys), with how often each
engine was the more accurate.

It prints a table and, as its last line, a JSON object.

Example::

    .venv/bin/python benchmarks/arima_engines.py --keys 200 --points 400
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import LAST_DAY_1, make_panel

SEASON = 7

ENGINES: dict[str, dict[str, Any]] = {
    "statsforecast": {
        "model_flavor": "statsforecast",
        "model": "AutoARIMA",
        "season_length": SEASON,
    },
    "pmdarima": {"model_flavor": "pmdarima", "m": SEASON, "seasonal": True},
}


def evaluate(
    entry: dict[str, Any], history: pd.DataFrame, future: pd.DataFrame
) -> dict[str, float]:
    """Fit ``entry`` on ``history``, forecast ``future`` and score the forecast."""
    from kronos import metrics
    from kronos.models import build_model

    start = time.perf_counter()
    model = build_model(entry, "D").fit(history)
    forecast = model.predict(pd.DatetimeIndex(future["ds"]))["yhat"].to_numpy()
    seconds = time.perf_counter() - start
    actual = future["y"].to_numpy()
    train = history["y"].to_numpy()
    scores = {
        name: float(
            metrics.METRICS[name](actual, forecast, y_train=train, season_length=SEASON)
        )
        for name in ("mase", "smape", "rmse")
    }
    return {"seconds": seconds, **scores}


def run(args: argparse.Namespace) -> dict[str, Any]:
    panel = make_panel(args.keys, args.points, LAST_DAY_1, seed=args.seed)
    panel["ds"] = pd.to_datetime(panel["date"])
    panel = panel.rename(columns={"value": "y"})
    rows = []
    warmed = False
    for index, (key, frame) in enumerate(panel.groupby("id", sort=True)):
        series = frame[["ds", "y"]].reset_index(drop=True)
        history, future = series.iloc[: -args.horizon], series.iloc[-args.horizon :]
        if not warmed:
            # First fits pay for imports and compilation: not timed.
            for entry in ENGINES.values():
                evaluate(entry, history, future)
            warmed = True
        order = list(ENGINES) if index % 2 == 0 else list(reversed(ENGINES))
        for engine in order:
            rows.append(
                {
                    "key": key,
                    "engine": engine,
                    **evaluate(ENGINES[engine], history, future),
                }
            )
    results = pd.DataFrame(rows)
    summary: dict[str, Any] = {}
    for engine, part in results.groupby("engine"):
        summary[engine] = {
            "median_ms_per_key": round(1000 * statistics.median(part["seconds"]), 1),
            "total_s": round(float(part["seconds"].sum()), 2),
            "mean_mase": round(float(part["mase"].mean()), 4),
            "mean_smape": round(float(part["smape"].mean()), 4),
            "mean_rmse": round(float(part["rmse"].mean()), 4),
        }
    wide = results.pivot(index="key", columns="engine", values="mase")
    sf_better = int((wide["statsforecast"] < wide["pmdarima"]).sum())
    pm_better = int((wide["pmdarima"] < wide["statsforecast"]).sum())
    ratio = (
        summary["pmdarima"]["median_ms_per_key"]
        / summary["statsforecast"]["median_ms_per_key"]
    )
    header = ("engine", "ms/key", "total s", "MASE", "sMAPE", "RMSE")
    emit("{:14} {:>8} {:>8} {:>7} {:>7} {:>8}".format(*header))
    for engine, figures in summary.items():
        emit(
            f"{engine:14} {figures['median_ms_per_key']:8.1f} "
            f"{figures['total_s']:8.2f} {figures['mean_mase']:7.3f} "
            f"{figures['mean_smape']:7.3f} {figures['mean_rmse']:8.3f}"
        )
    emit(
        f"pmdarima / statsforecast time per key: {ratio:.2f}; statsforecast more "
        f"accurate (MASE) on {sf_better} keys, pmdarima on {pm_better}"
    )
    return {
        "keys": args.keys,
        "points": args.points,
        "horizon": args.horizon,
        "season_length": SEASON,
        "engines": ENGINES,
        "results": summary,
        "speed_ratio_pmdarima_over_statsforecast": round(ratio, 2),
        "keys_statsforecast_more_accurate_mase": sf_better,
        "keys_pmdarima_more_accurate_mase": pm_better,
        "cpu_count": os.cpu_count(),
    }


def emit(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="statsforecast AutoARIMA against pmdarima auto_arima."
    )
    parser.add_argument("--keys", type=int, default=200, help="series compared")
    parser.add_argument(
        "--points", type=int, default=400, help="daily observations per key"
    )
    parser.add_argument("--horizon", type=int, default=14, help="held-out points")
    parser.add_argument("--seed", type=int, default=11, help="panel seed")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    emit(json.dumps(run(parse_args(argv))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
