"""A member taken for dead while it lives (its event loop stalled past the others' patience) takes
back the stations whose sockets it still holds, once it is heard of again."""

from __future__ import annotations

from ocpp.v16 import call

from persistence.leases import lease_of, release_member_leases
from persistence.members import mark_dead
from persistence.reads import EngineReads
from tests.ocpp_charger import charger16
from tests.server_fixtures import Running
from tests.timing import UNIT, eventually


async def test_a_member_declared_dead_while_alive_takes_its_stations_back(server: Running) -> None:
    node = server.node
    reads = EngineReads(node.engine)
    me = node.identity.name
    async with charger16(server.ocpp_url, "CL-STALL") as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        lease = await lease_of(reads, "CL-STALL")
        assert lease is not None and lease.member == me
        # What another member does to a member silent for too long.
        await mark_dead(node.engine, me)
        assert await release_member_leases(node.engine, me) == ["CL-STALL"]
        await node.status.mark_node_disconnected(me)

        async def held_again() -> bool:
            back = await lease_of(reads, "CL-STALL")
            return back is not None and back.member == me and back.epoch == lease.epoch

        await eventually(held_again, within=200 * UNIT, what="lease taken back")
        await eventually(lambda: server.is_connected("CL-STALL"), what="shown connected again")
        status, members = await server.get("/api/v1/nodes")
        assert status == 200
        assert [m["alive"] for m in members["items"] if m["name"] == me] == [True]
        # And it is served as before.
        status, body = await server.command("CL-STALL", "ClearCache")
        assert status == 200, body
