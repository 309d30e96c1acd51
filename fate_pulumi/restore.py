"""`fate-pulumi restore`: a backup of `fate-pulumi backup` into a party's MySQL (fate_pulumi/backup.py holds both)."""

from __future__ import annotations

import sys

from fate_pulumi.backup import restore_main as main

__all__ = ["main"]

if __name__ == "__main__":
    from fate_pulumi.cli import guarded

    sys.exit(guarded(main))
