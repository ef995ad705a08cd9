"""``python -m lint PATH...``."""

import sys

from lint.cli import main

sys.exit(main(prog="python -m lint"))
