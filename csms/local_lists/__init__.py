"""Local authorization lists: a versioned list of id tokens per station, kept in sync with the id
tags (OCPP 1.6 Local Auth List Management, 2.0.1 D)."""

from csms.local_lists.answers import get_local_list_version_answered, send_local_list_answered
from csms.local_lists.loop import keep_lists_in_sync
from csms.station.features import Feature

FEATURE = Feature(
    observers={
        "SendLocalList": send_local_list_answered,
        "GetLocalListVersion": get_local_list_version_answered,
    },
    background=(keep_lists_in_sync,),
)
