"""``python -m pixelsmith``."""

import sys

from pixelsmith.cli import main

sys.exit(main())
