"""The per-key outcome report, as pandas and as text."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from kronos import report


def rows() -> pd.DataFrame:
    """Forecast rows of three keys, two rows each, with the outcome columns."""
    keys = {
        "b": {
            "kronos_action": "competition",
            "kronos_winner": "prophet_1",
            "kronos_scores": json.dumps({"prophet_1": 0.41234, "naive_1": 0.9}),
            "kronos_registered_version": "3",
            "kronos_unit_test": "passed",
            "kronos_promoted": True,
            "kronos_fallback_reason": None,
        },
        "a": {
            "kronos_action": "predict",
            "kronos_winner": None,
            "kronos_scores": "{}",
            "kronos_registered_version": None,
            "kronos_unit_test": None,
            "kronos_promoted": False,
            "kronos_fallback_reason": "no production model to predict with",
        },
        "c": {
            "kronos_action": "competition",
            "kronos_winner": "production",
            "kronos_scores": json.dumps({"production": 0.2, "naive_1": "inf"}),
            "kronos_registered_version": None,
            "kronos_unit_test": None,
            "kronos_promoted": False,
            "kronos_fallback_reason": None,
        },
    }
    return pd.DataFrame(
        [{"id": key, "fcst": 1.0, **outcome} for key, outcome in keys.items()] * 2
    )


def test_summarize_gives_one_sorted_line_per_key():
    summary = report.summarize(rows())

    assert list(summary.columns) == list(report.SUMMARY_COLUMNS)
    assert summary["key"].tolist() == ["a", "b", "c"]
    assert summary.loc[1].to_dict() == {
        "key": "b",
        "action": "competition",
        "winner": "prophet_1",
        "scores": "naive_1=0.9 prophet_1=0.412",
        "version": "3",
        "unit_test": "passed",
        "promoted": "yes",
        "fallback": "-",
    }
    assert summary.loc[0, "fallback"] == "no production model to predict with"
    assert summary.loc[0, "scores"] == "-"
    assert summary.loc[2, "scores"] == "naive_1=inf production=0.2"


def test_summarize_reads_another_key_column():
    renamed = rows().rename(columns={"id": "meter"})

    assert report.summarize(renamed, "meter")["key"].tolist() == ["a", "b", "c"]


def test_summarize_names_missing_outcome_columns():
    with pytest.raises(ValueError, match=r"lack column\(s\) \['kronos_action'"):
        report.summarize(pd.DataFrame({"id": ["a"]}))


def test_summary_table_ends_with_the_totals():
    text = report.summary_table(rows())

    lines = text.splitlines()
    assert lines[0].split()[:3] == ["key", "action", "winner"]
    assert len(lines) == 5
    assert lines[-1] == "3 key(s): 1 registered, 1 promoted, 1 fallback"


def test_summary_table_of_no_rows_says_so():
    empty = rows().iloc[0:0]

    assert report.summary_table(empty) == "no key was forecast"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "-"),
        ("", "-"),
        ("{}", "-"),
        ('{"b": 2, "a": 1.23456}', "a=1.23 b=2"),
        ("not json", "not json"),
    ],
)
def test_short_scores(value, expected):
    assert report.short_scores(value) == expected
