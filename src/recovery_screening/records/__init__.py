"""Audit trail: canonical JSON and hashing, the ruleset lock and registry, records and replay.

This package's `__init__` imports nothing, so `ruleset.py` can use `records.lock` without a cycle;
import `records.registry`, `records.record` and `records.replay` (or the names re-exported from
`recovery_screening`) directly.
"""
