"""python -m autoheal."""

import sys

from autoheal.cli import main

sys.exit(main())
