"""Tabu search on assignment and sequence for the flexible job shop (makespan), compiled with
Numba.

Mastrolilli & Gambardella (2000) style: a solution is a machine assignment plus a sequence per
machine; its schedule is the longest-path (semi-active) schedule of the disjunctive graph. A move
takes a critical operation ``v`` out of its machine sequence and re-inserts it on any eligible
machine at any position that provably keeps the graph acyclic. Each move is evaluated in O(1)
after one longest-path pass over the graph without ``v``: the new makespan is at most
``max(C(G - v), head(v) + p(v) + tail(v))``. The best non-tabu move is applied (aspiration when it
beats the best makespan); the reverse placement is tabu for a random tenure. After
``restart_after`` non-improving iterations the search restarts from the best solution with a few
random moves.

Applies to jobs that are chains, without capacity windows, transport or fixed bookings, with
positive durations (``solve`` checks this). Release dates are respected.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from sharefab.optimize.data import IntArray, ProblemData
from sharefab.optimize.params import TabuParams
from sharefab.optimize.result import Assignment

INF = 1 << 40


@njit(cache=True)
def _topo(n, jp, js, mp, ms, excl, order, indeg):  # type: ignore[no-untyped-def]
    """Topological order of the disjunctive graph without node ``excl`` (-1: none)."""
    for i in range(n):
        indeg[i] = 0
    for i in range(n):
        if i == excl:
            continue
        c = 0
        if jp[i] >= 0 and jp[i] != excl:
            c += 1
        p = mp[i]
        if p == excl and p >= 0:
            p = mp[excl]
        if p >= 0:
            c += 1
        indeg[i] = c
    tail = 0
    for i in range(n):
        if i != excl and indeg[i] == 0:
            order[tail] = i
            tail += 1
    head = 0
    while head < tail:
        x = order[head]
        head += 1
        s = js[x]
        if s >= 0 and s != excl:
            indeg[s] -= 1
            if indeg[s] == 0:
                order[tail] = s
                tail += 1
        s = ms[x]
        if s == excl and s >= 0:
            s = ms[excl]
        if s >= 0:
            indeg[s] -= 1
            if indeg[s] == 0:
                order[tail] = s
                tail += 1
    return tail


@njit(cache=True)
def _longest(n, jp, js, mp, ms, d, rel, excl, order, indeg, r, q):  # type: ignore[no-untyped-def]
    """Heads r and tails q (excluding own duration) without ``excl``; returns the makespan, or
    -1 if the graph has a cycle."""
    cnt = _topo(n, jp, js, mp, ms, excl, order, indeg)
    expected = n - 1 if excl >= 0 else n
    if cnt != expected:
        return -1
    cmax = 0
    for t in range(cnt):
        x = order[t]
        h = rel[x]
        p = jp[x]
        if p >= 0 and p != excl:
            v = r[p] + d[p]
            if v > h:
                h = v
        p = mp[x]
        if p == excl and p >= 0:
            p = mp[excl]
        if p >= 0:
            v = r[p] + d[p]
            if v > h:
                h = v
        r[x] = h
        if h + d[x] > cmax:
            cmax = h + d[x]
    for t in range(cnt - 1, -1, -1):
        x = order[t]
        tl = 0
        s = js[x]
        if s >= 0 and s != excl:
            v = q[s] + d[s]
            if v > tl:
                tl = v
        s = ms[x]
        if s == excl and s >= 0:
            s = ms[excl]
        if s >= 0:
            v = q[s] + d[s]
            if v > tl:
                tl = v
        q[x] = tl
    return cmax


@njit(cache=True)
def _minus(n, order, posv, jp, js, mp, ms, d, rel, v, r, q, prefmax, rm, qm):  # type: ignore[no-untyped-def]
    """Heads and tails of the graph without ``v``, reusing the current topological order: only
    operations after ``v`` in the order can change heads, only those before it can change
    tails. Returns the makespan without ``v``."""
    rm[:] = r
    qm[:] = q
    cm = prefmax[posv - 1] if posv > 0 else 0
    for t in range(posv + 1, n):
        x = order[t]
        h = rel[x]
        p = jp[x]
        if p >= 0 and p != v:
            val = rm[p] + d[p]
            if val > h:
                h = val
        p = mp[x]
        if p == v:
            p = mp[v]
        if p >= 0:
            val = rm[p] + d[p]
            if val > h:
                h = val
        rm[x] = h
        if h + d[x] > cm:
            cm = h + d[x]
    for t in range(posv - 1, -1, -1):
        x = order[t]
        tl = 0
        s = js[x]
        if s >= 0 and s != v:
            val = qm[s] + d[s]
            if val > tl:
                tl = val
        s = ms[x]
        if s == v:
            s = ms[v]
        if s >= 0:
            val = qm[s] + d[s]
            if val > tl:
                tl = val
        qm[x] = tl
    return cm


@njit(cache=True)
def _relink(k, seq, seqlen, mp, ms, pos):  # type: ignore[no-untyped-def]
    length = seqlen[k]
    for t in range(length):
        x = seq[k, t]
        pos[x] = t
        mp[x] = seq[k, t - 1] if t > 0 else -1
        ms[x] = seq[k, t + 1] if t + 1 < length else -1


@njit(cache=True)
def _move(v, k, a, assign, d, durk, seq, seqlen, mp, ms, pos):  # type: ignore[no-untyped-def]
    """Move ``v`` to machine ``k`` right after ``a`` (-1: first)."""
    old = assign[v]
    p = pos[v]
    for t in range(p, seqlen[old] - 1):
        seq[old, t] = seq[old, t + 1]
    seqlen[old] -= 1
    _relink(old, seq, seqlen, mp, ms, pos)
    at = 0 if a < 0 else pos[a] + 1
    for t in range(seqlen[k], at, -1):
        seq[k, t] = seq[k, t - 1]
    seq[k, at] = v
    seqlen[k] += 1
    assign[v] = k
    d[v] = durk[v, k]
    _relink(k, seq, seqlen, mp, ms, pos)


@njit(cache=True)
def _hash(n, assign, mp, zob):  # type: ignore[no-untyped-def]
    h = 0
    for i in range(n):
        p = mp[i]
        h ^= zob[i, p if p >= 0 else n + assign[i]]
    return h


@njit(cache=True)
def _search(  # type: ignore[no-untyped-def]
    iters,
    n,
    m,
    jp,
    js,
    rel,
    durk,
    elig,
    elig_len,
    assign,
    d,
    seq,
    seqlen,
    mp,
    ms,
    pos,
    best_assign,
    best_seq,
    best_seqlen,
    state,
    tabu,
    zob,
    hkeys,
    hstamp,
    tenure_min,
    tenure_span,
    restart_after,
    perturb,
    seed,
    criterion,
    one_path,
    adaptive,
):
    """Run ``iters`` iterations. ``state`` = [iteration, best makespan, current makespan,
    non-improving iterations, seeded, hash of the current sequences]. Returns True when the
    best improved. Besides the (operation, old predecessor) attribute, a move is tabu when it
    returns to sequences visited recently (Zobrist hash over machine-predecessor pairs)."""
    mask = hkeys.shape[0] - 1
    if state[4] == 0:
        np.random.seed(seed)
        state[4] = 1
    order = np.empty(n, np.int64)
    indeg = np.empty(n, np.int64)
    r = np.empty(n, np.int64)
    q = np.empty(n, np.int64)
    rm = np.empty(n, np.int64)
    qm = np.empty(n, np.int64)
    crit = np.empty(n, np.int64)
    opos = np.empty(n, np.int64)
    prefmax = np.empty(n, np.int64)
    improved = False
    cur = _longest(n, jp, js, mp, ms, d, rel, -1, order, indeg, r, q)
    if state[4] == 1:
        state[5] = _hash(n, assign, mp, zob)
        state[4] = 2
    for _ in range(iters):
        it = state[0]
        state[0] += 1
        best_c = state[1]
        nc = 0
        if one_path == 0:
            for i in range(n):
                if r[i] + d[i] + q[i] == cur:
                    crit[nc] = i
                    nc += 1
        else:  # the operations of one random critical path
            ends = 0
            x = -1
            for i in range(n):
                if r[i] + d[i] == cur:
                    ends += 1
                    if np.random.randint(ends) == 0:
                        x = i
            while x >= 0:
                crit[nc] = x
                nc += 1
                p1 = jp[x]
                p2 = mp[x]
                t1 = p1 >= 0 and r[p1] + d[p1] == r[x]
                t2 = p2 >= 0 and r[p2] + d[p2] == r[x]
                if t1 and t2:
                    x = p1 if np.random.randint(2) == 0 else p2
                elif t1:
                    x = p1
                elif t2:
                    x = p2
                else:
                    x = -1
        bv, bk, ba = -1, -1, -1
        b_est, b_thr, ties = INF, INF, 0
        fv, fk, fa, f_cnt = -1, -1, -1, 0  # fallback when every move is tabu
        hcur = state[5]
        run = 0
        for t in range(n):
            x = order[t]
            opos[x] = t
            if r[x] + d[x] > run:
                run = r[x] + d[x]
            prefmax[t] = run
        for ci in range(nc):
            v = crit[ci]
            cm = _minus(n, order, opos[v], jp, js, mp, ms, d, rel, v, r, q, prefmax, rm, qm)
            ao = mp[v]
            bo = ms[v]
            h1 = hcur ^ zob[v, ao if ao >= 0 else n + assign[v]]
            if bo >= 0:
                h1 ^= zob[bo, v] ^ zob[bo, ao if ao >= 0 else n + assign[v]]
            jpv = jp[v]
            jsv = js[v]
            hv = rel[v]
            lim_b = INF
            if jpv >= 0:
                hv = max(hv, rm[jpv] + d[jpv])
                lim_b = qm[jpv] + d[jpv]
            tv = 0
            lim_a = INF
            if jsv >= 0:
                tv = qm[jsv] + d[jsv]
                lim_a = rm[jsv] + d[jsv]
            for e in range(elig_len[v]):
                k = elig[v, e]
                dk = durk[v, k]
                a = -1
                t = 0
                length = seqlen[k]
                while True:
                    while t < length and seq[k, t] == v:
                        t += 1
                    b = seq[k, t] if t < length else -1
                    if a >= 0 and (a == jsv or rm[a] >= lim_a):
                        break
                    ok = b < 0 or (b != jpv and qm[b] < lim_b)
                    if ok and not (k == assign[v] and a == mp[v]):
                        h = hv
                        if a >= 0 and rm[a] + d[a] > h:
                            h = rm[a] + d[a]
                        tl = tv
                        if b >= 0 and qm[b] + d[b] > tl:
                            tl = qm[b] + d[b]
                        thr = h + dk + tl
                        est = cm if cm > thr else thr
                        key = a if a >= 0 else n + k
                        h2 = h1 ^ zob[v, key]
                        if b >= 0:
                            h2 ^= zob[b, key] ^ zob[b, v]
                        slot = h2 & mask
                        seen = hkeys[slot] == h2 and hstamp[slot] > 0
                        if (tabu[v, key] > it or seen) and est >= best_c:
                            f_cnt += 1
                            if np.random.randint(f_cnt) == 0:
                                fv, fk, fa = v, k, a
                        elif (
                            criterion == 0 and (thr < b_thr or (thr == b_thr and est < b_est))
                        ) or (criterion == 1 and (est < b_est or (est == b_est and thr < b_thr))):
                            bv, bk, ba, b_est, b_thr, ties = v, k, a, est, thr, 1
                        elif est == b_est and thr == b_thr:
                            ties += 1
                            if np.random.randint(ties) == 0:
                                bv, bk, ba = v, k, a
                    if b < 0:
                        break
                    a = b
                    t += 1
        if bv < 0:
            if fv < 0:
                break
            bv, bk, ba = fv, fk, fa
        old_k = assign[bv]
        old_a = mp[bv]
        key = old_a if old_a >= 0 else n + old_k
        tabu[bv, key] = it + tenure_min + np.random.randint(tenure_span + 1)
        _move(bv, bk, ba, assign, d, durk, seq, seqlen, mp, ms, pos)
        state[5] = _hash(n, assign, mp, zob)
        slot = state[5] & mask
        hkeys[slot] = state[5]
        hstamp[slot] = it + 1
        cur = _longest(n, jp, js, mp, ms, d, rel, -1, order, indeg, r, q)
        if cur < 0:  # cannot happen with the insertion rules; recover from the best
            cur = INF
        if cur < state[1]:
            state[1] = cur
            state[3] = 0
            state[6] = 0
            improved = True
            best_assign[:] = assign
            best_seq[:, :] = seq
            best_seqlen[:] = seqlen
        else:
            state[3] += 1
        if state[3] > restart_after or cur == INF:
            state[3] = 0
            assign[:] = best_assign
            seq[:, :] = best_seq
            seqlen[:] = best_seqlen
            for i in range(n):
                d[i] = durk[i, assign[i]]
            for k in range(m):
                _relink(k, seq, seqlen, mp, ms, pos)
            cur = _longest(n, jp, js, mp, ms, d, rel, -1, order, indeg, r, q)
            state[6] += 1
            strength = perturb + min(state[6] // 2, 6 * perturb) if adaptive else perturb
            for _p in range(strength + np.random.randint(perturb + 1)):
                # random critical operation to a random valid position
                nc = 0
                for i in range(n):
                    if r[i] + d[i] + q[i] == cur:
                        crit[nc] = i
                        nc += 1
                v = crit[np.random.randint(nc)]
                _longest(n, jp, js, mp, ms, d, rel, v, order, indeg, rm, qm)
                k = elig[v, np.random.randint(elig_len[v])]
                lim_a = rm[js[v]] + d[js[v]] if js[v] >= 0 else INF
                lim_b = qm[jp[v]] + d[jp[v]] if jp[v] >= 0 else INF
                cand = np.empty(seqlen[k] + 1, np.int64)
                cc = 0
                a = -1
                t = 0
                while True:
                    while t < seqlen[k] and seq[k, t] == v:
                        t += 1
                    b = seq[k, t] if t < seqlen[k] else -1
                    if a >= 0 and (a == js[v] or rm[a] >= lim_a):
                        break
                    if b < 0 or (b != jp[v] and qm[b] < lim_b):
                        cand[cc] = a
                        cc += 1
                    if b < 0:
                        break
                    a = b
                    t += 1
                if cc > 0:
                    _move(
                        v, k, cand[np.random.randint(cc)], assign, d, durk, seq, seqlen, mp, ms, pos
                    )
                    cur = _longest(n, jp, js, mp, ms, d, rel, -1, order, indeg, r, q)
            cur = _longest(n, jp, js, mp, ms, d, rel, -1, order, indeg, r, q)
            state[5] = _hash(n, assign, mp, zob)
        state[2] = cur
    return improved


@njit(cache=True)
def _schedule_of(n, jp, js, mp, ms, d, rel):  # type: ignore[no-untyped-def]
    order = np.empty(n, np.int64)
    indeg = np.empty(n, np.int64)
    r = np.empty(n, np.int64)
    q = np.empty(n, np.int64)
    _longest(n, jp, js, mp, ms, d, rel, -1, order, indeg, r, q)
    return r


@dataclass
class TabuState:
    """Arrays of one tabu search run (all mutated in place by the compiled kernel)."""

    n: int
    m: int
    jp: IntArray
    js: IntArray
    rel: IntArray
    durk: IntArray
    elig: IntArray
    elig_len: IntArray
    assign: IntArray
    d: IntArray
    seq: IntArray
    seqlen: IntArray
    mp: IntArray
    ms: IntArray
    pos: IntArray
    best_assign: IntArray
    best_seq: IntArray
    best_seqlen: IntArray
    state: IntArray
    tabu: IntArray
    zob: IntArray
    hkeys: IntArray
    hstamp: IntArray


def applicable(data: ProblemData) -> bool:
    return (
        data.is_chain_only
        and not data.has_windows
        and not data.has_transport
        and not data.fixed
        and all(mode.duration > 0 for op in data.operations for mode in op.modes)
        and data.num_operations <= 4000
    )


def init_state(data: ProblemData, schedule: Sequence[Assignment]) -> TabuState:
    n, m = data.num_operations, data.num_resources
    jp = np.full(n, -1, np.int64)
    js = np.full(n, -1, np.int64)
    for u, w in data.arcs:
        jp[w], js[u] = u, w
    rel = np.array([data.jobs[data.op_job[i]].release for i in range(n)], np.int64)
    durk = np.full((n, m), -1, np.int64)
    max_modes = max(len(op.modes) for op in data.operations)
    elig = np.full((n, max_modes), -1, np.int64)
    elig_len = np.zeros(n, np.int64)
    for i, op in enumerate(data.operations):
        for e, mode in enumerate(op.modes):
            durk[i, mode.resource] = mode.duration
            elig[i, e] = mode.resource
        elig_len[i] = len(op.modes)
    assign = np.zeros(n, np.int64)
    start = np.zeros(n, np.int64)
    for a in schedule:
        i = data.op_index(a.job, a.operation)
        assign[i], start[i] = a.resource, a.start
    d = durk[np.arange(n), assign].copy()
    seq = np.full((m, n), -1, np.int64)
    seqlen = np.zeros(m, np.int64)
    for i in sorted(range(n), key=lambda i: (start[i], i)):
        k = assign[i]
        seq[k, seqlen[k]] = i
        seqlen[k] += 1
    mp = np.full(n, -1, np.int64)
    ms = np.full(n, -1, np.int64)
    pos = np.zeros(n, np.int64)
    for k in range(m):
        _relink(k, seq, seqlen, mp, ms, pos)
    cmax = max(a.end for a in schedule)
    state = np.array([0, cmax + 1, cmax, 0, 0, 0, 0], np.int64)
    rng = np.random.default_rng(12345)
    zob = rng.integers(1, 1 << 62, size=(n, n + m), dtype=np.int64)
    return TabuState(
        n, m, jp, js, rel, durk, elig, elig_len, assign, d, seq, seqlen, mp, ms, pos,
        assign.copy(), seq.copy(), seqlen.copy(), state, np.zeros((n, n + m), np.int64),
        zob, np.zeros(1 << 18, np.int64), np.zeros(1 << 18, np.int64),
    )  # fmt: skip


def step(ts: TabuState, iters: int, params: TabuParams, seed: int) -> bool:
    n, m = ts.n, ts.m
    tenure_min = params.tenure_min + (n // max(1, m)) // 2
    return bool(
        _search(
            iters,
            n,
            m,
            ts.jp,
            ts.js,
            ts.rel,
            ts.durk,
            ts.elig,
            ts.elig_len,
            ts.assign,
            ts.d,
            ts.seq,
            ts.seqlen,
            ts.mp,
            ts.ms,
            ts.pos,
            ts.best_assign,
            ts.best_seq,
            ts.best_seqlen,
            ts.state,
            ts.tabu,
            ts.zob,
            ts.hkeys,
            ts.hstamp,
            tenure_min,
            params.tenure_span,
            params.restart_after,
            params.perturbation_moves,
            seed,
            params.criterion,
            params.one_path,
            params.adaptive_perturbation,
        )
    )


def best_schedule(data: ProblemData, ts: TabuState) -> list[Assignment]:
    mp = np.full(ts.n, -1, np.int64)
    ms = np.full(ts.n, -1, np.int64)
    pos = np.zeros(ts.n, np.int64)
    for k in range(ts.m):
        _relink(k, ts.best_seq, ts.best_seqlen, mp, ms, pos)
    d = ts.durk[np.arange(ts.n), ts.best_assign]
    r = _schedule_of(ts.n, ts.jp, ts.js, mp, ms, d, ts.rel)
    return [
        Assignment(
            data.op_job[i], data.op_pos[i], int(ts.best_assign[i]), int(r[i]), int(r[i] + d[i])
        )
        for i in range(ts.n)
    ]


def tabu_search(
    data: ProblemData,
    initial: Sequence[Assignment],
    deadline: float,
    params: TabuParams,
    seed: int = 0,
    on_improve: Callable[[list[Assignment], int], None] | None = None,
    stop: Callable[[], bool] | None = None,
    target: int = 0,
    inbox: Callable[[], Sequence[Assignment] | None] | None = None,
    paused: Callable[[], bool] | None = None,
) -> list[Assignment]:
    """Improve ``initial`` until ``deadline`` (perf_counter), ``stop()`` or makespan ``target``.
    ``inbox()`` may return a better schedule found elsewhere; the search then continues from it.
    """
    ts = init_state(data, initial)
    chunk = 50
    while time.perf_counter() < deadline:
        if paused is not None and paused():
            if stop is not None and stop():
                break
            time.sleep(0.02)
            continue
        t = time.perf_counter()
        if step(ts, chunk, params, seed) and on_improve is not None:
            on_improve(best_schedule(data, ts), int(ts.state[1]))
        if ts.state[1] <= target or (stop is not None and stop()):
            break
        if inbox is not None:
            news = inbox()
            if news is not None and max(a.end for a in news) < ts.state[1]:
                fresh = init_state(data, news)
                fresh.state[0] = ts.state[0]
                fresh.state[4] = 1 if ts.state[4] else 0
                fresh.tabu, fresh.hkeys, fresh.hstamp = ts.tabu, ts.hkeys, ts.hstamp
                ts = fresh
        took = time.perf_counter() - t
        if took < 0.02:
            chunk = min(chunk * 2, 100000)
        elif took > 0.1 and chunk > 1:
            chunk //= 2
    return best_schedule(data, ts)


def warm_up() -> None:
    """Load (or compile, the first time) the Numba kernels on a tiny instance, so that the
    time limit of a solve is not spent on JIT work. Forked tabu processes inherit them."""
    from sharefab.optimize.data import Job, Mode, Operation, Resource

    ops = (Operation((Mode(0, 1), Mode(1, 2))), Operation((Mode(1, 1),)))
    data = ProblemData(jobs=(Job(ops), Job(ops)), resources=(Resource(), Resource()))
    initial = [
        Assignment(0, 0, 0, 0, 1),
        Assignment(0, 1, 1, 1, 2),
        Assignment(1, 0, 0, 1, 2),
        Assignment(1, 1, 1, 2, 3),
    ]
    ts = init_state(data, initial)
    step(ts, 3, TabuParams(), 0)
    best_schedule(data, ts)


warm_up()
