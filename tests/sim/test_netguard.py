from __future__ import annotations

import pytest

from sim.config import LoadConfig
from sim.errors import RemoteTargetRefused
from sim.loadgen import main, run_load
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


def test_run_load_refuses_before_starting_anything() -> None:
    with pytest.raises(RemoteTargetRefused):
        run_load(LoadConfig(host=REMOTE, port=9000))


def test_cli_refuses_with_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--host", REMOTE, "--port", "9000"])
    assert exit_info.value.code == 2
    assert "non-loopback" in capsys.readouterr().err
