"""Every area's additions merged: the handlers each OCPP version gains, the observers of answers,
and the background loops."""

from __future__ import annotations

from csms import (
    firmware,
    local_lists,
    monitoring,
    reservations,
    sites,
    smart_charging,
    tariffs,
)
from csms.station.charge_point import Handler
from csms.station.features import AnswerObserver, Background, Feature

FEATURES: tuple[Feature, ...] = (
    smart_charging.FEATURE,
    sites.FEATURE,
    reservations.FEATURE,
    local_lists.FEATURE,
    firmware.FEATURE,
    monitoring.FEATURE,
    tariffs.FEATURE,
)

V16: dict[str, Handler] = {a: h for f in FEATURES for a, h in f.v16.items()}
V2: dict[str, Handler] = {a: h for f in FEATURES for a, h in f.v2.items()}
V21: dict[str, Handler] = {a: h for f in FEATURES for a, h in f.v21.items()}


def _observers() -> dict[str, tuple[AnswerObserver, ...]]:
    merged: dict[str, tuple[AnswerObserver, ...]] = {}
    for feature in FEATURES:
        for action, observer in feature.observers.items():
            merged[action] = (*merged.get(action, ()), observer)
    return merged


OBSERVERS = _observers()
"""Action -> the observers of its answers, in the order of ``FEATURES``."""
BACKGROUND: tuple[Background, ...] = tuple(b for f in FEATURES for b in f.background)
