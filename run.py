"""The entry point of the school platform: ``python run.py`` starts the demo; ``python run.py
--help`` lists the commands (see app/cli.py)."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
