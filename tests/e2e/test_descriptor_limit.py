"""At the descriptor limit the message path opens nothing: with every descriptor of the process in
use, a message of any action of any version is still validated (a schema file opened on first use
failed there with EMFILE, and every Heartbeat got InternalError)."""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap

from tests.timing import UNIT
from voltmesh.limits import raise_open_file_limit

_EXHAUSTED = textwrap.dedent(
    """
    import errno, os, resource
    from transport.errors import SchemaViolation
    from transport.schemas import prepare, schemas_for
    from transport.versions import OcppVersion

    prepare()  # as the node does at start: later compiles open no file
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    held = []
    try:
        while True:
            held.append(os.open(os.devnull, os.O_RDONLY))
    except OSError as exc:
        assert exc.errno == errno.EMFILE, exc
    try:
        open(os.devnull)
    except OSError as exc:
        assert exc.errno == errno.EMFILE, exc
    else:
        raise AssertionError("a descriptor was still free")
    checked = 0
    for version in OcppVersion:
        schemas = schemas_for(version)
        for action in sorted(schemas.charger_initiated | schemas.csms_initiated):
            for validate in (schemas.validate_request, schemas.validate_response):
                try:
                    validate(action, {})
                except SchemaViolation:
                    pass
                checked += 1
        schemas.validate_request("Heartbeat", {})
    print(len(held), checked)
    """
)


def test_every_schema_validates_with_no_descriptor_free() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _EXHAUSTED],
        capture_output=True,
        text=True,
        timeout=1200 * UNIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    held, checked = map(int, done.stdout.split())
    assert held > 200
    assert checked > 300


def test_the_soft_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard))
        raised, kept_hard = raise_open_file_limit()
        assert kept_hard == hard
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (raised, hard)
        assert raised == hard or (hard == resource.RLIM_INFINITY and raised >= 256)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
