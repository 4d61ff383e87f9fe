"""The designer tools' defaults and bounds, in a module that imports nothing: the CLI builds its
options (and `--help`) from them without loading the tools."""

DEFAULT_EXAMPLES = 300
"""Random applicants `check` tries per property."""
DEFAULT_SEED = 0
MAX_EXAMPLES = 1_000_000
MAX_SEED = 2**63 - 1
DEFAULT_LIMIT = 100
"""Changed applicants `diff` lists."""
