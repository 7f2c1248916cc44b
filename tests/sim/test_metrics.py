"""The honest metrics on hand-made records: on time among feasible orders, promises kept, the
utilisation ceiling and the rejection reasons."""

from __future__ import annotations

import json

from sharefab.sim.arrivals import make_scenario
from sharefab.sim.metrics import MOVED_AWAY, reason_group, rejection_reasons, run_metrics
from sharefab.sim.policies import get_policy
from sharefab.sim.record import Fate, OrderOutcome, RunRecord
from sharefab.sim.report import markdown, rejection_lines, summarise, table
from sharefab.sim.world import World


def outcome(order: int, due: int, delivered: int | None, **kw: object) -> OrderOutcome:
    """An order that arrived at minute 0 and was delivered at `delivered` (None: not yet)."""
    fate = Fate.completed if delivered is not None else Fate.waiting
    return OrderOutcome(order, 0, due, 0, fate, delivered, **kw)  # type: ignore[arg-type]


def record_of(*outcomes: OrderOutcome) -> RunRecord:
    return RunRecord("hand-made", 1, 0, orders={o.order: o for o in outcomes})


def test_on_time_among_feasible_orders_leaves_out_the_impossible_ones(world: World) -> None:
    """Four orders due in the period, two of which no schedule could make on time: the on-time
    rate counts all four (2 of 4), the feasible rate only the two that could be (1 of 2)."""
    end = world.end
    record = record_of(
        outcome(0, 600, 500),  # feasible, on time
        outcome(1, 600, 700),  # feasible, late
        outcome(2, 600, 900, feasible_alone=False),  # impossible, late
        outcome(3, 600, 600, feasible_alone=False),  # impossible, yet on time
        outcome(4, end + 60, None),  # due after the period: in neither
    )
    got = run_metrics(record, world)
    assert got["on_time_rate"] == 2 / 4
    assert got["on_time_feasible_rate"] == 1 / 2


def test_promises_kept_counts_delivery_by_the_promised_minute(world: World) -> None:
    """Of three orders promised inside the period, two were delivered by the promise (one of
    them after its due date): 2 of 3 kept; a promise past the period's end is not judged."""
    record = record_of(
        outcome(0, 600, 550, promised=560),
        outcome(1, 600, 640, promised=650),  # late on the due date, promise kept
        outcome(2, 600, 700, promised=660),  # promise broken
        outcome(3, 600, None, promised=world.end + 600),  # not due yet
        outcome(4, 600, 580),  # no promise
    )
    assert run_metrics(record, world)["promises_kept_rate"] == 2 / 3


def test_no_promise_shows_a_dash(world: World) -> None:
    """A run in which nothing was promised has no promises-kept figure: "-" in the table and
    the Markdown, null in the JSON."""
    metrics = run_metrics(record_of(outcome(0, 600, 500)), world)
    assert "promises_kept_rate" not in metrics
    summary = summarise({"greedy": [metrics, metrics]}, [1, 2])
    assert summary["policies"]["greedy"]["promises_kept_rate"] == {
        "mean": None,
        "ci95": [None, None],
    }
    assert "| promises kept (promised in the period) | - |" in markdown(summary)
    assert (
        json.loads(json.dumps(summary))["policies"]["greedy"]["promises_kept_rate"]["mean"] is None
    )
    rows = dict(zip(table(summary).columns[0].cells, table(summary).columns[1].cells, strict=True))
    assert rows["promises kept (promised in the period)"] == "-"


def test_work_orders_moved_away_count_per_arrived_order(world: World) -> None:
    """Five work orders taken from their providers over two arrived orders: 2.5 per order; a
    run that booked nothing ahead (no count noted) shows "-"."""
    record = record_of(outcome(0, 600, 500), outcome(1, 600, None))
    record.note(MOVED_AWAY, 5)
    assert run_metrics(record, world)["moved_away_per_order"] == 2.5
    dispatched = run_metrics(record_of(outcome(0, 600, 500)), world)
    assert "moved_away_per_order" not in dispatched
    summary = summarise({"greedy": [dispatched]}, [1])
    assert "| work orders moved to another provider, per order | - |" in markdown(summary)


def test_the_utilisation_ceiling_is_all_arrived_work_on_the_fastest_machines(world: World) -> None:
    """Two arrived orders, one of them rejected: the ceiling is both orders' steps at their
    fastest capable resource over the machine-minutes offered in the period."""
    a, b = 0, 1
    fastest = sum(min(m for _, m in step) for k in (a, b) for step in world.modes[k])
    rejected = OrderOutcome(b, 0, 600, 0, Fate.rejected, reason="no capacity")
    got = run_metrics(record_of(outcome(a, 600, None), rejected), world)
    assert got["utilisation_ceiling"] == fastest / world.offered_minutes
    assert 0 < got["utilisation_ceiling"] < 1


def test_the_ceiling_is_the_same_for_every_policy(world: World) -> None:
    """The ceiling is the world's and the seed's, not the policy's: every policy shows the same
    one for the same seed."""
    scenario = make_scenario(world, 1)
    got = {
        run_metrics(get_policy(p)(world, scenario), world)["utilisation_ceiling"]
        for p in ("isolated", "greedy", "greedy-edd")
    }
    assert len(got) == 1


def test_rejections_are_counted_by_their_first_clause(world: World) -> None:
    """Rejection messages that differ only in numbers or in what follows the first colon or
    semicolon count as one reason; the counts go into the JSON and under the table."""
    record = record_of(
        OrderOutcome(0, 0, 600, 0, Fate.rejected, reason="no resource can take operation 2"),
        OrderOutcome(1, 0, 600, 0, Fate.rejected, reason="no resource can take operation 5"),
        OrderOutcome(
            2,
            0,
            600,
            0,
            Fate.rejected,
            reason="no schedule for order 17 fits the free capacity in the next 14 days; "
            "widen the due date or ask again later",
        ),
        outcome(3, 600, 500),
    )
    reasons = rejection_reasons(record)
    assert reasons == {
        "no resource can take operation N": 2,
        "no schedule for order N fits the free capacity in the next N days": 1,
    }
    assert run_metrics(record, world)["orders_rejected"] == 3
    metrics = run_metrics(record, world)
    summary = summarise({"sharefab": [metrics, metrics]}, [1, 2], {"sharefab": [reasons, {}]})
    doc = json.loads(json.dumps(summary))
    assert doc["rejections"]["sharefab"]["no resource can take operation N"] == {
        "mean": 1.0,
        "per_seed": [2, 0],
    }
    lines = rejection_lines(summary)
    assert "sharefab: 1 a run, no resource can take operation N (per seed: 2, 0)" in lines
    assert "- sharefab: 0.5 a run, no schedule for order N fits" in markdown(summary)


def test_reason_group_keeps_the_capability_named() -> None:
    """A capability code with a digit in it stays as it is; an empty message still counts."""
    message = "operation 3 of order 9 (milling.cnc.5axis) cannot be placed in the next 14 days: x"
    assert reason_group(message) == (
        "operation N of order N (milling.cnc.5axis) cannot be placed in the next N days"
    )
    assert reason_group("") == "(no reason given)"
