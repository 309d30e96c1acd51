"""Create the CA a stack issues its TLS certificates from (tls.generate).

    python -m stacks.tls ca --cn "FATE party 9999 CA" --out ./ca
    pulumi config set --path fate:tls.generate true
    pulumi config set --path fate:tls.caCertificate -- "$(cat ca/ca.pem)"      # public
    pulumi config set --secret fate:tlsCaKey -- "$(cat ca/ca.key)"            # secret

The key file is written with mode 0600; keep it out of the repository.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from components.tls import new_authority


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.tls", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ca = sub.add_parser("ca", help="create a CA (P-256 key, 10 years)")
    ca.add_argument("--cn", required=True, help="the CA's common name")
    ca.add_argument("--out", type=Path, required=True, help="directory for ca.pem and ca.key")
    ca.add_argument("--days", type=int, default=3650)
    args = parser.parse_args(argv)
    authority = new_authority(args.cn, args.days)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ca.pem").write_text(authority.certificate_pem)
    key = args.out / "ca.key"
    key.touch(mode=0o600, exist_ok=True)
    os.chmod(key, 0o600)
    key.write_text(authority.key_pem)
    print(f"{args.out / 'ca.pem'} (certificate) and {key} (private key, 0600)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
