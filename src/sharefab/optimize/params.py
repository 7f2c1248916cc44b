"""Solver parameters as dataclasses, loadable from TOML (``SolveParams.from_file``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CpSatParams:
    """The CP-SAT model and search.

    redundant_cumulative: a cumulative per resource group (capacity = group size), giving
        CP-SAT the load bound during search.
    load_bounds: makespan >= load of each resource (linear, over the mode literals).
    symmetry_breaking: order identical resources by the first operation they run.
    """

    redundant_cumulative: bool = True
    load_bounds: bool = True
    symmetry_breaking: bool = True
    log_search: bool = False


@dataclass(frozen=True)
class TabuParams:
    """Tabu search on assignment and sequence (makespan, plain flexible job shops only)."""

    enabled: bool = True
    tenure_min: int = 12
    tenure_span: int = 25
    restart_after: int = 2000
    perturbation_moves: int = 2
    criterion: int = 0  # move choice: 0 = path through the moved operation, 1 = makespan bound
    adaptive_perturbation: int = 1  # 1: restarts perturb more after each failed restart
    one_path: int = 1  # candidates: 0 = every critical operation, 1 = one random critical path


@dataclass(frozen=True)
class PortfolioParams:
    """Tabu beside CP-SAT for plain flexible job shops (makespan).

    With N workers, N - 1 tabu processes run for the whole budget. The main process runs tabu
    for ``tabu_first`` of the time, then CP-SAT (1 worker, strong redundant bounds, asked to beat
    the incumbent) for ``cpsat_share`` of the rest, then LNS and tabu in turns of ``slice_s``
    seconds. Everything stops as soon as the incumbent meets the lower bound.
    """

    tabu_first: float = 0.03
    cpsat_share: float = 0.5
    plain_cpsat_share: float = 0.5
    lns_after_cpsat: bool = True
    slice_s: float = 3.0


@dataclass(frozen=True)
class LnsParams:
    """Large-neighbourhood search around CP-SAT (used when tabu does not apply)."""

    enabled: bool = True
    neighbourhood_jobs: float = 0.3
    sub_time_limit: float = 2.0
    min_time_for_lns: float = 5.0


@dataclass(frozen=True)
class SolveParams:
    cpsat: CpSatParams = field(default_factory=CpSatParams)
    tabu: TabuParams = field(default_factory=TabuParams)
    lns: LnsParams = field(default_factory=LnsParams)
    portfolio: PortfolioParams = field(default_factory=PortfolioParams)
    heuristic_starts: int = 8
    # Reproducible mode: when set, a solve stops on CP-SAT's deterministic time (this many
    # units in all, about seconds) instead of the wall clock, on one worker with the given
    # seed, runs every heuristic start and no wall-clock-driven LNS or portfolio: the same
    # problem gives the same plan on any load. `time_limit` then only guards against runaways.
    deterministic_time: float | None = None

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> SolveParams:
        kwargs: dict[str, Any] = {}
        nested: dict[str, type] = {
            "cpsat": CpSatParams,
            "tabu": TabuParams,
            "lns": LnsParams,
            "portfolio": PortfolioParams,
        }
        known = {f.name for f in fields(cls)}
        for key, value in doc.items():
            if key not in known:
                raise ValueError(f"unknown solver parameter {key!r}")
            if key in nested:
                sub_known = {f.name for f in fields(nested[key])}
                unknown = set(value) - sub_known
                if unknown:
                    raise ValueError(f"unknown parameter(s) in [{key}]: {sorted(unknown)}")
                kwargs[key] = nested[key](**value)
            else:
                kwargs[key] = value
        return cls(**kwargs)

    @classmethod
    def from_file(cls, path: str | Path) -> SolveParams:
        with open(path, "rb") as fh:
            return cls.from_dict(tomllib.load(fh))
