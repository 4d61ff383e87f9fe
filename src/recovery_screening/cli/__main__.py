import sys

from recovery_screening.cli import main

sys.exit(main())
