"""Tariffs and the cost of sessions (OCPP 2.0.1 I, "Tariff and cost").

The cost reaches 2.x stations in the TransactionEvent responses and CostUpdated
(``csms.tariffs.answer``, called by the core's TransactionEvent handler); 1.6 has no cost message,
its sessions' cost is on the transaction view. A 1.6 session is bound to its tariff as its start is
answered (``csms.tariffs.start``); the loop here binds what no message bound, and publishes the
running cost of 1.6 sessions.
"""

from csms.station.features import Feature
from csms.tariffs.loop import bind_loop

FEATURE = Feature(background=(bind_loop,))
