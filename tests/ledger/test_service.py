"""The ledger's services: escrow funding, releases with the fee, refunds, settlement, checks."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sharefab.identity.models import Organization
from sharefab.kit.db import unit_of_work
from sharefab.kit.errors import Conflict, InvalidInput
from sharefab.ledger import service as ledger
from sharefab.ledger.models import Account, AccountKind, Entry, Transfer, TransferKind
from sharefab.ledger.settings import LedgerSettings

ORDER = 7001


def make_orgs(engine: Engine, *names: str) -> dict[str, int]:
    """Organisations by name (ids), written directly."""
    out = {}
    with unit_of_work(engine) as s:
        for name in names:
            org = Organization(name=name, slug=name, is_buyer=True, is_provider=True)
            s.add(org)
            s.flush()
            out[name] = org.id
    return out


@pytest.fixture
def orgs(engine: Engine) -> dict[str, int]:
    """A buyer and two providers."""
    return make_orgs(engine, "buyer", "mill", "coater")


def balance(session: Session, kind: AccountKind, org: int | None = None) -> int:
    """The balance of one party account (or the CNY platform fees), 0 if absent."""
    stmt = select(Account.balance_minor).where(Account.kind == kind, Account.currency == "CNY")
    if org is not None:
        stmt = stmt.where(Account.organization_id == org)
    return int(session.scalar(stmt) or 0)


def transfers(session: Session) -> int:
    """How many transfers the ledger holds."""
    return int(session.scalar(select(func.count()).select_from(Transfer)) or 0)


def fund(session: Session, orgs: dict[str, int], amount: int = 100_000, **kw: Any) -> Transfer:
    """Fund the escrow of ORDER (or `order_id`) from the buyer in CNY."""
    args: dict[str, Any] = {
        "order_id": ORDER,
        "buyer_org_id": orgs["buyer"],
        "amount_minor": amount,
        "currency": "CNY",
    }
    args.update(kw)
    return ledger.fund_escrow(session, **args)


def release(session: Session, orgs: dict[str, int], amount: int, ref: str, **kw: Any) -> Transfer:
    """Release `amount` of ORDER's escrow to the mill at 500 bps."""
    args: dict[str, Any] = {
        "order_id": ORDER,
        "provider_org_id": orgs["mill"],
        "amount_minor": amount,
        "currency": "CNY",
        "fee_bps": 500,
        "reference": ref,
    }
    args.update(kw)
    return ledger.release_to_provider(session, **args)


class TestFundEscrow:
    def test_moves_buyer_money_into_escrow(self, session: Session, orgs: dict[str, int]) -> None:
        """On accept the buyer's funds go 100 000 down and the order's escrow 100 000 up."""
        transfer = fund(session, orgs)
        assert transfer.kind == TransferKind.fund_escrow
        assert balance(session, AccountKind.buyer_funds, orgs["buyer"]) == -100_000
        assert ledger.escrow_balance(session, ORDER) == 100_000
        assert ledger.verify_ledger(session) == []

    def test_second_funding_of_an_order_conflicts(
        self, session: Session, orgs: dict[str, int]
    ) -> None:
        """An order's escrow is funded once; a second call is a 409 and moves nothing."""
        fund(session, orgs)
        with pytest.raises(Conflict, match="already funded"):
            fund(session, orgs, amount=5)
        assert ledger.escrow_balance(session, ORDER) == 100_000
        assert transfers(session) == 1

    @pytest.mark.parametrize("amount", [100.0, 99.5, True, "100", 0, -5])
    def test_non_integer_or_non_positive_amounts_are_refused(
        self, session: Session, orgs: dict[str, int], amount: object
    ) -> None:
        """Floats, bools, strings, zero and negatives never reach the ledger."""
        with pytest.raises(InvalidInput):
            fund(session, orgs, amount=amount)  # type: ignore[arg-type]
        assert transfers(session) == 0

    def test_bad_currency_is_refused(self, session: Session, orgs: dict[str, int]) -> None:
        """A currency must be an ISO 4217 code."""
        with pytest.raises(InvalidInput, match="ISO 4217"):
            fund(session, orgs, currency="yuan")


class TestRelease:
    def test_fee_rounds_half_up(self, session: Session, orgs: dict[str, int]) -> None:
        """10 010 at 500 bps: fee 500.5 -> 501, the provider gets 9 509, escrow keeps the rest."""
        fund(session, orgs)
        transfer = release(session, orgs, 10_010, "booking:1")
        assert transfer.kind == TransferKind.release
        assert balance(session, AccountKind.provider_earnings, orgs["mill"]) == 9_509
        assert balance(session, AccountKind.platform_fees) == 501
        assert ledger.escrow_balance(session, ORDER) == 100_000 - 10_010
        assert ledger.verify_ledger(session) == []

    @pytest.mark.parametrize(
        ("amount", "bps", "fee"),
        [(10_000, 500, 500), (10_009, 500, 500), (10_010, 500, 501), (1, 5_000, 1), (7, 0, 0)],
    )
    def test_fee_arithmetic(self, amount: int, bps: int, fee: int) -> None:
        """fee = amount × bps / 10 000 rounded half up, in integers."""
        assert ledger.fee_for(amount, bps) == fee

    def test_zero_fee_writes_two_legs(self, session: Session, orgs: dict[str, int]) -> None:
        """A release with no fee has no zero leg on the platform's fee account."""
        fund(session, orgs)
        transfer = release(session, orgs, 5_000, "booking:2", fee_bps=0)
        legs = session.scalars(select(Entry).where(Entry.transfer_id == transfer.id)).all()
        assert sorted(e.amount_minor for e in legs) == [-5_000, 5_000]

    def test_same_reference_is_a_no_op(self, session: Session, orgs: dict[str, int]) -> None:
        """A retried release (same reference) returns the first transfer and pays nothing more."""
        fund(session, orgs)
        first = release(session, orgs, 20_000, "booking:3")
        again = release(session, orgs, 20_000, "booking:3")
        assert again.id == first.id
        assert ledger.escrow_balance(session, ORDER) == 80_000
        assert transfers(session) == 2

    def test_reference_of_another_order_conflicts(
        self, session: Session, orgs: dict[str, int]
    ) -> None:
        """A reference already used for another order's release is refused, not replayed."""
        fund(session, orgs)
        fund(session, orgs, order_id=ORDER + 1)
        release(session, orgs, 1_000, "booking:4")
        with pytest.raises(Conflict, match="already used"):
            release(session, orgs, 1_000, "booking:4", order_id=ORDER + 1)

    def test_escrow_never_goes_negative(self, session: Session, orgs: dict[str, int]) -> None:
        """Releasing more than the escrow holds is a 409 and leaves every balance as it was."""
        fund(session, orgs, amount=1_000)
        release(session, orgs, 600, "booking:5")
        with pytest.raises(Conflict, match="below zero"):
            release(session, orgs, 401, "booking:6")
        assert ledger.escrow_balance(session, ORDER) == 400
        assert ledger.verify_ledger(session) == []

    def test_unfunded_order_conflicts(self, session: Session, orgs: dict[str, int]) -> None:
        """An order never funded has nothing to release."""
        with pytest.raises(Conflict, match="no escrow"):
            release(session, orgs, 1, "booking:7")

    def test_other_currency_conflicts(self, session: Session, orgs: dict[str, int]) -> None:
        """A release must be in the escrow's currency."""
        fund(session, orgs)
        with pytest.raises(Conflict, match="holds CNY"):
            release(session, orgs, 1, "booking:8", currency="EUR")

    @pytest.mark.parametrize("amount", [10.0, 1e3, False])
    def test_float_amount_refused(
        self, session: Session, orgs: dict[str, int], amount: object
    ) -> None:
        """A float (or bool) release amount is refused before anything is written."""
        fund(session, orgs)
        with pytest.raises(InvalidInput, match="whole number"):
            release(session, orgs, amount, "booking:9")  # type: ignore[arg-type]
        assert transfers(session) == 1

    def test_fee_bps_must_be_a_whole_percentage_of_at_most_100(
        self, session: Session, orgs: dict[str, int]
    ) -> None:
        """fee_bps beyond 10 000 or given as a float is refused."""
        fund(session, orgs)
        with pytest.raises(InvalidInput):
            release(session, orgs, 100, "booking:10", fee_bps=10_001)
        with pytest.raises(InvalidInput):
            release(session, orgs, 100, "booking:10", fee_bps=5.0)


class TestRefund:
    def test_full_refund_returns_everything(self, session: Session, orgs: dict[str, int]) -> None:
        """Rule "full": all that remains goes back to the buyer and the escrow is resolved."""
        fund(session, orgs)
        release(session, orgs, 30_000, "booking:1")
        transfer = ledger.refund_escrow(session, order_id=ORDER, rule="full")
        assert transfer is not None
        assert transfer.kind == TransferKind.refund
        assert ledger.escrow_balance(session, ORDER) == 0
        assert balance(session, AccountKind.buyer_funds, orgs["buyer"]) == -30_000
        assert ledger.refund_escrow(session, order_id=ORDER, rule="full") is None
        assert ledger.verify_ledger(session) == []

    def test_after_start_keeps_ten_percent(self, session: Session, orgs: dict[str, int]) -> None:
        """Rule "after_start": of 10 005 remaining the platform keeps 1 001 (1 000.5 rounded up)."""
        fund(session, orgs, amount=10_005)
        ledger.refund_escrow(session, order_id=ORDER, rule="after_start")
        assert balance(session, AccountKind.platform_fees) == 1_001
        assert balance(session, AccountKind.buyer_funds, orgs["buyer"]) == -1_001
        assert ledger.escrow_balance(session, ORDER) == 0

    def test_unknown_rule_refused(self, session: Session, orgs: dict[str, int]) -> None:
        """Only the documented rules exist."""
        fund(session, orgs)
        with pytest.raises(InvalidInput, match="unknown"):
            ledger.refund_escrow(session, order_id=ORDER, rule="half")

    def test_unfunded_order_has_nothing_to_refund(self, session: Session) -> None:
        """Refunding an order that was never funded is None."""
        assert ledger.refund_escrow(session, order_id=ORDER, rule="full") is None

    def test_no_release_after_refund(self, session: Session, orgs: dict[str, int]) -> None:
        """A refunded escrow is resolved: nothing more is released from it."""
        fund(session, orgs)
        ledger.refund_escrow(session, order_id=ORDER, rule="full")
        with pytest.raises(Conflict, match="settled"):
            release(session, orgs, 1, "booking:late")


class TestSettle:
    def test_remainder_goes_back_once(self, session: Session, orgs: dict[str, int]) -> None:
        """At close the remainder returns to the buyer, escrow is 0 and settled; again: no-op."""
        fund(session, orgs)
        release(session, orgs, 60_000, "booking:1")
        release(session, orgs, 30_000, "booking:2", provider_org_id=orgs["coater"])
        ledger.settle_order(session, order_id=ORDER)
        assert ledger.escrow_balance(session, ORDER) == 0
        assert balance(session, AccountKind.buyer_funds, orgs["buyer"]) == -90_000
        assert balance(session, AccountKind.provider_earnings, orgs["mill"]) == 57_000
        assert balance(session, AccountKind.provider_earnings, orgs["coater"]) == 28_500
        assert balance(session, AccountKind.platform_fees) == 4_500
        count = transfers(session)
        ledger.settle_order(session, order_id=ORDER)
        assert transfers(session) == count
        escrow = session.scalars(select(Account).where(Account.order_id == ORDER)).one()
        assert escrow.settled_at is not None
        assert ledger.verify_ledger(session) == []

    def test_settled_escrow_takes_no_more_money(
        self, session: Session, orgs: dict[str, int]
    ) -> None:
        """After settlement neither a release nor a new funding of the order is accepted."""
        fund(session, orgs)
        ledger.settle_order(session, order_id=ORDER)
        with pytest.raises(Conflict):
            release(session, orgs, 1, "booking:x")
        with pytest.raises(Conflict):
            fund(session, orgs)

    def test_unfunded_order_settles_as_no_op(self, session: Session) -> None:
        """Settling an order that never had an escrow writes nothing."""
        ledger.settle_order(session, order_id=ORDER)
        assert transfers(session) == 0


class TestVerify:
    def test_balances_listed_per_organisation(self, session: Session, orgs: dict[str, int]) -> None:
        """balances_for lists an organisation's own accounts only, never platform ones."""
        fund(session, orgs)
        release(session, orgs, 1_000, "booking:1")
        kinds = {a.kind: a.balance_minor for a in ledger.balances_for(session, orgs["mill"])}
        assert kinds == {AccountKind.provider_earnings: 950}
        assert [a.kind for a in ledger.balances_for(session, orgs["buyer"])] == [
            AccountKind.buyer_funds
        ]

    def test_tampered_cache_is_found(self, session: Session, orgs: dict[str, int]) -> None:
        """A cached balance that differs from the journal is reported."""
        fund(session, orgs)
        session.execute(
            update(Account).where(Account.kind == AccountKind.escrow).values(balance_minor=1)
        )
        problems = ledger.verify_ledger(session)
        assert any("its journal sums to 100000" in p for p in problems)

    def test_unbalanced_row_is_found(self, session: Session, orgs: dict[str, int]) -> None:
        """A transfer written around the service whose legs do not sum to zero is reported."""
        fund(session, orgs)
        escrow = session.scalars(select(Account).where(Account.order_id == ORDER)).one()
        bad = Transfer(kind=TransferKind.release, reference="forged", currency="CNY")
        session.add(bad)
        session.flush()
        session.add(
            Entry(transfer_id=bad.id, account_id=escrow.id, amount_minor=-5, balance_after_minor=0)
        )
        session.flush()
        problems = ledger.verify_ledger(session)
        assert any(f"transfer {bad.id} has 1 legs summing to -5" in p for p in problems)

    def test_unbalanced_legs_never_written(self, session: Session, orgs: dict[str, int]) -> None:
        """The service refuses legs that do not sum to zero before writing anything."""
        fund(session, orgs)
        escrow = session.scalars(select(Account).where(Account.order_id == ORDER)).one()
        buyer = ledger.balances_for(session, orgs["buyer"])[0]
        with pytest.raises(ledger.UnbalancedTransfer):
            ledger._post(
                session,
                kind=TransferKind.release,
                order_id=ORDER,
                reference="bug",
                currency="CNY",
                legs=[(escrow, -10), (buyer, 9)],
            )
        assert transfers(session) == 1
        assert ledger.verify_ledger(session) == []


class TestConcurrency:
    def test_parallel_releases_never_overdraw(self, engine: Engine, orgs: dict[str, int]) -> None:
        """Two transactions releasing 700 each from an escrow of 1 000: exactly one succeeds."""
        with unit_of_work(engine) as s:
            fund(s, orgs, amount=1_000)
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def worker(ref: str) -> None:
            barrier.wait()
            try:
                with unit_of_work(engine) as s:
                    release(s, orgs, 700, ref)
                outcomes.append("ok")
            except Conflict:
                outcomes.append("conflict")

        threads = [threading.Thread(target=worker, args=(f"booking:{i}",)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["conflict", "ok"]
        with unit_of_work(engine, write=False) as s:
            assert ledger.escrow_balance(s, ORDER) == 300
            assert ledger.verify_ledger(s) == []

    def test_parallel_retries_release_once(self, engine: Engine, orgs: dict[str, int]) -> None:
        """The same release retried in two transactions at once pays once."""
        with unit_of_work(engine) as s:
            fund(s, orgs, amount=1_000)
        barrier = threading.Barrier(2)
        ids: list[int] = []

        def worker() -> None:
            barrier.wait()
            with unit_of_work(engine) as s:
                ids.append(release(s, orgs, 700, "booking:same").id)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(ids) == 2
        assert ids[0] == ids[1]
        with unit_of_work(engine, write=False) as s:
            assert ledger.escrow_balance(s, ORDER) == 300


class TestSettings:
    def test_fee_rate_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """SHAREFAB_PLATFORM_FEE_BPS sets the platform fee; 500 bps (5 %) by default."""
        monkeypatch.delenv("SHAREFAB_PLATFORM_FEE_BPS", raising=False)
        assert LedgerSettings().platform_fee_bps == 500
        monkeypatch.setenv("SHAREFAB_PLATFORM_FEE_BPS", "250")
        assert LedgerSettings().platform_fee_bps == 250
        monkeypatch.setenv("SHAREFAB_PLATFORM_FEE_BPS", "12000")
        with pytest.raises(ValueError, match="10000"):
            LedgerSettings()
