"""Experiment and registered-model names made from keys: escaped or refused."""

from __future__ import annotations

import posixpath

import pytest
from mlflow.exceptions import MlflowException
from mlflow.utils.validation import _validate_experiment_name, _validate_model_name

from kronos import naming


@pytest.mark.parametrize(
    ("key", "escaped"),
    [
        ("store_1", "store_1"),
        ("a/b", "a%2Fb"),
        ("a\\b", "a%5Cb"),
        ("c:d", "c%3Ad"),
        ("100%", "100%25"),
        (".hidden", "%2Ehidden"),
        ("..a", "%2E.a"),
        ("a b", "a b"),
        ('o\'brien "x"', 'o\'brien "x"'),
        ("ключ-é", "ключ-é"),
    ],
)
def test_keys_are_escaped_only_where_names_would_break(key, escaped):
    assert naming.escape_key(key) == escaped


def test_escaping_keeps_distinct_keys_apart():
    keys = ["a/b", "a%2Fb", "a%252Fb", "a:b", "a%3Ab", ".a", "%2Ea", "a.b"]
    names = {naming.escape_key(key) for key in keys}
    assert len(names) == len(keys)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (None, "null"),
        (float("nan"), "null"),
        ("", "empty or blank"),
        ("   ", "empty or blank"),
        (".", "only dots"),
        ("..", "only dots"),
        ("line\nbreak", "control character"),
        ("tab\tkey", "control character"),
        ("nul\x00", "control character"),
        ("zero\u200bwidth", "ZERO WIDTH SPACE"),
        ("bidi\u202ekey", "RIGHT-TO-LEFT OVERRIDE"),
    ],
)
def test_unsafe_keys_are_refused_with_the_reason(key, message):
    with pytest.raises(naming.UnsafeKeyError, match=message):
        naming.experiment_name("{key}", key)
    with pytest.raises(naming.UnsafeKeyError, match=message):
        naming.model_name("{key}", key)


def test_a_key_too_long_for_the_registry_is_refused():
    key = "k" * (naming.MAX_NAME_LENGTH - len("kronos/") + 1)
    with pytest.raises(naming.UnsafeKeyError, match="257 characters"):
        naming.experiment_name("kronos/{key}", key)


def test_the_longest_key_that_fits_is_accepted():
    key = "k" * (naming.MAX_NAME_LENGTH - len("kronos/"))
    assert len(naming.experiment_name("kronos/{key}", key)) == naming.MAX_NAME_LENGTH


def test_escaping_counts_toward_the_length_limit():
    key = "/" * 90  # 270 characters once escaped
    with pytest.raises(naming.UnsafeKeyError, match="270 characters"):
        naming.model_name("{key}", key)


@pytest.mark.parametrize(
    "key",
    ["a/b", "../../etc", "../x", "a/../../b", "x:y", ".", "..a", "/abs", "c\\d"],
)
def test_experiment_names_stay_in_the_template_folder(key):
    template = "/Shared/kronos/{key}"
    try:
        name = naming.experiment_name(template, key)
    except naming.UnsafeKeyError:
        return
    assert posixpath.normpath(name) == name
    assert posixpath.dirname(name) == "/Shared/kronos"


@pytest.mark.parametrize(
    "key", ["a/b", "../x", "x:y", "..a", "a b", "o'brien", "ключ", "%", "c\\d"]
)
def test_model_names_pass_mlflow_validation(key):
    name = naming.model_name("fc_{key}", key)
    _validate_model_name(name)
    _validate_experiment_name(naming.experiment_name("kronos/{key}", key))


def test_mlflow_would_refuse_the_unescaped_names():
    # The reason for escaping: without it, these keys cannot be registered.
    for raw in ("a/b", "x:y", "..a"):
        with pytest.raises(MlflowException):
            _validate_model_name(raw)


@pytest.mark.parametrize(
    ("key", "part"),
    [
        ("store_12", "store_12"),
        ("Store_12", "store_12_"),
        ("a-b", "a_b_"),
        ("a/b c", "a_b_c_"),
        ("ключ", "_____"),
    ],
)
def test_unity_catalog_parts_hold_only_letters_digits_and_underscores(key, part):
    name = naming.model_name("main.forecasts.{key}", key, unity_catalog=True)
    model = name.split(".", 2)[2]
    assert model.startswith(part)
    assert all(c.isascii() and (c.isalnum() or c == "_") for c in model)
    if key != part:
        assert len(model) == len(part) + 10


def test_unity_catalog_rule_keeps_keys_apart_that_differ_by_case_or_symbol():
    keys = ["a-b", "a_b", "a b", "A-B", "a/b", "A_B"]
    parts = {naming.unity_catalog_part(key) for key in keys}
    assert len(parts) == len(keys)


def test_unity_catalog_is_recognised_by_the_registry_uri():
    assert naming.is_unity_catalog("databricks-uc")
    assert naming.is_unity_catalog("databricks-uc://profile")
    assert naming.is_unity_catalog("uc:http://localhost:8080")
    assert not naming.is_unity_catalog("databricks")
    assert not naming.is_unity_catalog("http://127.0.0.1:5000")
    assert not naming.is_unity_catalog("sqlite:////tmp/uc.db")


@pytest.mark.parametrize(
    ("experiment", "model", "uc", "message"),
    [
        ("/Shared/../{key}", "{key}", False, "experiment_name_template"),
        ("a//{key}", "{key}", False, "experiment_name_template"),
        ("./{key}", "{key}", False, "experiment_name_template"),
        ("{key}", "models/{key}", False, "model_name_template"),
        ("{key}", "m:{key}", False, "model_name_template"),
        ("{key}", ".{key}", False, "model_name_template"),
        ("{key}", "{key}", True, "catalog.schema.model"),
        ("{key}", "main.fc-x.{key}", True, "catalog.schema.model"),
        ("x" * 300 + "{key}", "{key}", False, "leaves no room"),
    ],
)
def test_templates_that_cannot_make_safe_names_are_refused(
    experiment, model, uc, message
):
    with pytest.raises(ValueError, match=message):
        naming.validate_templates(experiment, model, unity_catalog=uc)


@pytest.mark.parametrize(
    ("experiment", "model", "uc"),
    [
        ("{key}", "{key}", False),
        ("/Shared/kronos/{key}", "forecast_{key}", False),
        ("/Users/me@example.com/{key}", "fc.{key}", False),
        ("/Shared/kronos/{key}", "main.forecasts.{key}", True),
    ],
)
def test_usual_templates_are_accepted(experiment, model, uc):
    naming.validate_templates(experiment, model, unity_catalog=uc)
