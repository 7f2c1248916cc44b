"""Bottleneck-queue re-sequencing: the re-planned queue keeps the plan valid."""

from __future__ import annotations

import random

import pytest

from sharefab.optimize.cluster.dispatch import dispatch
from sharefab.optimize.cluster.index import ClusterIndex
from sharefab.optimize.cluster.resequence import (
    RULES,
    bottleneck_queue,
    remaining_work,
    resequence,
)
from sharefab.optimize.validate import validate


@pytest.mark.parametrize("rule", sorted(set(RULES)))
def test_resequenced_queue_keeps_the_plan_valid(small_index: ClusterIndex, rule: str) -> None:
    """Re-sequencing bottleneck queues again and again leaves a plan the validator accepts."""
    plan = dispatch(small_index, "fcfs")
    rem = remaining_work(small_index)
    rng = random.Random(3)
    moved = 0
    for _ in range(15):
        tardiness = [plan.job_tardiness(j) for j in range(small_index.num_jobs)]
        ops, pool = bottleneck_queue(plan, rng, 60, set(), set(), tardiness)
        if len(ops) < 2:
            continue
        changes = resequence(plan, ops, rng, rem, rule=rule, pool=pool)
        assert sorted(i for i, _, _, _ in changes) == sorted(ops)
        plan.move(changes)
        moved += 1
    assert moved > 0
    assert validate(small_index.data, plan.schedule()) == []


def test_resequencing_avoids_busy_orders_and_resources(small_index: ClusterIndex) -> None:
    """No operation of a busy order is taken and no operation is moved onto a busy resource."""
    plan = dispatch(small_index, "fcfs")
    rem = remaining_work(small_index)
    tardiness = [plan.job_tardiness(j) for j in range(small_index.num_jobs)]
    late = [j for j, t in enumerate(tardiness) if t > 0]
    busy_jobs = set(late[: len(late) // 2])
    busy_res = {plan.res[i] for j in busy_jobs for i in small_index.job_ops[j]}
    rng = random.Random(7)
    for _ in range(10):
        ops, pool = bottleneck_queue(plan, rng, 60, busy_jobs, busy_res, tardiness)
        assert not {small_index.op_job[i] for i in ops} & busy_jobs
        for _, r, _, _ in resequence(plan, ops, rng, rem, busy_res, pool=pool):
            assert r not in busy_res
