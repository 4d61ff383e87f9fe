"""The audit trail: decision records (`records.record`) and their replay (`records.replay`).

This package's `__init__` imports nothing; import the modules (or the names re-exported from
`recovery_screening`) directly. Publication of ruleset versions (the lock, the registry) is not
here: see `document.lock` and `publication`.
"""
