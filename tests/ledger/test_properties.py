"""Property: any sequence of fund / release / refund / settle keeps the ledger sound."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from sharefab.kit.db import build_engine, unit_of_work
from sharefab.kit.errors import Conflict
from sharefab.ledger import service as ledger
from sharefab.ledger.models import Account, AccountKind, Transfer
from tests.ledger.test_service import make_orgs

ORDERS = 3
_order_ids = itertools.count(1)

fund_op = st.tuples(st.just("fund"), st.integers(0, ORDERS - 1), st.integers(1, 50_000))
release_op = st.tuples(
    st.just("release"),
    st.integers(0, ORDERS - 1),
    st.integers(1, 30_000),
    st.integers(0, 5),  # reference index: repeats exercise idempotency
    st.sampled_from([0, 250, 500, 1_234, 10_000]),
)
refund_op = st.tuples(
    st.just("refund"), st.integers(0, ORDERS - 1), st.sampled_from(["full", "after_start"])
)
settle_op = st.tuples(st.just("settle"), st.integers(0, ORDERS - 1))
operations = st.lists(st.one_of(fund_op, release_op, refund_op, settle_op), max_size=14)


@pytest.fixture(scope="module")
def ledger_db(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[Engine, dict[str, int]]]:
    """One SQLite database for every example (each example uses fresh order ids)."""
    path = tmp_path_factory.mktemp("ledger-prop") / "ledger.db"
    shutil.copyfile(sqlite_template, path)
    engine = build_engine(f"sqlite:///{path}")
    yield engine, make_orgs(engine, "pbuyer", "pmill", "pcoater")
    engine.dispose()


@dataclass
class Model:
    """What the ledger should hold per order, predicted independently."""

    balance: dict[int, int] = field(default_factory=dict)
    funded: set[int] = field(default_factory=set)
    settled: set[int] = field(default_factory=set)
    references: dict[str, int] = field(default_factory=dict)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
def test_random_sequences_keep_the_ledger_sound(
    ledger_db: tuple[Engine, dict[str, int]], ops: list[tuple[object, ...]]
) -> None:
    """Transfers sum to zero, balances equal the journal, no escrow < 0, each settles once to 0."""
    engine, orgs = ledger_db
    order_ids = [next(_order_ids) for _ in range(ORDERS)]
    providers = [orgs["pmill"], orgs["pcoater"]]
    model = Model()
    for op in ops:
        kind, index = op[0], int(op[1])  # type: ignore[call-overload]
        order_id = order_ids[index]
        with unit_of_work(engine) as s:
            if kind == "fund":
                amount = int(op[2])  # type: ignore[call-overload]
                expect_ok = order_id not in model.funded
                try:
                    ledger.fund_escrow(
                        s,
                        order_id=order_id,
                        buyer_org_id=orgs["pbuyer"],
                        amount_minor=amount,
                        currency="CNY",
                    )
                    assert expect_ok
                    model.funded.add(order_id)
                    model.balance[order_id] = amount
                except Conflict:
                    assert not expect_ok
            elif kind == "release":
                amount, ref_index, bps = (int(v) for v in op[2:5])  # type: ignore[call-overload]
                reference = f"o{order_ids[0]}:ref{ref_index}"
                seen = model.references.get(reference)
                balance = model.balance.get(order_id, 0)
                try:
                    ledger.release_to_provider(
                        s,
                        order_id=order_id,
                        provider_org_id=providers[ref_index % 2],
                        amount_minor=amount,
                        currency="CNY",
                        fee_bps=bps,
                        reference=reference,
                    )
                    if seen is None:
                        assert order_id in model.funded
                        assert order_id not in model.settled
                        assert amount <= balance
                        model.balance[order_id] = balance - amount
                        model.references[reference] = order_id
                    else:
                        assert seen == order_id  # a replay of the first release
                except Conflict:
                    assert (seen is not None and seen != order_id) or (
                        seen is None
                        and (
                            order_id not in model.funded
                            or order_id in model.settled
                            or amount > balance
                        )
                    )
            elif kind == "refund":
                result = ledger.refund_escrow(s, order_id=order_id, rule=str(op[2]))
                assert (result is None) == (model.balance.get(order_id, 0) == 0)
                if order_id in model.funded:
                    model.balance[order_id] = 0
                    model.settled.add(order_id)
            else:
                ledger.settle_order(s, order_id=order_id)
                if order_id in model.funded:
                    model.balance[order_id] = 0
                    model.settled.add(order_id)
            for oid in order_ids:
                held = ledger.escrow_balance(s, oid)
                assert held >= 0
                assert held == model.balance.get(oid, 0)
    with unit_of_work(engine) as s:
        assert ledger.verify_ledger(s) == []
        for oid in order_ids:
            ledger.settle_order(s, order_id=oid)
    with unit_of_work(engine) as s:
        before = s.scalar(select(func.count()).select_from(Transfer))
        for oid in order_ids:
            ledger.settle_order(s, order_id=oid)  # every escrow resolves once
        assert s.scalar(select(func.count()).select_from(Transfer)) == before
        escrows = s.scalars(
            select(Account).where(
                Account.kind == AccountKind.escrow, Account.order_id.in_(order_ids)
            )
        ).all()
        assert len(escrows) == len(model.funded)
        assert all(e.balance_minor == 0 and e.settled_at is not None for e in escrows)
        assert (
            s.scalar(select(func.coalesce(func.sum(Account.balance_minor), 0))) == 0
        )  # money is conserved
        assert ledger.verify_ledger(s) == []
