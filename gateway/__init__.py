"""The websocket gateway: the aiohttp endpoint that accepts chargers, one transport actor per
connection (the only writer of its codec and socket), CSMS-initiated calls and their outcomes, and
the directory of the stations connected to this node. It knows the actor runtime and the OCPP-J
codec, nothing of what a station's messages mean."""
