"""Create the CA a stack issues its TLS certificates from (tls.generate).

    fate-pulumi ca --cn "FATE party 9999 CA" --out ./ca
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


def main(argv=None, prog: str = "fate-pulumi ca") -> int:
    from fate_pulumi.inputs import InputError, output_dir

    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.split("\n\n")[0],
        epilog="exit status: 0 written, 2 bad input (an existing key is never overwritten)",
    )
    parser.add_argument("--cn", required=True, help="the CA's common name")
    parser.add_argument("--out", type=Path, required=True, help="directory for ca.pem and ca.key")
    parser.add_argument("--days", type=int, default=3650, help="validity of the CA certificate (default 10 years)")
    args = parser.parse_args(argv)
    output_dir(args.out)
    if (args.out / "ca.key").exists():
        raise InputError(f"{args.out / 'ca.key'}: exists — a CA key is never overwritten; choose another --out")
    authority = new_authority(args.cn, args.days)
    (args.out / "ca.pem").write_text(authority.certificate_pem)
    key = args.out / "ca.key"
    with os.fdopen(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(authority.key_pem)
    print(f"{args.out / 'ca.pem'} (certificate) and {key} (private key, 0600)")
    return 0


if __name__ == "__main__":
    from fate_pulumi.cli import guarded

    sys.exit(guarded(main))
