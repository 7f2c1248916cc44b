"""Database integrity: the promises the platform keeps, checked from the data itself.

`check_database(session)` returns the violations found (empty when all is well);
`sharefab check` runs it from the command line.
"""

from sharefab.integrity.service import CHECKS, CheckResult, Violation, check_database, run_checks

__all__ = ["CHECKS", "CheckResult", "Violation", "check_database", "run_checks"]
