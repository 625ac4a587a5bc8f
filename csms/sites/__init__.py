"""Site load management: a grid connection's limit divided among the active sessions of the
stations and EVSEs behind it, sent to them as transaction profiles."""

from csms.sites.loop import site_loop
from csms.station.features import Feature

FEATURE = Feature(background=(site_loop,))
