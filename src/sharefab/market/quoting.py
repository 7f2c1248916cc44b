"""Instant quotes: an order placed on the live plan by insertion, priced and explained.

Each option is one ``optimize.live.place_order`` rule over the live plan (no solver, no rows
read per candidate): ``fastest``, ``cheapest``, ``balanced`` (lateness at delivery first, then
the lack of slack before the due date up to a buffer that grows with the routing, then cost) and
``safest`` (a buffer after every step). Every option is scored at delivery to the buyer: the
final truck counts in its date and its price.

A quote promises the buyer's due date when its plan delivers by then with a buffer to spare
(``optimize.live.buffer_minutes``: it grows with the routing's length and duration
uncertainty), else the plan's delivery plus an allowance: that buffer, or, when late plans
have lately slipped more, the measured slip for the order's lead time (``market/promises.py``).
The platform commits to what the buyer asked for whenever it safely can, to a date it can keep
otherwise, and re-optimisation may use the time up to the promise. When no plan meets the due
date the quote still comes, with the earliest date it can keep and the capability that holds
it back (the step that waits longest for its resource). Only a step that no resource can do at
all is refused (422, naming it).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sharefab.kit.errors import Conflict, InvalidInput, field_error
from sharefab.kit.settings import get_settings
from sharefab.kit.types import utcnow
from sharefab.market.live import (
    LivePlan,
    ResourceInfo,
    duration_on,
    minute_up,
    moment,
    qualify,
)
from sharefab.optimize.live import (
    RULES,
    Network,
    Placement,
    Placer,
    Step,
    buffer_minutes,
    place_order,
)
from sharefab.orders.models import Operation, Order

OPTIONS = RULES  # fastest, cheapest, balanced, safest


@dataclass
class Candidates:
    """Who can take each step of an order, and why the others cannot."""

    order: Order
    operations: list[Operation]  # in routing (topological) order
    steps: list[Step]
    excluded: list[list[tuple[ResourceInfo, str]]]
    release: int
    ship_to: int  # dense site index of the buyer (-1: none)
    due: int


def collect(session: Session, live: LivePlan, order: Order, now: datetime) -> Candidates:
    """The order's steps as the placer reads them: every qualified resource with its minutes.

    A step with no resource that offers its capability, or none that qualifies, is refused
    with 422 naming the step, the capability and why (nothing else is refused).
    """
    ops = sorted(order.operations, key=lambda op: op.seq)
    position = {op.seq: k for k, op in enumerate(ops)}
    steps: list[Step] = []
    excluded: list[list[tuple[ResourceInfo, str]]] = []
    for k, op in enumerate(ops):
        modes: list[tuple[int, int]] = []
        out: list[tuple[ResourceInfo, str]] = []
        for idx in live.candidates(op.capability_code):
            info = live.resources[idx]
            if info is None:
                continue
            why = qualify(op, info)
            if why is not None:
                out.append((info, why))
                continue
            minutes = duration_on(op, info)
            if not op.interruptible and not any(b - a >= minutes for a, b in live.windows[idx]):
                out.append((info, f"no capacity window of {minutes} min or longer is published"))
                continue
            modes.append((idx, minutes))
        if not modes:
            reasons = sorted({why for _, why in out}) or [
                f"no resource on the platform offers {op.capability_code}"
            ]
            raise InvalidInput(
                f"operation {op.seq} of order {order.id} needs {op.capability_code} and no "
                f"resource can do it: {'; '.join(reasons)}; change the step's capability, "
                "material or certifications",
                errors=[
                    field_error(
                        f"operations[{k}].capability_code", f"no resource can do step {op.seq}"
                    )
                ],
            )
        preds = tuple(position[p] for p in op.predecessors if p in position)
        steps.append(Step(tuple(modes), preds, op.interruptible))
        excluded.append(out)
    ship_to = live.site_of(session, order.delivery_site_id) if order.delivery_site_id else -1
    return Candidates(
        order=order,
        operations=ops,
        steps=steps,
        excluded=excluded,
        release=max(minute_up(now), minute_up(order.release_at)),
        ship_to=ship_to,
        due=minute_up(order.due_at),
    )


def place(
    live: LivePlan, network: Network, c: Candidates, options: Sequence[str]
) -> dict[str, Placement]:
    """Each option placed on the live plan (an option that fits nowhere is left out)."""
    placer = Placer(live.timelines, network)
    cv = get_settings().duration_cv
    out = {}
    for option in options:
        got = place_order(placer, c.release, c.steps, c.ship_to, c.due, option, cv)
        if got is not None:
            out[option] = got
    if not out:
        raise Conflict(
            f"no capacity is published late enough to place every step of order {c.order.id}; "
            "ask again when providers have published more capacity windows"
        )
    return out


def machine_price(minutes: int, hourly_rate_minor: int) -> int:
    """What ``minutes`` of a resource cost at its hourly rate, rounded half up."""
    return (minutes * hourly_rate_minor * 2 + 60) // 120


@dataclass
class Priced:
    """A placed option with its slot prices, total, promise and explanation."""

    option: str
    placement: Placement
    slot_prices: list[int]
    total: int
    breakdown: dict[str, Any]
    promised_at: datetime
    planned_delivery_at: datetime
    explanation: list[dict[str, Any]]
    providers: list[int]


def price(
    live: LivePlan,
    c: Candidates,
    option: str,
    placement: Placement,
    names: dict[int, str],
    weights: dict[int, float],
    slip: float = 0.0,
) -> Priced:
    """Price a placement so the slots add up to what the buyer pays into escrow.

    Each slot costs its machine time (setup and run, at the resource's hourly rate; a step
    that pauses over a shift end is charged for its work, not the night) plus the trucks that
    bring its inputs; the last steps also pay the truck to the buyer. The platform fee comes out
    of each provider's share at payout, so it is part of the total, not added to it.
    ``slip``: how far late plans have lately slipped, as a fraction of their lead time
    (``promises.slip_fraction``); a late quote's promise allows that much of its own.
    """
    from sharefab.ledger import service as ledger

    prices: list[int] = []
    machine: dict[int, int] = defaultdict(int)
    setup_total = transport_total = 0
    site_of = [live.site_index[live.resources[r].site_id] for r, _, _ in placement.slots]  # type: ignore[union-attr]
    for k, (r, _, _) in enumerate(placement.slots):
        info = live.resources[r]
        assert info is not None
        op = c.operations[k]
        minutes = dict(c.steps[k].modes)[r]
        setup = machine_price(min(op.setup_minutes, minutes), info.hourly_rate_minor)
        run = machine_price(minutes, info.hourly_rate_minor) - setup
        inbound = sum(live.truck_cost[site_of[p]][site_of[k]] for p in c.steps[k].preds)
        machine[info.organization_id] += run
        setup_total += setup
        transport_total += inbound
        prices.append(setup + run + inbound)
    sinks = set(range(len(c.steps))) - {p for s in c.steps for p in s.preds}
    if c.ship_to >= 0:
        for k in sorted(sinks):
            delivery = live.truck_cost[site_of[k]][c.ship_to]
            prices[k] += delivery
            transport_total += delivery
    total = sum(prices)
    fee = sum(ledger.fee_for(v, ledger.PLATFORM_FEE_BPS) for v in prices)
    providers = sorted({live.resources[r].organization_id for r, _, _ in placement.slots})  # type: ignore[union-attr]
    due = c.due
    late = placement.delivery - due
    buffer = buffer_minutes(c.steps, get_settings().duration_cv)
    breakdown: dict[str, Any] = {
        "machine_time": [
            {"provider_id": org, "provider": names.get(org, ""), "amount_minor": amount}
            for org, amount in sorted(machine.items())
        ],
        "setup_minor": setup_total,
        "transport_minor": transport_total,
        "platform_fee_minor": fee,
        "platform_fee_included": True,
        "total_minor": total,
        "planned_delivery_at": moment(placement.delivery).isoformat(),
        "slack_minutes": due - placement.delivery,
        "buffer_minutes": buffer,
    }
    if late > 0:
        k = max(range(len(placement.waits)), key=lambda i: (placement.waits[i], -i))
        breakdown["late_minutes"] = late
        breakdown["bottleneck"] = {
            "operation_seq": c.operations[k].seq,
            "capability": c.operations[k].capability_code,
            "wait_minutes": placement.waits[k],
        }
    elif option == "cheapest" and due - placement.delivery < buffer:
        breakdown["note"] = (
            f"spends the slack: delivered {max(0, due - placement.delivery) // 60} h before the "
            f"due date, less than the {buffer // 60} h buffer a delay would need"
        )
    # the due date when the plan keeps its buffer before it, else the plan's delivery plus an
    # allowance: a date the platform can keep when steps run long and later orders go ahead
    if placement.delivery + buffer <= due:
        promised = due
    else:
        allowance = max(buffer, math.ceil(slip * (placement.delivery - c.release)))
        promised = placement.delivery + allowance
        breakdown["promise_allowance_minutes"] = allowance
    return Priced(
        option=option,
        placement=placement,
        slot_prices=prices,
        total=total,
        breakdown=breakdown,
        promised_at=moment(promised),
        planned_delivery_at=moment(placement.delivery),
        explanation=explain(live, c, placement, weights),
        providers=providers,
    )


def explain(
    live: LivePlan, c: Candidates, placement: Placement, weights: dict[int, float]
) -> list[dict[str, Any]]:
    """Per step: how many resources could take it, the chosen one, and why the others were not
    chosen. Other providers' resources are described without their identity (class, city,
    rate, reasons), so a quote leaks nothing about them."""
    out = []
    for k, (r, start, end) in enumerate(placement.slots):
        chosen = live.resources[r]
        assert chosen is not None
        chosen_site = live.sites[live.site_index[chosen.site_id]]
        minutes = dict(c.steps[k].modes)[r]
        others = []
        for idx, m in c.steps[k].modes:
            if idx == r:
                continue
            info = live.resources[idx]
            assert info is not None
            site = live.sites[live.site_index[info.site_id]]
            reasons = []
            if m > minutes:
                reasons.append(f"too slow ({m} min against {minutes})")
            if info.hourly_rate_minor > chosen.hourly_rate_minor:
                reasons.append("too expensive")
            dist = live.truck_minutes[live.site_index[chosen.site_id]][
                live.site_index[info.site_id]
            ]
            if dist > 0:
                reasons.append(f"too far ({dist} min by truck from the chosen site)")
            if weights.get(info.organization_id, 1.0) < weights.get(chosen.organization_id, 1.0):
                reasons.append("lower credit score")
            if not reasons:
                reasons.append("busy when needed")
            others.append(_anonymous(info, site.city, reasons))
        for info, why in c.excluded[k]:
            others.append(_anonymous(info, live.sites[live.site_index[info.site_id]].city, [why]))
        out.append(
            {
                "operation_seq": c.operations[k].seq,
                "capability": c.operations[k].capability_code,
                "eligible": len(c.steps[k].modes),
                "chosen": {
                    "resource_id": chosen.id,
                    "resource": chosen.name,
                    "resource_class": chosen.resource_class,
                    "provider_id": chosen.organization_id,
                    "city": chosen_site.city,
                    "minutes": minutes,
                    "hourly_rate_minor": chosen.hourly_rate_minor,
                    "starts_at": moment(start).isoformat(),
                    "ends_at": moment(end).isoformat(),
                    "waits_minutes": placement.waits[k],
                },
                "not_chosen": others,
            }
        )
    return out


def _anonymous(info: ResourceInfo, city: str, reasons: list[str]) -> dict[str, Any]:
    return {
        "resource_class": info.resource_class,
        "city": city,
        "hourly_rate_minor": info.hourly_rate_minor,
        "reasons": reasons,
    }


def now_minute() -> int:
    return minute_up(utcnow())
