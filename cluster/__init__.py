"""The cluster's control plane: members (one per shard process of each pod) that exchange commands
and their outcomes, evictions, cache invalidations and membership through Thespian, never a charger's
frame.

- ``bridge``: hands messages between a member's event loop and its Thespian actor (another thread);
- ``messages``: what crosses members;
- ``member``: a member's side of it inside its event loop (registration, liveness, dispatch);
- ``router``: sends an operator's command to the member that holds the station.
"""
