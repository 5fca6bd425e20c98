"""Run the ``kronos`` command line with ``python -m kronos``."""

import sys

from kronos.cli import main

if __name__ == "__main__":
    sys.exit(main())
