"""Which id tokens a station's local list holds: a filter per station, set by the operator.

``{"include": "all" | "none" | ["TAG-1", ...], "groups": ["PARENT-1", ...]}``: every id token
(``all``), none of them, or those named; and besides, every token whose parent (1.6 parentIdTag,
2.x groupIdToken) is one of ``groups``. Tokens are matched case-insensitively, as OCPP compares
them (1.6 IdToken is a CiString; 2.0.1 IdTokenType).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from persistence.records import IdTokenRecord, id_token_key

MAX_NAMED = 10_000
"""Tokens or groups one filter may name."""


class FilterError(ValueError):
    """A filter that does not say which tokens a list holds."""


@dataclass(frozen=True, slots=True)
class ListFilter:
    include_all: bool
    """Every id token."""
    tokens: frozenset[str]
    """These id tokens (stored form)."""
    groups: frozenset[str]
    """Every id token whose parent is one of these."""

    def matches(self, token: IdTokenRecord) -> bool:
        if self.include_all or token.id_token in self.tokens:
            return True
        return token.parent_id_token is not None and (
            id_token_key(token.parent_id_token) in self.groups
        )

    def document(self) -> dict[str, Any]:
        """The filter as stored and shown."""
        include: str | list[str]
        if self.include_all:
            include = "all"
        elif self.tokens:
            include = sorted(self.tokens)
        else:
            include = "none"
        return {"include": include, "groups": sorted(self.groups)}


def _names(value: Any, field: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise FilterError(f"{field} must be a list of id tags (non-empty strings)")
    if len(value) > MAX_NAMED:
        raise FilterError(f"{field} names more than {MAX_NAMED} id tags")
    if any(len(v) > 255 for v in value):
        raise FilterError(f"{field}: an id tag is longer than 255 characters")
    return frozenset(id_token_key(v) for v in value)


def parse_filter(document: Any) -> ListFilter:
    """A filter from its JSON document; ``FilterError`` says what is wrong with it."""
    if not isinstance(document, Mapping):
        raise FilterError("the filter must be a JSON object")
    unknown = set(document) - {"include", "groups"}
    if unknown:
        raise FilterError(f"unknown fields: {', '.join(sorted(unknown))}")
    include = document.get("include", "all")
    groups = _names(document.get("groups", []), "groups")
    if include == "all":
        return ListFilter(True, frozenset(), groups)
    if include == "none":
        return ListFilter(False, frozenset(), groups)
    if isinstance(include, list):
        return ListFilter(False, _names(include, "include"), groups)
    raise FilterError('include must be "all", "none" or a list of id tags')
