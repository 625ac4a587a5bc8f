"""What a field of a scenario table accepts: pydantic types with the checks and wording of a
scenario file, and `table`, which makes a class one of its tables.

Types are strict: an integer field refuses 2.0 and true, a number field refuses "1" (a file that
quotes a number or spells a count as a float most likely holds a mistake). A check raises
`ValueError` with the problem, ``must be ..., got ...``; `sim.fleet.scenario_error` puts the
field's path in front.
"""

from __future__ import annotations

import functools
import math
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field
from datetime import date, datetime
from typing import Annotated, Any, Final, TypeVar, cast, dataclass_transform
from urllib.parse import urlsplit

import pydantic.dataclasses
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictInt,
    StrictStr,
    ValidationError,
)

from sim.fleet.scenario_error import describe, number, scenario_error

_T = TypeVar("_T")
# Unknown keys are errors: a misspelt field must not be silently ignored.
_CONFIG: Final = ConfigDict(extra="forbid", allow_inf_nan=False)


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(field,))
def table(cls: type[_T]) -> type[_T]:
    """``cls`` as a frozen pydantic dataclass whose constructor (and so `dataclasses.replace`)
    raises `ScenarioError`."""
    made = cast(
        "type[_T]",
        pydantic.dataclasses.dataclass(frozen=True, kw_only=True, slots=True, config=_CONFIG)(cls),
    )
    validate = made.__init__

    @functools.wraps(validate)
    def __init__(self: object, **fields: object) -> None:
        try:
            validate(self, **fields)
        except ValidationError as exc:
            raise scenario_error(exc, made) from None

    made.__init__ = __init__  # type: ignore[method-assign]
    return made


def check(test: Callable[[Any], bool], problem: str) -> AfterValidator:
    """Refuse a value for which ``test`` is false: ``{problem}, got {value}``."""

    def checked(value: Any) -> Any:
        if not test(value):
            shown = repr(value) if isinstance(value, str) else number(value)
            raise ValueError(f"{problem}, got {shown}")
        return value

    return AfterValidator(checked)


def matching(pattern: str, problem: str) -> AfterValidator:
    """Refuse a string that ``pattern`` does not match in full."""
    regex = re.compile(pattern)
    return check(lambda text: regex.fullmatch(text) is not None, problem)


Number = Annotated[float, Strict()]
"""An integer or a float, finite; not a bool, not a string."""
Positive = Annotated[Number, Field(gt=0)]
NonNegative = Annotated[Number, Field(ge=0)]
Probability = Annotated[Number, check(lambda p: 0 <= p <= 1, "must be between 0 and 1")]
AtLeastOne = Annotated[StrictInt, Field(ge=1)]
NotEmpty = Annotated[StrictStr, check(bool, "must not be empty (leave it out for none)")]


def weights_of(keys: Sequence[str], *, key: str) -> BeforeValidator:
    """A table of relative weights (see `relative_weights`) over some of ``keys`` (each a
    ``key``); validated, it holds every key, in order (0.0 for those not given)."""

    def weights(value: object) -> dict[str, float]:
        if not isinstance(value, Mapping):
            raise ValueError(
                f'must be a table of weights like {{"{keys[0]}" = 1}}, got {describe(value)}'
            )
        unknown = [name for name in value if name not in keys]
        if unknown:
            raise ValueError(f"unknown {key} {unknown[0]!r}; use {', '.join(keys)}")
        relative_weights(value.values())
        return {name: float(value.get(name, 0.0)) for name in keys}

    return BeforeValidator(weights)


def _hourly(value: object) -> tuple[float, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"must be a list of 24 numbers, got {describe(value)}")
    if len(value) != 24:
        raise ValueError(f"must have 24 entries (one per hour), got {len(value)}")
    relative_weights(value)
    return tuple(float(w) for w in value)


HourlyWeights = Annotated[tuple[float, ...], BeforeValidator(_hourly)]
"""24 relative weights (see `relative_weights`), one per hour of the day."""


def relative_weights(weights: Iterable[Any]) -> None:
    """Weights are non-negative finite numbers, at least one of them > 0."""
    weights = list(weights)
    if not all(
        isinstance(w, int | float) and not isinstance(w, bool) and 0 <= w < math.inf
        for w in weights
    ):
        raise ValueError("weights must be non-negative numbers")
    if not any(w > 0 for w in weights):
        raise ValueError("at least one weight must be > 0")


def list_of_tables(name: str, *, empty: str) -> BeforeValidator:
    """A non-empty list (``[[name]]`` in TOML); ``empty`` is the problem when it has no entry."""

    def listed(value: object) -> object:
        if not isinstance(value, list | tuple):
            raise ValueError(
                f"must be a list of tables ([[{name}]] in TOML), got {describe(value)}"
            )
        if not value:
            raise ValueError(empty)
        return value

    return BeforeValidator(listed)


# RFC 3339 section 5.6, with the space for "T" that section allows.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _date_time(value: object) -> object:
    # TOML and YAML have date-time values of their own; a local one (no offset) is refused.
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(
                f"needs a UTC offset (e.g. 2026-06-01T06:00:00Z), got {value.isoformat()}"
            )
        return value.isoformat()
    if isinstance(value, date):
        raise ValueError(f"must be a date and time, got the date {value.isoformat()}")
    return value


def _rfc3339(text: str) -> str:
    if not _RFC3339.fullmatch(text):
        raise ValueError(f"must be an RFC 3339 date-time like 2026-06-01T06:00:00Z, got {text!r}")
    try:
        moment = datetime.fromisoformat(text.upper().replace(" ", "T"))
    except ValueError as exc:
        raise ValueError(f"{exc}, got {text!r}") from None
    normal = moment.isoformat()
    return normal[:-6] + "Z" if normal.endswith("+00:00") else normal


DateTime = Annotated[StrictStr, BeforeValidator(_date_time), AfterValidator(_rfc3339)]
"""An RFC 3339 date-time with a UTC offset, as a string or a TOML / YAML date-time; one spelling
of the same instant and offset after validation (``...T06:00:00Z``, ``...T06:00:00.25-05:00``)."""


def url_with_scheme(schemes: tuple[str, str], *, credentials: str) -> AfterValidator:
    """A URL of one of two schemes with a host, and without a query, a fragment or credentials
    (``credentials`` names the field that holds them)."""

    def checked(text: str) -> str:
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises for a port out of range
        except ValueError as exc:
            raise ValueError(f"not a URL ({exc}): {text!r}") from None
        if parts.scheme not in schemes:
            raise ValueError(f"must start with {schemes[0]}:// or {schemes[1]}://, got {text!r}")
        if not parts.hostname or any(c.isspace() for c in text):
            raise ValueError(f"needs a host and no spaces, got {text!r}")
        if parts.username is not None or parts.password is not None:
            raise ValueError(f"must not hold credentials (use {credentials}), got {text!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"must not have a query or fragment, got {text!r}")
        return text

    return AfterValidator(checked)


def template(*names: str) -> AfterValidator:
    """A non-empty `str.format` template whose only fields are ``names``."""
    allowed = " and ".join(f"{{{name}}}" for name in names)

    def checked(text: str) -> str:
        if not text.strip():
            raise ValueError("must not be empty")
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
        except ValueError as exc:
            raise ValueError(f"bad format string: {exc}") from None
        for name in fields:
            if name not in names:
                raise ValueError(f"unknown placeholder {{{name}}}; use {allowed}")
        return text

    return AfterValidator(checked)
