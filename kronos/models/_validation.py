"""Checks shared by the flavors' ``validate_params``.

Every check raises :class:`~kronos.models.base.ModelConfigError` with a message
of one shape: where the entry is (``models_config['name']``), the field, what it
must be, the value received and its type, and how to fix it.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kronos.models.base import ModelConfigError

logger = logging.getLogger(__name__)


def _where(model_name: str, field: str) -> str:
    return f"models_config[{model_name!r}]: {field!r}"


def _got(value: Any) -> str:
    return f"got {value!r} ({type(value).__name__})"


def type_error(
    model_name: str, field: str, value: Any, expected: str, example: str
) -> ModelConfigError:
    """Return the error for a field whose value has the wrong type or range."""
    return ModelConfigError(
        f"{_where(model_name, field)} must be {expected}, {_got(value)}; "
        f"write for example {example}"
    )


def check_known(
    model_name: str,
    flavor: str,
    params: Mapping[str, Any],
    accepted: Iterable[str],
    *,
    detail: str = "",
) -> None:
    """Reject parameter names that ``flavor`` does not accept.

    ``detail`` narrows the owner in the message, for example ``"model 'AutoETS'"``.
    """
    accepted = sorted(accepted)
    for name in params:
        if name in accepted:
            continue
        close = difflib.get_close_matches(str(name), accepted, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        listing = ", ".join(accepted) if accepted else "none"
        raise ModelConfigError(
            f"models_config[{model_name!r}]: unknown parameter {name!r} for "
            f"model_flavor {flavor!r}{f' ({detail})' if detail else ''}; "
            f"{hint}accepted parameters: {listing}"
        )


def is_int(value: Any) -> bool:
    """Tell whether ``value`` is an integer and not a boolean."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """Tell whether ``value`` is a real number and not a boolean."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_int(
    model_name: str,
    field: str,
    value: Any,
    *,
    minimum: int | None = None,
    example: str = "7",
) -> None:
    """Require an integer, at least ``minimum`` when given."""
    if not is_int(value) or (minimum is not None and value < minimum):
        expected = "an integer" if minimum is None else f"an integer >= {minimum}"
        raise type_error(model_name, field, value, expected, example)


def check_number(
    model_name: str,
    field: str,
    value: Any,
    *,
    positive: bool = False,
    open_unit: bool = False,
) -> None:
    """Require a real number, optionally positive or strictly inside ``(0, 1)``."""
    if open_unit:
        ok = is_number(value) and 0 < value < 1
        expected, example = "a number strictly between 0 and 1", "0.8"
    elif positive:
        ok = is_number(value) and value > 0
        expected, example = "a number > 0", "0.5"
    else:
        ok = is_number(value)
        expected, example = "a number", "0.5"
    if not ok:
        raise type_error(model_name, field, value, expected, example)


def check_bool(model_name: str, field: str, value: Any) -> None:
    """Require ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise type_error(model_name, field, value, "true or false", "true")


def check_str(model_name: str, field: str, value: Any, example: str) -> None:
    """Require a non-empty string."""
    if not isinstance(value, str) or not value:
        raise type_error(model_name, field, value, "a non-empty string", example)


def check_choice(
    model_name: str, field: str, value: Any, choices: Sequence[Any]
) -> None:
    """Require one of ``choices``."""
    if isinstance(value, bool) or value not in choices:
        listing = ", ".join(repr(choice) for choice in choices)
        raise ModelConfigError(
            f"{_where(model_name, field)} must be one of {listing}, {_got(value)}"
        )


def check_str_list(model_name: str, field: str, value: Any, example: str) -> None:
    """Require a list of strings."""
    if not isinstance(value, list | tuple) or not all(
        isinstance(item, str) for item in value
    ):
        raise type_error(model_name, field, value, "a list of strings", example)
