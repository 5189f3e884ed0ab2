#!/usr/bin/env python3
"""The guided demo against docker-compose.test.yml: `python3 demo.py [--interactive]` (the same as `autoheal demo`)."""

import sys
from pathlib import Path

# Run from a checkout without installing autoheal (its dependencies must be installed).
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from autoheal.demo import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
