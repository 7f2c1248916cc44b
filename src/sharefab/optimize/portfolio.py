"""Portfolio for plain flexible job shops (makespan): tabu search beside CP-SAT.

With ``workers`` = N, N - 1 tabu searches run in their own processes for the whole budget
(different seeds, each from the incumbent) and stream improvements back through a queue. The main
process first runs CP-SAT on the full model with one worker and the redundant bounds for
``cpsat_share`` of the time: it raises the lower bound (often to the optimum) and finds schedules
of its own. Then it runs LNS around CP-SAT on the shared incumbent (or, with ``lns_after_cpsat``
off, a tabu search of its own). Improvements flow both ways: the tabu processes restart from a
better incumbent found by CP-SAT or LNS. Everything stops as soon as the incumbent meets the lower
bound, so instances that CP-SAT can close finish early with status ``optimal``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing as mp
import queue
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sharefab.optimize import cpsat, tabu
from sharefab.optimize.data import ObjectiveTerm, ProblemData
from sharefab.optimize.lns import run_lns
from sharefab.optimize.params import SolveParams, TabuParams
from sharefab.optimize.result import Assignment, Status

if TYPE_CHECKING:
    from sharefab.optimize.solve import Incumbent


def _latest(inbox: Any) -> list[Assignment] | None:
    """The last schedule waiting in ``inbox`` (older ones are superseded)."""
    items = None
    while True:
        try:
            items = inbox.get_nowait()
        except (queue.Empty, OSError, ValueError):
            break
    return None if items is None else [Assignment(*a) for a in items]


def _tabu_worker(
    data: ProblemData,
    initial: list[Assignment],
    deadline: float,
    params: TabuParams,
    seed: int,
    out: Any,
    inbox: Any,
    stop: Any,
    bound: Any,
    pause: Any,
) -> None:
    def send(schedule: list[Assignment], value: int) -> None:
        out.put((value, [tuple(a) for a in schedule]))

    with contextlib.suppress(KeyboardInterrupt):  # parent shutting down
        tabu.tabu_search(
            data,
            initial,
            deadline,
            params,
            seed=seed,
            on_improve=send,
            stop=lambda: stop.is_set() or False,
            target=int(bound.value),
            inbox=lambda: _latest(inbox),
            paused=pause.is_set,
        )


def _own_tabu(
    data: ProblemData,
    params: SolveParams,
    inc: Incumbent,
    until: float,
    seed: int,
    offer: Any,
    done: Any,
) -> None:
    if until - time.perf_counter() <= 0.05 or inc.schedule is None:
        return
    tabu.tabu_search(
        data,
        inc.schedule,
        until,
        params.tabu,
        seed=seed,
        on_improve=offer,
        stop=done,
        target=inc.lower_bound,
    )


def _improve_or_prove(
    data: ProblemData,
    params: SolveParams,
    inc: Incumbent,
    budget: float,
    seed: int,
    offer: Any,
    done: Any,
    bound: Any,
    workers: int,
) -> None:
    """CP-SAT on the full model warm-started from the incumbent (horizon = its makespan): it
    improves the incumbent or proves it optimal; its search bound raises the lower bound."""
    assert inc.schedule is not None
    assert inc.objective is not None
    best = inc.objective
    v = cpsat.build(data, params.cpsat, best, (ObjectiveTerm.MAKESPAN,))
    assert v.makespan is not None
    v.model.minimize(v.makespan)
    cpsat.add_hint(v, data, inc.schedule)

    def on_bound(value: int) -> None:
        inc.raise_bound(value)
        bound.value = inc.lower_bound

    out = cpsat.run(
        v,
        data,
        budget,
        workers,
        seed,
        params.cpsat,
        on_solution=offer,
        stop=done,
        on_bound=on_bound,
    )
    if out.schedule is not None:
        inc.offer(out.schedule, "cpsat")
    if out.status == Status.INFEASIBLE:
        inc.raise_bound(best)
    elif out.status == Status.OPTIMAL:
        inc.raise_bound(out.objective or 0)
    else:
        inc.raise_bound(out.bound)
    bound.value = inc.lower_bound


def run_portfolio(
    data: ProblemData,
    params: SolveParams,
    inc: Incumbent,
    deadline: float,
    workers: int,
    seed: int,
) -> Status:
    assert inc.schedule is not None, "the portfolio starts from the heuristic's schedule"
    ctx = mp.get_context("fork")
    results: Any = ctx.Queue()
    stop_event = ctx.Event()
    bound = ctx.Value("q", inc.lower_bound)
    pause = ctx.Event()
    procs = []
    inboxes: list[Any] = []
    for k in range(max(0, workers - 1)):
        inbox: Any = ctx.Queue()
        proc = ctx.Process(
            target=_tabu_worker,
            args=(
                data,
                inc.schedule,
                deadline,
                params.tabu,
                seed * 7919 + k + 1,
                results,
                inbox,
                stop_event,
                bound,
                pause,
            ),
            daemon=True,
        )
        proc.start()
        procs.append(proc)
        inboxes.append(inbox)
    sent = [inc.objective]

    def drain() -> None:
        while True:
            try:
                _, items = results.get_nowait()
            except (queue.Empty, OSError, ValueError):
                break
            inc.offer([Assignment(*a) for a in items], "tabu")
        # hand CP-SAT and LNS improvements to the tabu processes (tabu ones stay independent)
        last = inc.history[-1] if inc.history else None
        if (
            last is not None
            and last[2] in ("cpsat", "lns")
            and (sent[0] is None or last[1] < sent[0])
        ):
            sent[0] = last[1]
            payload = [tuple(a) for a in inc.schedule or ()]
            for box in inboxes:
                box.put(payload)

    def offer(schedule: Sequence[Assignment], _value: int) -> None:
        inc.offer(schedule, "cpsat")

    def offer_tabu(schedule: Sequence[Assignment], _value: int) -> None:
        inc.offer(schedule, "tabu-main")

    def done() -> bool:
        drain()
        return inc.proven or time.perf_counter() >= deadline

    status = Status.FEASIBLE
    pp = params.portfolio
    try:
        # A: a short tabu search here too, so that CP-SAT starts from a good incumbent
        first = pp.tabu_first * (deadline - time.perf_counter())
        _own_tabu(data, params, inc, time.perf_counter() + first, seed + 1, offer_tabu, done)
        # B: CP-SAT on the full model, asked to beat the incumbent (infeasible = proof)
        budget = pp.cpsat_share * (deadline - time.perf_counter())
        if not done() and budget > 0.05:
            # B1: the model with the redundant bounds, one worker, beside the tabu processes
            # the plain-model phase gets a share proportional to how rigid the routing is (the
            # fraction of operations with one eligible resource): CP-SAT's own search is strong
            # there, while tabu and the bounds pay off where the routing is flexible
            rigid = sum(len(op.modes) == 1 for op in data.operations) / data.num_operations
            split = pp.plain_cpsat_share * rigid if params.cpsat.redundant_cumulative else 0.0
            _improve_or_prove(data, params, inc, (1 - split) * budget, seed, offer, done, bound, 1)
            # B2: the plain model with every worker (CP-SAT's own LNS workers), tabu waiting:
            # it searches better on instances with little flexibility; the bound is banked
            if split > 0 and not done():
                plain = dataclasses.replace(
                    params,
                    cpsat=dataclasses.replace(
                        params.cpsat, redundant_cumulative=False, load_bounds=False
                    ),
                )
                left = min(split * budget, deadline - time.perf_counter())
                pause.set()
                try:
                    _improve_or_prove(data, plain, inc, left, seed, offer, done, bound, workers)
                finally:
                    pause.clear()
        # C: LNS around CP-SAT and tabu in turns; a fruitless LNS turn doubles the next tabu turn
        tabu_slice = pp.slice_s
        turn = 0
        while not done() and deadline - time.perf_counter() > 0.05:
            if turn % 2 == 0 and pp.lns_after_cpsat:
                before = inc.objective
                run_lns(
                    data,
                    params,
                    inc,
                    min(deadline, time.perf_counter() + pp.slice_s),
                    1,
                    seed + turn,
                    stop=done,
                )
                improved = (
                    inc.objective is not None and before is not None and inc.objective < before
                )
                tabu_slice = pp.slice_s if improved else 2 * tabu_slice
            else:
                end = min(deadline, time.perf_counter() + tabu_slice)
                _own_tabu(data, params, inc, end, seed + 2 + turn, offer_tabu, done)
            turn += 1
    finally:
        stop_event.set()
        for proc in procs:
            proc.join(timeout=max(0.2, deadline - time.perf_counter() + 0.2))
            if proc.is_alive():
                proc.terminate()
        drain()
    if inc.proven:
        status = Status.OPTIMAL
    return status
