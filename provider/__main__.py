"""The `fate` package's provider: constructs Party, Exchange and Serving (fate_pulumi/package.py).

Pulumi runs this directory as the plugin; the code it serves is the repository around it (a git-URL install
downloads the whole repository), so that is where it imports from — whatever virtualenv runs it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fate_pulumi.package import main  # noqa: E402

main()
