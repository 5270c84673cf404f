"""``python -m femion`` runs the command line."""

import sys

from femion.cli import main

sys.exit(main())
