"""Scoring and selection: scale-free scores, backtest windows, refit, drops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_lifecycle_steps import make_settings

from kronos import backtest, config, lifecycle, metrics, tracking
from kronos.lifecycle import PRODUCTION, CandidateResult, KeyOutcome
from kronos.models import EnsembleModel, build_model
from kronos.series import Series, SeriesError

NAIVE = {"model_flavor": "naive"}
SEASONAL = {"model_flavor": "seasonal_naive", "season_length": 7}
ETS_WEEKLY = {"model_flavor": "statsforecast", "model": "AutoETS", "season_length": 7}
MODELS = {
    "naive": NAIVE,
    "seasonal": SEASONAL,
    "mean": {"model_flavor": "ensemble", "method": "mean", "members": ["naive"]},
}
MODELS["mean"]["members"] = ["naive", "seasonal"]


def make_series(n: int = 60, scale: float = 1.0) -> Series:
    rng = np.random.default_rng(5)
    t = np.arange(n)
    values = scale * (20 + 4 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.5, n))
    dates = pd.date_range("2024-01-01", periods=n, freq="D")
    return Series(pd.DataFrame({"ds": dates, "y": values}), "D", dates[-1])


def scoring(names, weights=None, **overrides):
    """Settings scoring by ``names``, validated as the factory validates them."""
    names, weights = config.parse_competition_metrics(names, weights)
    return make_settings(
        competition_metrics=names, competition_metric_weights=weights, **overrides
    )


def result(name: str, **means: float) -> CandidateResult:
    return CandidateResult(name, NAIVE, window_metrics=[dict(means)])


# Scale-free weighting


def test_a_single_candidate_scores_one_whatever_the_metrics_and_weights():
    settings = scoring(("rmse", "mape"), {"rmse": 0.9, "mape": 0.1})

    scores = lifecycle.combine_scores({"a": result("a", rmse=1e6, mape=3)}, settings)

    assert scores == {"a": pytest.approx(1.0)}
    assert lifecycle.pick_winner(scores) == "a"


def test_two_candidates_score_their_weighted_ratios_to_the_best():
    settings = scoring(("rmse", "mape"), {"rmse": 3, "mape": 1})
    results = {
        "a": result("a", rmse=2000.0, mape=10.0),
        "b": result("b", rmse=1000.0, mape=40.0),
    }

    scores = lifecycle.combine_scores(results, settings)

    # a: 0.75 * 2000/1000 + 0.25 * 10/10; b: 0.75 * 1 + 0.25 * 40/10.
    assert scores["a"] == pytest.approx(1.75)
    assert scores["b"] == pytest.approx(1.75)
    results["b"].window_metrics = [{"rmse": 1000.0, "mape": 30.0}]
    assert lifecycle.pick_winner(lifecycle.combine_scores(results, settings)) == "b"


def test_many_candidates_keep_their_scores_when_a_metric_changes_unit():
    settings = scoring(("rmse", "mae", "smape"), [1, 1, 2])
    values = {
        "a": (3.0, 2.0, 10.0),
        "b": (2.0, 4.0, 12.0),
        "c": (7.0, 3.0, 5.0),
        "d": (2.5, 2.5, 20.0),
    }
    results = {
        name: result(name, rmse=r, mae=m, smape=s) for name, (r, m, s) in values.items()
    }
    in_thousands = {
        name: result(name, rmse=r * 1000, mae=m * 1000, smape=s)
        for name, (r, m, s) in values.items()
    }

    scores = lifecycle.combine_scores(results, settings)

    expected = {
        name: (r / 2.0 + m / 2.0 + 2 * s / 5.0) / 4
        for name, (r, m, s) in values.items()
    }
    assert scores == pytest.approx(expected)
    assert lifecycle.combine_scores(in_thousands, settings) == pytest.approx(scores)
    assert metrics.rank(scores) == ["a", "c", "b", "d"]


def test_the_score_is_the_mean_of_each_metric_over_the_windows():
    settings = scoring(("mae",))
    results = {
        "a": CandidateResult("a", NAIVE, window_metrics=[{"mae": 1.0}, {"mae": 3.0}]),
        "b": CandidateResult("b", NAIVE, window_metrics=[{"mae": 2.0}, {"mae": 2.0}]),
    }

    scores = lifecycle.combine_scores(results, settings)

    assert scores["a"] == pytest.approx(scores["b"])


def test_production_keeps_its_place_on_a_tie():
    assert lifecycle.pick_winner({"a": 1.0, PRODUCTION: 1.0, "b": 1.2}) == PRODUCTION
    assert lifecycle.pick_winner({"a": 1.0, PRODUCTION: 1.01}) == "a"


# Backtest windows


@pytest.mark.parametrize(
    ("n_obs", "n_test", "n_windows", "expected"),
    [
        (60, 7, 1, [(53, 53, 60)]),
        (60, 7, 3, [(39, 39, 46), (46, 46, 53), (53, 53, 60)]),
        (10, 3, 2, [(4, 4, 7), (7, 7, 10)]),
    ],
)
def test_backtest_windows_are_placed_back_to_back_at_the_end(
    n_obs, n_test, n_windows, expected
):
    settings = make_settings(n_test=n_test, n_windows=n_windows)

    windows = lifecycle.test_windows(make_series(n_obs), settings)

    assert [(w.train_end, w.test_start, w.test_end) for w in windows] == expected


def test_a_series_too_short_for_every_window_is_backtested_on_those_that_fit():
    settings = make_settings(n_test=7, n_windows=4)
    outcome = KeyOutcome(key="k")

    windows = lifecycle.test_windows(make_series(20), settings)
    lifecycle.evaluate_candidates({"naive": NAIVE}, make_series(20), settings, outcome)

    assert [(w.train_end, w.test_end) for w in windows] == [(6, 13), (13, 20)]
    assert any("backtested on 2" in note for note in outcome.notes)


def test_a_series_too_short_for_one_window_raises_a_series_error():
    with pytest.raises(SeriesError):
        lifecycle.test_windows(make_series(7), make_settings(n_test=7))


def test_each_window_is_forecast_by_the_model_fitted_on_the_rows_before_it():
    series = make_series(60)
    settings = scoring(("mae",), n_test=7, n_windows=3)

    results = lifecycle.evaluate_candidates(
        {"naive": NAIVE}, series, settings, KeyOutcome(key="k")
    )

    y = series.data["y"].to_numpy()
    windows = backtest.rolling_origin_windows(60, 7, 3)
    naive = results["naive"]
    for window, forecast, scores in zip(
        windows, naive.window_forecasts, naive.window_metrics, strict=True
    ):
        actual = y[window.test_start : window.test_end]
        np.testing.assert_allclose(forecast, y[window.train_end - 1])
        assert scores["mae"] == pytest.approx(np.mean(np.abs(actual - forecast)))
    assert naive.model.last_date == series.data["ds"].iloc[53 - 1]


def test_production_is_scored_on_the_same_windows_by_the_same_rule():
    series = make_series(60)
    settings = scoring(("rmse",), n_test=7, n_windows=2)
    production = build_model(SEASONAL).fit(series.data)
    outcome = KeyOutcome(key="k")

    results = lifecycle.evaluate_candidates(
        {"seasonal": SEASONAL}, series, settings, outcome
    )
    results[PRODUCTION] = lifecycle.score_production(
        production, series, settings, outcome
    )

    for left, right in zip(
        results["seasonal"].window_forecasts,
        results[PRODUCTION].window_forecasts,
        strict=True,
    ):
        np.testing.assert_allclose(left, right)
    scores = lifecycle.combine_scores(results, settings)
    assert scores["seasonal"] == pytest.approx(scores[PRODUCTION])
    assert lifecycle.pick_winner(scores) == PRODUCTION


# Refit


@pytest.mark.parametrize("name", ["naive", "seasonal", "mean"])
def test_the_winner_is_refit_on_all_the_data(name):
    series = make_series(60)
    settings = make_settings(models_config=MODELS, n_test=7, n_windows=2)
    results = lifecycle.evaluate_candidates(
        MODELS, series, settings, KeyOutcome(key="k")
    )

    model = lifecycle.refit(name, MODELS, series, settings, results)

    assert model.last_date == series.last_date
    if isinstance(model, EnsembleModel):
        assert list(model.members) == ["naive", "seasonal"]
        assert all(m.last_date == series.last_date for m in model.members.values())


def test_a_top_k_ensemble_is_refit_with_the_members_it_was_scored_with():
    series = make_series(60)
    models = {
        "naive": NAIVE,
        "seasonal": SEASONAL,
        "best": {"model_flavor": "ensemble", "k": 1},
    }
    settings = make_settings(models_config=models, n_test=7, n_windows=2)
    results = lifecycle.evaluate_candidates(
        models, series, settings, KeyOutcome(key="k")
    )

    model = lifecycle.refit("best", models, series, settings, results)

    assert results["best"].entry["members"] == ["seasonal"]
    assert list(model.members) == ["seasonal"]
    assert model.last_date == series.last_date


def test_members_the_key_did_not_name_are_parts_of_their_ensemble_only():
    series = make_series(60)
    settings = make_settings(models_config=MODELS, n_test=7, n_windows=2)
    entries = {"mean": MODELS["mean"]}

    results = lifecycle.evaluate_candidates(
        entries, series, settings, KeyOutcome(key="k")
    )
    model = lifecycle.refit("mean", entries, series, settings, results)

    assert list(results) == ["mean"]
    assert list(model.members) == ["naive", "seasonal"]


# Drops


def test_a_candidate_too_short_is_dropped_with_its_reason_and_the_rest_compete():
    series = make_series(28)
    entries = {"ets": ETS_WEEKLY, "naive": NAIVE}
    settings = make_settings(n_test=7, n_windows=2)
    outcome = KeyOutcome(key="k")

    results = lifecycle.evaluate_candidates(entries, series, settings, outcome)

    assert list(results) == ["naive"]
    assert "needs at least 15 training points" in outcome.dropped["ets"]


def test_an_ensemble_needs_as_many_points_as_its_most_demanding_member():
    members = {"ets": build_model(ETS_WEEKLY), "naive": build_model(NAIVE)}
    ensemble = EnsembleModel.from_members(members)
    entry = {"model_flavor": "ensemble", "members": ["ets", "naive"]}

    lifecycle._check_length(ensemble, entry, 15)
    with pytest.raises(SeriesError, match="needs at least 15"):
        lifecycle._check_length(ensemble, entry, 14)


def test_a_production_ensemble_too_short_for_the_windows_is_not_scored():
    series = make_series(22)
    members = {"ets": build_model(ETS_WEEKLY), "naive": build_model(NAIVE)}
    production = EnsembleModel.from_members(members).fit(series.data)
    settings = make_settings(n_test=7, n_windows=2)

    with pytest.raises(SeriesError, match="needs at least 15"):
        lifecycle.score_production(production, series, settings, KeyOutcome("k"))


def test_scores_ranks_windows_and_drops_are_recorded_per_candidate():
    series = make_series(28)
    entries = {"ets": ETS_WEEKLY, "naive": NAIVE, "seasonal": SEASONAL}
    settings = scoring(("rmse", "mase"), n_test=7, n_windows=2)
    outcome = KeyOutcome(key="k")
    results = lifecycle.evaluate_candidates(entries, series, settings, outcome)
    outcome.scores = lifecycle.combine_scores(results, settings)
    record = tracking.RunRecord()

    lifecycle.log_scores(record, results, outcome)

    for name in ("naive", "seasonal"):
        for metric in ("rmse", "mase"):
            assert f"{name}.{metric}" in record.metrics
            for index in range(2):
                assert f"{name}.{metric}.window_{index}" in record.metrics
        assert record.metrics[f"{name}.score"] == pytest.approx(outcome.scores[name])
    ranks = {record.metrics["naive.rank"], record.metrics["seasonal.rank"]}
    assert ranks == {1, 2}
    assert "needs at least 15" in record.tags["ets.dropped"]


def test_the_members_an_ensemble_was_scored_with_are_recorded():
    series = make_series(60)
    models = {**MODELS, "best": {"model_flavor": "ensemble", "k": 1}}
    settings = make_settings(models_config=models, n_test=7, n_windows=2)
    outcome = KeyOutcome(key="k")
    results = lifecycle.evaluate_candidates(models, series, settings, outcome)
    outcome.scores = lifecycle.combine_scores(results, settings)
    record = tracking.RunRecord()

    lifecycle.log_scores(record, results, outcome)

    assert record.tags["mean.members"] == "naive,seasonal"
    assert record.tags["best.members"] == "seasonal"
