"""Tunables of the cluster planner, loadable from TOML (``ClusterParams.from_file``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ClusterParams:
    """Dispatch rules tried for the start plan, LNS neighbourhoods and their sizes.

    rules: dispatch rules for the start plan (the first one gives the first feasible plan).
    slack_shares: with ``op_slack`` among the rules, the other shares of an order's slack it
        tries after the default 0.5, while the start plan's time lasts (which is best depends
        on the instance).
    start_share: share of the time limit for the start plan (rules, then iterated dispatch; on
        ``L`` 25% gave 25.5% of the baseline's weighted tardiness against 26.9% with 10%, S and
        M the same within the run-to-run spread).
    kinds: neighbourhood kinds the adaptive choice draws from.
    sub_time_limit: seconds CP-SAT gets per neighbourhood.
    initial_size / min_size / max_size: operations freed per neighbourhood (adapted per kind:
        grows when CP-SAT proves the neighbourhood optimal quickly, shrinks when it times out).
    max_modes: candidate resources per freed operation (its current one included).
    resequence_size: operations per bottleneck-queue re-sequencing (``resequence``), run on the
        planning process between CP-SAT answers (0: off).
    resequence_share: at most this share of the LNS time goes to re-sequencing (on the
        generated clusters, where most work may pause at a shift end, it rarely improves the
        plan: 0.2 instead of 0.6 let Dask with 2 workers end M at 21.1 M instead of 21.3-21.7 M).
    resequence_patience / resequence_pause: after this many re-sequencings in a row that did
        not improve the plan, re-sequencing pauses for ``resequence_pause`` seconds (doubling
        while it keeps failing, up to 8x), leaving the planning process's CPU to the CP-SAT
        neighbourhoods; an improving step resets both (0: never pause).
    reaction: how fast the adaptive weights of the neighbourhood kinds follow recent success.
    validate_every: seconds between runs of the independent validator over the whole plan:
        answers accepted meanwhile form one batch, validated before it becomes the incumbent
        (0: after every batch of answers that arrive together).
    validate_share: at most about this share of the LNS time goes to the validator (on ``L`` one
        run takes seconds): batches are validated at least ``validate_every`` seconds apart and
        at least as far apart as the last run took x (1 / share - 1); the search stops taking
        answers early enough that the last batch is validated within the time limit.
    """

    rules: tuple[str, ...] = ("fcfs", "op_slack", "edd")
    slack_shares: tuple[float, ...] = (1.0, 1.5, 0.25, 0.75)
    start_share: float = 0.25
    kinds: tuple[str, ...] = (
        "time_window",
        "resource_group",
        "related_orders",
        "tardy",
        "bottleneck",
    )
    sub_time_limit: float = 2.0
    initial_size: int = 40
    min_size: int = 8
    max_size: int = 150
    max_modes: int = 6
    resequence_size: int = 400
    resequence_share: float = 0.2
    resequence_patience: int = 40
    resequence_pause: float = 2.0
    reaction: float = 0.2
    validate_every: float = 1.0
    validate_share: float = 0.15

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ClusterParams:
        known = {f.name for f in fields(cls)}
        unknown = set(doc) - known
        if unknown:
            raise ValueError(f"unknown cluster parameter(s): {sorted(unknown)}")
        kwargs: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in doc.items()}
        return cls(**kwargs)

    @classmethod
    def from_file(cls, path: str | Path) -> ClusterParams:
        with open(path, "rb") as fh:
            return cls.from_dict(tomllib.load(fh))


@dataclass(frozen=True)
class WorkLimit:
    """A deterministic budget for ``plan_cluster``: counts of work instead of seconds, so that
    the same inputs give the same plan on any machine, however loaded, and on any pool.

    neighbourhoods: CP-SAT neighbourhoods the LNS builds, ``batch`` at a time (one that comes
        out too small to solve counts too, so the run always ends).
    batch: neighbourhoods solved side by side, whatever the pool's ``slots``: a batch is
        submitted, waited for in full and its answers applied in submission order. A pool with
        more slots than ``batch`` leaves the rest idle; one with fewer queues them.
    sub_deterministic_time: CP-SAT's ``max_deterministic_time`` per neighbourhood (one search
        worker, a seed drawn from the planner's seeded generator).
    dispatch_rounds: squeaky-wheel rounds of iterated dispatch in the start plan.
    resequence_steps: at most this many bottleneck-queue re-sequencings, spread evenly after
        the batches (after ``ClusterParams.resequence_patience`` fruitless ones in a row they
        rest for ``resequence_rest`` batches, doubling while they keep failing, up to 8x).
    quick_share: a neighbourhood CP-SAT proves optimal within this share of
        ``sub_deterministic_time`` counts as quick and its kind's size grows (the wall-clock
        mode's "within half the time limit"; CP-SAT's deterministic time undercounts presolve,
        which dominates on these small models, hence a small share).
    validate_every: batches between runs of the independent validator (and always at the end).
    task_timeout: wall-clock seconds a batch's answers may take before the missing ones are
        dropped as lost (a lost worker); only then may two runs differ. It is also CP-SAT's
        wall-clock safety limit, never reached by a healthy neighbourhood.
    """

    neighbourhoods: int = 200
    batch: int = 2
    sub_deterministic_time: float = 0.5
    dispatch_rounds: int = 20
    resequence_steps: int = 100
    resequence_rest: int = 4
    quick_share: float = 0.05
    validate_every: int = 4
    task_timeout: float = 300.0

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError("WorkLimit.batch must be at least 1")
        if self.neighbourhoods < 0 or self.dispatch_rounds < 0 or self.resequence_steps < 0:
            raise ValueError("WorkLimit counts must not be negative")
        if self.sub_deterministic_time <= 0:
            raise ValueError("WorkLimit.sub_deterministic_time must be positive")
