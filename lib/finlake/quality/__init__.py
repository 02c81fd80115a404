"""Quality gates: GX 1.x suites, row-level quarantine, waivers, results and reports.

Every layer's job uses :class:`QualityGate` (see docs/quality.md for the contract and for how
stewards read reports, edit suites and add waivers).
"""

from finlake.quality.gate import GateReport, QualityGate, ReprocessResult
from finlake.quality.results import RESULTS_TABLE, CheckResult
from finlake.quality.suites import Expectation, Suite, SuiteError, load_suite
from finlake.quality.waivers import Waiver, load_waivers

__all__ = [
    "CheckResult",
    "Expectation",
    "GateReport",
    "QualityGate",
    "RESULTS_TABLE",
    "ReprocessResult",
    "Suite",
    "SuiteError",
    "Waiver",
    "load_suite",
    "load_waivers",
]
