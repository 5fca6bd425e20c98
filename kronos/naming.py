"""Safe MLflow names from keys: experiment and registered-model names.

A key comes from the data, so it may hold anything: slashes, colons, quotes,
spaces, letters of any script, control characters, or thousands of characters.
Names made from keys must stay in their place (a key cannot climb out of the
experiment folder of ``experiment_name_template``, nor become another model's
name) and must be accepted by the registry. The rules:

- A key that cannot be named safely is refused with :class:`UnsafeKeyError`:
  a null key, an empty or blank key, a key made only of dots (``.``, ``..``),
  a key holding control, format or other invisible characters (line breaks,
  tabs, zero-width or direction-changing marks), and a key whose name would be
  longer than :data:`MAX_NAME_LENGTH`.
- Otherwise the key is escaped: ``%``, ``/``, backslash and ``:`` are written as
  ``%`` and their two hex digits (``a/b`` gives ``a%2Fb``), and so is a leading
  ``.``. Every other character is kept. The escaping is one-to-one, so two keys
  never share a name.
- On Unity Catalog a model name is ``catalog.schema.model`` and its parts hold
  only letters, digits and underscores, compared without case. A key made only
  of lowercase letters, digits and underscores is used as it is; any other key
  has each other character replaced by ``_``, is lowercased, and gets ``_`` and
  the first 10 hex digits of the SHA-256 of the key appended, so that keys that
  differ only by the replaced characters or by case keep apart names.
"""

from __future__ import annotations

import hashlib
import logging
import math
import posixpath
import re
import unicodedata
from typing import Any

logger = logging.getLogger(__name__)

#: Longest experiment or registered-model name: MLflow's SQL stores keep both
#: in columns of 256 characters.
MAX_NAME_LENGTH = 256

#: Characters written as ``%XX`` in names (``%`` itself keeps the rule one-to-one).
ESCAPED_CHARACTERS = frozenset("%/\\:")

#: Unicode categories refused in keys: controls, format marks, surrogates,
#: private-use and unassigned code points, line and paragraph separators.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

#: Registry URI schemes of Unity Catalog.
UNITY_CATALOG_SCHEMES = ("databricks-uc", "uc")

_UC_PART = re.compile(r"[A-Za-z0-9_]+")
_UC_CLEAN_KEY = re.compile(r"[a-z0-9_]+")
_UC_HASH_DIGITS = 10
_SAMPLE_KEY = "k"


class UnsafeKeyError(ValueError):
    """A key from which no safe experiment or model name can be made."""


def is_unity_catalog(registry_uri: str) -> bool:
    """Return whether ``registry_uri`` names a Unity Catalog registry."""
    scheme = registry_uri.split(":", 1)[0].lower()
    return scheme in UNITY_CATALOG_SCHEMES


def check_key(key: Any) -> str:
    """Return ``key`` as text, or refuse it when no safe name can hold it.

    Raises
    ------
    UnsafeKeyError
        When the key is null, empty or blank, only dots, or holds an invisible
        or control character; the message says which.
    """
    if key is None or (isinstance(key, float) and math.isnan(key)):
        raise UnsafeKeyError("the key is null")
    text = str(key)
    if not text.strip():
        raise UnsafeKeyError(f"the key {text!r} is empty or blank")
    if set(text) == {"."}:
        raise UnsafeKeyError(f"the key {text!r} is only dots, a path step")
    for position, character in enumerate(text):
        if unicodedata.category(character) in REFUSED_CATEGORIES:
            name = unicodedata.name(character, f"U+{ord(character):04X}")
            raise UnsafeKeyError(
                f"the key holds the invisible or control character {name} at "
                f"position {position}"
            )
    return text


def escape_key(key: str) -> str:
    """Escape ``key`` for use inside an experiment or workspace model name."""
    parts = [_percent(c) if c in ESCAPED_CHARACTERS else c for c in key]
    if parts and parts[0] == ".":
        parts[0] = _percent(".")
    return "".join(parts)


def experiment_name(template: str, key: Any) -> str:
    """Return the experiment name of ``key`` from ``template``.

    Raises
    ------
    UnsafeKeyError
        When the key is refused (see :func:`check_key`) or the name would be
        longer than :data:`MAX_NAME_LENGTH`.
    """
    name = template.format(key=escape_key(check_key(key)))
    _check_length(name, "experiment")
    return name


def model_name(template: str, key: Any, unity_catalog: bool = False) -> str:
    """Return the registered-model name of ``key`` from ``template``.

    Parameters
    ----------
    template
        The model name template, holding ``{key}``.
    key
        The key, as found in the data.
    unity_catalog
        Use the Unity Catalog rule (letters, digits and underscores only).

    Raises
    ------
    UnsafeKeyError
        When the key is refused (see :func:`check_key`) or the name would be
        longer than :data:`MAX_NAME_LENGTH`.
    """
    text = check_key(key)
    part = unity_catalog_part(text) if unity_catalog else escape_key(text)
    name = template.format(key=part)
    _check_length(name, "registered model")
    return name


def unity_catalog_part(key: str) -> str:
    """Return ``key`` as a Unity Catalog name part (see the module's rule)."""
    if _UC_CLEAN_KEY.fullmatch(key):
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:_UC_HASH_DIGITS]
    readable = re.sub(r"[^A-Za-z0-9_]", "_", key).lower()
    return f"{readable}_{digest}"


def validate_templates(
    experiment_template: str, model_template: str, unity_catalog: bool
) -> None:
    """Check at factory time that the templates make valid, contained names.

    Raises
    ------
    ValueError
        Naming the template, its value and the fix, when the experiment name
        would change under path normalisation (``..``, ``//``, ``./``), when a
        model name would hold ``/`` or ``:`` or not be a plain name, when a
        Unity Catalog name is not ``catalog.schema.model``, or when the template
        alone leaves no room for a key.
    """
    experiment = experiment_template.format(key=_SAMPLE_KEY)
    normalised = posixpath.normpath(experiment)
    if normalised != experiment.rstrip("/") or normalised.startswith(".."):
        raise ValueError(
            f"experiment_name_template={experiment_template!r} is not a plain "
            f"path (it resolves to {normalised!r}); remove '..', '.' and repeated "
            "'/' steps, for example '/Shared/kronos/{key}'"
        )
    model = model_template.format(key=_SAMPLE_KEY)
    if unity_catalog:
        parts = model.split(".")
        if len(parts) != 3 or not all(_UC_PART.fullmatch(part) for part in parts):
            raise ValueError(
                f"model_name_template={model_template!r} does not make a Unity "
                "Catalog name catalog.schema.model of letters, digits and "
                "underscores; use for example 'main.forecasts.{key}'"
            )
    elif (
        "/" in model
        or ":" in model
        or posixpath.normpath(model) != model
        or model.startswith(".")
    ):
        raise ValueError(
            f"model_name_template={model_template!r} makes names with '/', ':' "
            "or a leading '.', which the registry refuses; use for example "
            "'forecast_{key}'"
        )
    for field_name, name in (
        ("experiment_name_template", experiment),
        ("model_name_template", model),
    ):
        if len(name) >= MAX_NAME_LENGTH:
            raise ValueError(
                f"{field_name} is {len(name) - len(_SAMPLE_KEY)} characters without "
                f"the key, which leaves no room in the registry's {MAX_NAME_LENGTH} "
                "characters; shorten it"
            )


def _percent(character: str) -> str:
    return "".join(f"%{byte:02X}" for byte in character.encode("utf-8"))


def _check_length(name: str, what: str) -> None:
    if len(name) > MAX_NAME_LENGTH:
        raise UnsafeKeyError(
            f"the {what} name would be {len(name)} characters, more than the "
            f"{MAX_NAME_LENGTH} the registry keeps; shorten the key or the template"
        )


__all__ = [
    "MAX_NAME_LENGTH",
    "UnsafeKeyError",
    "check_key",
    "escape_key",
    "experiment_name",
    "is_unity_catalog",
    "model_name",
    "unity_catalog_part",
    "validate_templates",
]
