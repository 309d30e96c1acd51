"""python -m fate_pulumi.importer: the same as `fate-pulumi import`."""

import sys

from fate_pulumi.cli import guarded
from fate_pulumi.importer.command import main

sys.exit(guarded(main))
