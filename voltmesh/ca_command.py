"""``voltmesh ca init``: make the certificate authority that signs chargers' certificates, under the
data directory, for tests and trials (production CAs are given with ``--ca-cert``/``--ca-key``)."""

from __future__ import annotations

import argparse
import os
import sys

from csms.pki.ca import CertificateAuthority, default_paths
from voltmesh.config import ConfigError, load_settings


def add_ca_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ca = commands.add_parser("ca", help="the certificate authority of chargers' certificates")
    actions = ca.add_subparsers(dest="ca_command", required=True)
    init = actions.add_parser(
        "init",
        help="make a CA (ca.pem, ca-key.pem with mode 0600) under the data directory; "
        "`voltmesh serve` signs chargers' CSRs with it when --ca-cert is not given",
    )
    init.add_argument(
        "--data-dir", help="directory of the embedded stores (VOLTMESH_DATA_DIR, ./data)"
    )
    init.add_argument(
        "--common-name", default="voltmesh charger CA", help="subject CN of the CA certificate"
    )


def run_ca(args: argparse.Namespace) -> int:
    """``voltmesh ca init``; refuses to overwrite an existing CA (exit 1)."""
    try:
        settings = load_settings(os.environ, {"data_dir": args.data_dir})
    except ConfigError as exc:
        print(f"voltmesh: {exc}", file=sys.stderr)
        return 2
    certificate_path, key_path = default_paths(settings.data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        CertificateAuthority.create(args.common_name).write(certificate_path, key_path)
    except OSError as exc:
        print(f"voltmesh: {exc}", file=sys.stderr)
        return 1
    print(f"CA certificate {certificate_path}, key {key_path} (mode 0600)")
    return 0
