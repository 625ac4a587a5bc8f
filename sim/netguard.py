"""Keep load runs on loopback unless the caller opts in to a remote target."""

from __future__ import annotations

import ipaddress
import socket

from sim.errors import RemoteTargetRefused


def resolves_to_loopback(host: str) -> bool:
    """Whether every address `host` resolves to is a loopback address.

    A name that resolves to a mix (or does not resolve) is treated as remote.
    """
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    # IPv6 scoped addresses come back as "fe80::1%eth0"; the scope never makes one loopback.
    return bool(addresses) and all(
        ipaddress.ip_address(str(address).split("%", 1)[0]).is_loopback for address in addresses
    )


def ensure_target_allowed(host: str, *, allow_remote: bool = False) -> None:
    """Raise `RemoteTargetRefused` unless `host` is loopback or `allow_remote` is true."""
    if allow_remote or resolves_to_loopback(host):
        return
    raise RemoteTargetRefused(
        f"refusing to send load to non-loopback host {host!r}; pass --allow-remote to do so"
    )
