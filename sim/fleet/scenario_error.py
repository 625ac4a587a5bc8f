"""`ScenarioError`, and how a pydantic `ValidationError` becomes one that names the field by its path.

pydantic locates an error by a tuple (``("fleet", 1, "versions")``); a scenario's author reads
paths as the file spells them (``fleet[1].versions``), and one mistake at a time: the first error
is reported, keys that are not fields (misspelt, or not even strings) before values. A validator
that checks several fields at once raises `ScenarioError.at` with the path of the field at fault,
relative to its table; a plain `ValueError` is about the field being validated.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any, Final, get_args

from pydantic import ValidationError


class ScenarioError(ValueError):
    """A scenario that cannot be run. The message names the field by its path (``fleet[0].count``)
    or the command-line option that set it (``--workers``)."""

    field: str | None
    """The field's path or the option; None when the whole file is at fault (unreadable,
    unparsable)."""
    problem: str
    """The message without the field."""

    def __init__(self, message: str, *, field: str | None = None, problem: str | None = None):
        super().__init__(message)
        self.field = field
        self.problem = message if problem is None else problem

    @classmethod
    def at(cls, field: str, problem: str) -> ScenarioError:
        """``{field}: {problem}``."""
        return cls(f"{field}: {problem}", field=field, problem=problem)

    def moved(self, field: str) -> ScenarioError:
        """The same problem, reported at another path (an option that set the field)."""
        return ScenarioError.at(field, self.problem)


_KEY_ERRORS: Final = ("invalid_key", "unexpected_keyword_argument", "extra_forbidden")

# What a value must be, by pydantic error type; the message goes on with what it was.
_EXPECTED: Mapping[str, str] = {
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "dataclass_type": "must be a table",
    "dict_type": "must be a table",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
}


def scenario_error(exc: ValidationError, root: type) -> ScenarioError:
    """The first error of a validation of ``root`` (`Scenario` or one of its tables)."""
    # min() keeps the first of equals: pydantic's order (the fields' order) within each kind.
    error = min(exc.errors(), key=lambda e: e["type"] not in _KEY_ERRORS)
    kind, loc, value = error["type"], error["loc"], error["input"]
    ctx: dict[str, Any] = error.get("ctx", {})
    path = _path(loc)
    if kind in _KEY_ERRORS[1:]:
        known = _fields_at(root, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return ScenarioError(f"unknown field {path}{hint}", field=path, problem="unknown")
    if kind == "invalid_key":
        return ScenarioError.at(
            _path(loc[:-1]) or "scenario", f"keys must be strings, got {value!r}"
        )
    if not loc and kind == "dataclass_type":
        return ScenarioError(f"a scenario must be a table at the top, got {describe(value)}")
    if kind == "value_error" and isinstance(ctx["error"], ScenarioError):
        inner: ScenarioError = ctx["error"]
        if inner.field is not None:
            return ScenarioError.at(f"{path}.{inner.field}" if path else inner.field, inner.problem)
    return ScenarioError.at(path, _problem(kind, value, ctx, error["msg"]))


def _problem(kind: str, value: object, ctx: Mapping[str, Any], message: str) -> str:
    if kind == "value_error":
        return str(ctx["error"])
    if kind == "missing":
        return "missing"
    if kind == "greater_than":
        return f"must be > {number(ctx['gt'])}, got {number(value)}"
    if kind == "greater_than_equal":
        return f"must be >= {number(ctx['ge'])}, got {number(value)}"
    if kind in _EXPECTED:
        return f"{_EXPECTED[kind]}, got {describe(value)}"
    return message


def _path(loc: Sequence[int | str]) -> str:
    """``("fleet", 1, "versions")`` as ``fleet[1].versions``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else part
    return path


def _fields_at(root: type, loc: Sequence[int | str]) -> list[str]:
    """The field names of the table at ``loc`` below ``root``: the keys a misspelt one may mean."""
    table: Any = root
    for part in loc:
        if isinstance(part, int):
            (table, *_) = get_args(table)  # an entry of tuple[Table, ...]
        else:
            table = table.__pydantic_fields__[part].annotation
    return list(table.__pydantic_fields__)


def describe(value: object) -> str:
    """A value as a scenario file spells it: ``a table``, ``a list``, ``nothing``, or its repr."""
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


def number(value: object) -> str:
    """A number as the file most likely spelt it: -1 rather than -1.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
