"""Tools for program designers: test cases, and (in later modules) lint, simulate, diff, check."""
