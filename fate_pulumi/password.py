"""Hash a Jupyter notebook password the way jupyter_server's `passwd()` does (argon2id, the same parameters), without
installing Jupyter:

    pulumi config set --secret fate:notebookHashedPassword "$(fate-pulumi password)"

The password is asked for twice on the terminal (or read from standard input with --stdin); only the hash is
printed.
"""

from __future__ import annotations

import getpass
import sys
from typing import Optional

from fate_pulumi.inputs import InputError


def hashed(password: str) -> str:
    """`argon2:<encoded hash>`, what `--NotebookApp.password` / `--ServerApp.password` accept."""
    from argon2 import PasswordHasher

    # jupyter_server.auth.security.passwd(): argon2id, memory_cost=10240, time_cost=10, parallelism=8
    return "argon2:" + PasswordHasher(memory_cost=10240, time_cost=10, parallelism=8).hash(password)


def main(argv: Optional[list[str]] = None, prog: str = "fate-pulumi password") -> int:
    from fate_pulumi.inputs import OneLineParser

    parser = OneLineParser(prog=prog, description=__doc__.split("\n\n")[0],
                           epilog="exit status: 0 printed, 2 no password or the two entries differ")
    parser.add_argument("--stdin", action="store_true", help="read the password from the first line of standard input")
    args = parser.parse_args(argv)
    if args.stdin:
        line = sys.stdin.readline()
        if not line:
            raise InputError("standard input is empty — pipe the password in: "
                             "printf '%s\\n' \"$PASSWORD\" | fate-pulumi password --stdin")
        password = line.rstrip("\r\n")  # \r: a line from a file edited on Windows
    else:
        if not sys.stdin.isatty():  # piped or redirected: getpass would ignore it and ask the terminal, if any
            raise InputError("standard input is not a terminal — to read the password from it, add --stdin")
        try:
            password = getpass.getpass("notebook password: ")
            if getpass.getpass("again: ") != password:
                raise InputError("the two passwords differ — run it again")
        except EOFError:  # Ctrl-D at the prompt
            raise InputError("no password entered — run it again and type one") from None
    if not password:
        raise InputError("empty password — a notebook without a password is open to anyone who reaches it")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 reach Python as lone surrogates
        raise InputError("the password is not UTF-8 text — type it in a UTF-8 terminal or pipe UTF-8") from None
    print(hashed(password))
    return 0


if __name__ == "__main__":
    from fate_pulumi.cli import guarded

    sys.exit(guarded(main))
