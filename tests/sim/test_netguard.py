from __future__ import annotations

import pytest

from sim.errors import RemoteTargetRefused
from sim.netguard import ensure_target_allowed, resolves_to_loopback

REMOTE = "192.0.2.1"  # RFC 5737 documentation address: never a real target.


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "localhost"])
def test_loopback_is_allowed(host: str) -> None:
    assert resolves_to_loopback(host)
    ensure_target_allowed(host)


@pytest.mark.parametrize("host", [REMOTE, "10.0.0.1", "2001:db8::1", "0.0.0.0"])
def test_other_hosts_are_refused(host: str) -> None:
    with pytest.raises(RemoteTargetRefused, match="--allow-remote"):
        ensure_target_allowed(host)


def test_allow_remote_opts_in() -> None:
    ensure_target_allowed(REMOTE, allow_remote=True)
