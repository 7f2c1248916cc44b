"""The solver library: multi-factory flexible job shop with calendars.

Imports nothing else of sharefab. Build ``ProblemData`` (directly or with ``Model``), call
``solve``, read the ``Result``; check any plan with ``validate``.
"""

from sharefab.optimize.builder import Model
from sharefab.optimize.data import (
    FixedBooking,
    Job,
    Mode,
    Objective,
    ObjectiveTerm,
    Operation,
    ProblemData,
    ProblemDataError,
    Resource,
    Site,
)
from sharefab.optimize.params import CpSatParams, LnsParams, SolveParams, TabuParams
from sharefab.optimize.result import Assignment, Result, Status
from sharefab.optimize.solve import solve
from sharefab.optimize.validate import Violation, validate

__all__ = [
    "Assignment",
    "CpSatParams",
    "FixedBooking",
    "Job",
    "LnsParams",
    "Mode",
    "Model",
    "Objective",
    "ObjectiveTerm",
    "Operation",
    "ProblemData",
    "ProblemDataError",
    "Resource",
    "Result",
    "Site",
    "SolveParams",
    "Status",
    "TabuParams",
    "Violation",
    "solve",
    "validate",
]
