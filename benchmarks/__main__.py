"""``python -m benchmarks [--quick] [--no-tray] [--strict]``: see benchmarks/README.md."""

import sys

from benchmarks.run import main

sys.exit(main())
