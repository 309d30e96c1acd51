"""Create the CA a stack issues its TLS certificates from (tls.generate).

    fate-pulumi ca --cn "FATE party 9999 CA" --out ./ca
    pulumi config set --path fate:tls.generate true
    pulumi config set --path fate:tls.caCertificate -- "$(cat ca/ca.pem)"      # public
    pulumi config set --secret fate:tlsCaKey -- "$(cat ca/ca.key)"            # secret

The key file is written with mode 0600; keep it out of the repository.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from components.tls import new_authority
from stacks.common import EXPIRY_WARNING_DAYS

# every preview and preflight flag a CA that expires within EXPIRY_WARNING_DAYS: a shorter one is flagged from day one
MIN_DAYS = EXPIRY_WARNING_DAYS + 1
# RFC 5280 (ub-common-name): a common name has 1 to 64 characters
MAX_CN = 64


def main(argv: Optional[Sequence[str]] = None, prog: str = "fate-pulumi ca") -> int:
    from fate_pulumi.inputs import InputError, OneLineParser, output_dir, path_arg

    parser = OneLineParser(
        prog=prog,
        description=__doc__.split("\n\n")[0],
        epilog="exit status: 0 written, 2 bad input (an existing ca.pem or ca.key is never overwritten)",
    )
    parser.add_argument("--cn", required=True, help="the CA's common name")
    parser.add_argument("--out", type=path_arg, required=True, help="directory for ca.pem and ca.key")
    parser.add_argument("--days", type=int, default=3650,
                        help=f"validity of the CA certificate (default 10 years, at least {MIN_DAYS})")
    args = parser.parse_args(argv)
    if not args.cn.strip():
        parser.error("argument --cn: empty — name the CA, e.g. --cn 'FATE party 9999 CA'")
    if len(args.cn) > MAX_CN:
        parser.error(f"argument --cn: {len(args.cn)} characters — a common name has at most {MAX_CN} (RFC 5280)")
    if args.days < MIN_DAYS:
        parser.error(f"argument --days: {args.days} is below {MIN_DAYS}: a CA that expires within "
                     f"{EXPIRY_WARNING_DAYS} days is flagged by every preview and by preflight (default 3650)")
    try:
        authority = new_authority(args.cn, args.days)
    except OverflowError:  # past 9999-12-31, the last day a datetime (and an X.509 GeneralizedTime) holds
        parser.error(f"argument --days: {args.days} ends after the year 9999 — give fewer days (default 3650)")
    pem, key = args.out / "ca.pem", args.out / "ca.key"
    for path, what in ((key, "key"), (pem, "certificate")):
        if os.path.lexists(path):
            raise InputError(f"{path}: exists — a CA {what} is never overwritten; choose another --out")
    created = not os.path.lexists(args.out)
    output_dir(args.out)
    written: list[Path] = []
    try:
        for path, text, mode in ((key, authority.key_pem, 0o600), (pem, authority.certificate_pem, 0o644)):
            # O_EXCL: never overwrite, even a file that appeared since the check above
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "w") as out:
                written.append(path)
                out.write(text)
    except OSError as err:  # a refused run leaves nothing behind: not half a CA, not the directory it made
        for done in written:
            done.unlink()
        if created:
            args.out.rmdir()
        raise InputError(f"{path}: cannot write it ({err.strerror}) — choose a writable --out") from None
    print(f"{pem} (certificate) and {key} (private key, 0600)")
    return 0


if __name__ == "__main__":
    from fate_pulumi.cli import guarded

    sys.exit(guarded(main))
