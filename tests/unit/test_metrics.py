import math

import numpy as np
import pandas as pd
import pytest

from kronos.metrics import (
    METRICS,
    combined_scores,
    mae,
    mape,
    mase,
    rank,
    rmse,
    smape,
    validate_metric_name,
    validate_weights,
    wape,
)

# Errors of [-1, 0, 3]; absolute errors sum to 4 and actual values to 7.
Y_TRUE = [1.0, 2.0, 4.0]
Y_PRED = [2.0, 2.0, 1.0]
# Absolute differences one period apart: 2, 1, 4 (mean 7/3); two apart: 1, 3.
Y_TRAIN = [1.0, 3.0, 2.0, 6.0]


# --- each metric on hand-computed values --------------------------------------


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        (rmse, math.sqrt(10 / 3)),
        (mae, 4 / 3),
        (mape, 100 * (1 / 1 + 0 / 2 + 3 / 4) / 3),
        (smape, 200 / 3 * (1 / 3 + 0 / 4 + 3 / 5)),
        (wape, 4 / 7),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_metric_matches_hand_computed_value(metric, expected):
    assert metric(Y_TRUE, Y_PRED) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("season_length", "expected"),
    [(1, (4 / 3) / (7 / 3)), (2, (4 / 3) / 2), (4, (4 / 3) / (7 / 3))],
    ids=["lag-1", "seasonal", "season-longer-than-training-falls-back-to-lag-1"],
)
def test_mase_scales_by_seasonal_naive_error_of_training(season_length, expected):
    result = mase(Y_TRUE, Y_PRED, y_train=Y_TRAIN, season_length=season_length)

    assert result == pytest.approx(expected)


@pytest.mark.parametrize("metric", list(METRICS.values()), ids=list(METRICS))
def test_exact_forecast_scores_zero(metric):
    assert metric(Y_TRUE, Y_TRUE, y_train=Y_TRAIN) == 0.0


@pytest.mark.parametrize(
    "to_array",
    [list, np.array, pd.Series, lambda v: np.array(v).reshape(-1, 1)],
    ids=["list", "ndarray", "series", "column"],
)
def test_metrics_accept_array_likes(to_array):
    assert mae(to_array(Y_TRUE), to_array(Y_PRED)) == pytest.approx(4 / 3)


def test_mape_skips_periods_whose_actual_value_is_zero():
    assert mape([0.0, 2.0], [1.0, 1.0]) == pytest.approx(50.0)


def test_mape_is_infinite_when_every_actual_value_is_zero():
    assert mape([0.0, 0.0], [0.0, 1.0]) == math.inf


def test_smape_counts_zero_over_zero_as_no_error():
    assert smape([0.0, 2.0], [0.0, 1.0]) == pytest.approx(100 * (0 + 1 / 3))


def test_smape_is_at_most_200():
    assert smape([1.0, 2.0], [-1.0, 0.0]) == pytest.approx(200.0)


@pytest.mark.parametrize(
    ("y_pred", "expected"), [([0.0, 0.0], 0.0), ([0.0, 1.0], math.inf)]
)
def test_wape_of_an_all_zero_series_is_zero_or_infinite(y_pred, expected):
    assert wape([0.0, 0.0], y_pred) == expected


@pytest.mark.parametrize(
    ("y_pred", "expected"), [([5.0, 5.0], 0.0), ([5.0, 6.0], math.inf)]
)
def test_mase_with_constant_training_is_zero_or_infinite(y_pred, expected):
    assert mase([5.0, 5.0], y_pred, y_train=[5.0, 5.0, 5.0]) == expected


def test_mase_needs_training_values():
    with pytest.raises(ValueError, match="mase needs y_train"):
        mase(Y_TRUE, Y_PRED)


def test_mase_needs_two_training_values():
    with pytest.raises(ValueError, match=r"at least 2 training values .* got 1"):
        mase(Y_TRUE, Y_PRED, y_train=[1.0])


@pytest.mark.parametrize("season_length", [0, -2, 1.5, True])
def test_mase_needs_a_positive_season_length(season_length):
    with pytest.raises(ValueError, match="season_length must be a positive integer"):
        mase(Y_TRUE, Y_PRED, y_train=Y_TRAIN, season_length=season_length)


@pytest.mark.parametrize("metric", list(METRICS.values()), ids=list(METRICS))
def test_metrics_reject_arrays_of_different_lengths(metric):
    with pytest.raises(ValueError, match="same length, got 3 and 2"):
        metric(Y_TRUE, [1.0, 2.0], y_train=Y_TRAIN)


@pytest.mark.parametrize("metric", list(METRICS.values()), ids=list(METRICS))
def test_metrics_reject_empty_arrays(metric):
    with pytest.raises(ValueError, match="at least one value"):
        metric([], [], y_train=Y_TRAIN)


@pytest.mark.parametrize("metric", list(METRICS.values()), ids=list(METRICS))
def test_metrics_are_not_finite_when_a_forecast_is_nan(metric):
    assert not math.isfinite(metric(Y_TRUE, [2.0, np.nan, 1.0], y_train=Y_TRAIN))


# --- names --------------------------------------------------------------------


def test_metrics_registry_names_every_metric():
    assert sorted(METRICS) == ["mae", "mape", "mase", "rmse", "smape", "wape"]


def test_validate_metric_name_returns_a_known_name():
    assert validate_metric_name("smape", "metric") == "smape"


@pytest.mark.parametrize("name", ["RMSE", "r2", None])
def test_validate_metric_name_names_field_value_and_choices(name):
    with pytest.raises(
        ValueError,
        match=rf"settings.metric must name a metric among "
        rf"mae, mape, mase, rmse, smape, wape, got {name!r}",
    ):
        validate_metric_name(name, "settings.metric")


# --- weights ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        (None, {"rmse": 0.5, "mape": 0.5}),
        ([3, 1], {"rmse": 0.75, "mape": 0.25}),
        ({"mape": 1.0, "rmse": 3.0}, {"rmse": 0.75, "mape": 0.25}),
        ([0.0, 2.0], {"rmse": 0.0, "mape": 1.0}),
    ],
    ids=["none-is-equal", "list", "mapping", "zero-weight"],
)
def test_validate_weights_normalises_to_one(weights, expected):
    assert validate_weights(["rmse", "mape"], weights) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("metrics", "weights", "message"),
    [
        ([], None, "metrics must name at least one metric"),
        (["rmse", "r2"], None, "metrics must name a metric among .* got 'r2'"),
        (["rmse", "rmse"], None, r"must not repeat a name, got \['rmse'\]"),
        (["rmse", "mape"], [1.0], "weights must have 2 weights, .* got 1: \\[1.0\\]"),
        (["rmse", "mape"], {"rmse": 1}, r"missing \['mape'\], not among metrics \[\]"),
        (
            ["rmse"],
            {"rmse": 1, "mae": 1},
            r"missing \[\], not among metrics \['mae'\]",
        ),
        (["rmse", "mape"], [1, -1], "finite numbers of 0 or more, got -1 for 'mape'"),
        (["rmse"], [math.inf], "finite numbers of 0 or more, got inf for 'rmse'"),
        (["rmse"], [math.nan], "finite numbers of 0 or more, got nan for 'rmse'"),
        (["rmse"], ["1"], "finite numbers of 0 or more, got '1' for 'rmse'"),
        (["rmse"], [True], "finite numbers of 0 or more, got True for 'rmse'"),
        (["rmse", "mape"], [0, 0], r"weights must not all be 0, got \[0, 0\]"),
        (["rmse"], "1", "weights must be a list of numbers, a mapping"),
    ],
)
def test_validate_weights_rejects_bad_settings(metrics, weights, message):
    with pytest.raises(ValueError, match=message):
        validate_weights(metrics, weights)


def test_validate_weights_names_the_given_field():
    with pytest.raises(ValueError, match=r"settings\.metric_weights must not all be 0"):
        validate_weights(["rmse"], [0], field="settings.metric_weights")


# --- combined scores ----------------------------------------------------------


def test_a_single_candidate_scores_one():
    scores = {"prophet": {"rmse": 12.5, "mape": 30.0}}

    assert combined_scores(scores, {"rmse": 1, "mape": 1}) == {"prophet": 1.0}


def test_no_candidates_give_no_scores():
    assert combined_scores({}, {"rmse": 1.0}) == {}


def test_two_candidates_are_scored_relative_to_the_best_of_each_metric():
    scores = {"a": {"rmse": 10.0, "mape": 20.0}, "b": {"rmse": 20.0, "mape": 10.0}}

    result = combined_scores(scores, {"rmse": 3.0, "mape": 1.0})

    assert result == pytest.approx({"a": 0.75 * 1 + 0.25 * 2, "b": 0.75 * 2 + 0.25})


def test_many_candidates_are_scored_relative_to_the_best_of_each_metric():
    scores = {
        "a": {"mae": 2.0, "smape": 40.0, "wape": 0.2},
        "b": {"mae": 4.0, "smape": 10.0, "wape": 0.1},
        "c": {"mae": 1.0, "smape": 20.0, "wape": 0.4},
        "d": {"mae": 8.0, "smape": 80.0, "wape": 0.8},
    }

    result = combined_scores(scores, {"mae": 1, "smape": 1, "wape": 2})

    assert result == pytest.approx(
        {
            "a": (2 + 4 + 2 * 2) / 4,
            "b": (4 + 1 + 2 * 1) / 4,
            "c": (1 + 2 + 2 * 4) / 4,
            "d": (8 + 8 + 2 * 8) / 4,
        }
    )
    assert rank(result) == ["b", "a", "c", "d"]


def test_metric_units_do_not_change_the_combined_scores():
    in_units = {"a": {"rmse": 3.0, "mape": 12.0}, "b": {"rmse": 2.0, "mape": 15.0}}
    in_thousands = {
        name: {"rmse": values["rmse"] * 1000, "mape": values["mape"]}
        for name, values in in_units.items()
    }
    weights = {"rmse": 1.0, "mape": 1.0}

    assert combined_scores(in_thousands, weights) == pytest.approx(
        combined_scores(in_units, weights)
    )


def test_a_metric_with_large_numbers_does_not_outweigh_one_with_small_numbers():
    scores = {
        "a": {"rmse": 1000.0, "wape": 0.10},
        "b": {"rmse": 1100.0, "wape": 0.05},
    }

    result = combined_scores(scores, {"rmse": 1.0, "wape": 1.0})

    assert rank(result) == ["b", "a"]


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_a_non_finite_metric_makes_the_combined_score_infinite(bad):
    scores = {"a": {"rmse": 1.0, "mape": bad}, "b": {"rmse": 2.0, "mape": 5.0}}

    result = combined_scores(scores, {"rmse": 1.0, "mape": 1.0})

    assert result["a"] == math.inf
    assert result["b"] == pytest.approx(1.5)


def test_every_candidate_is_infinite_when_no_value_of_a_metric_is_finite():
    scores = {"a": {"mape": math.inf}, "b": {"mape": math.inf}}

    assert combined_scores(scores, {"mape": 1.0}) == {"a": math.inf, "b": math.inf}


def test_an_exact_best_scores_one_and_the_others_large_but_finite():
    scores = {"exact": {"mae": 0.0}, "close": {"mae": 1.0}, "far": {"mae": 2.0}}

    result = combined_scores(scores, {"mae": 1.0})

    assert result["exact"] == 1.0
    assert result["close"] == pytest.approx(1 + 0.5e9)
    assert result["far"] == pytest.approx(1 + 1e9)
    assert rank(result) == ["exact", "close", "far"]


def test_every_candidate_scores_one_when_all_are_exact():
    scores = {"a": {"mae": 0.0}, "b": {"mae": 0.0}}

    assert combined_scores(scores, {"mae": 1.0}) == {"a": 1.0, "b": 1.0}


def test_a_metric_of_weight_zero_is_ignored_even_when_infinite():
    scores = {"a": {"rmse": 1.0, "mape": math.inf}, "b": {"rmse": 2.0, "mape": 1.0}}

    result = combined_scores(scores, {"rmse": 1.0, "mape": 0.0})

    assert result == {"a": 1.0, "b": 2.0}


def test_a_candidate_without_a_weighted_metric_is_rejected():
    scores = {"a": {"rmse": 1.0, "mape": 3.0}, "b": {"rmse": 2.0}}

    with pytest.raises(ValueError, match="candidate 'b' has no value for metric mape"):
        combined_scores(scores, {"rmse": 1.0, "mape": 1.0})


def test_a_negative_metric_value_is_rejected():
    scores = {"a": {"rmse": -1.0}}

    with pytest.raises(ValueError, match=r"metric 'rmse' of candidate 'a' is -1\.0"):
        combined_scores(scores, {"rmse": 1.0})


def test_combined_scores_reject_bad_weights():
    with pytest.raises(ValueError, match="weights must not all be 0"):
        combined_scores({"a": {"rmse": 1.0}}, {"rmse": 0.0})


# --- rank ---------------------------------------------------------------------


def test_rank_orders_best_first():
    assert rank({"a": 2.0, "b": 1.0, "c": 3.0}) == ["b", "a", "c"]


def test_rank_breaks_ties_by_name():
    assert rank({"zeta": 1.0, "alpha": 1.0, "mid": 0.5}) == ["mid", "alpha", "zeta"]


def test_rank_puts_infinite_and_nan_last_in_name_order():
    scores = {"d": math.nan, "c": math.inf, "b": 5.0, "a": math.inf}

    assert rank(scores) == ["b", "a", "c", "d"]


def test_rank_of_nothing_is_empty():
    assert rank({}) == []
