"""`python -m recovery_screening`: the `recovery-screening` command."""

import sys

from recovery_screening.cli import main

sys.exit(main())
