"""Reputation services: recorded events build the stored score; ratings between parties."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sharefab.identity.models import Organization, Role
from sharefab.identity.principal import Principal
from sharefab.kit.db import unit_of_work
from sharefab.kit.errors import Conflict, InvalidInput
from sharefab.orders.models import Order, OrderStatus
from sharefab.reputation import service as reputation
from sharefab.reputation.models import CreditScore, PartyRole, Rating
from tests.factories import T0
from tests.reputation.test_formula import EXAMPLE_BUYER, EXAMPLE_PROVIDER


def make_org(session: Session, slug: str) -> int:
    """An organisation that buys and provides."""
    org = Organization(name=slug, slug=slug, is_buyer=True, is_provider=True)
    session.add(org)
    session.flush()
    return org.id


def make_order(session: Session, buyer: int, ref: str, status: str = "delivered") -> int:
    """An order of `buyer` in `status`, written directly."""
    order = Order(
        organization_id=buyer,
        reference=ref,
        title=ref,
        quantity=10,
        release_at=T0,
        due_at=T0 + timedelta(days=5),
        status=OrderStatus(status),
    )
    session.add(order)
    session.flush()
    return order.id


def principal(org_id: int) -> Principal:
    """An admin of `org_id`."""
    return Principal(org_id, Role.admin, False, True, True, user_id=None)


@pytest.fixture
def orgs(session: Session) -> dict[str, int]:
    """A buyer, two providers and a stranger."""
    return {name: make_org(session, name) for name in ("buyer", "mill", "coater", "stranger")}


class TestScores:
    def test_no_history_is_the_prior(self, session: Session, orgs: dict[str, int]) -> None:
        """A provider with no history scores 778 and weighs 0.889; nothing is written."""
        score = reputation.provider_score(session, orgs["mill"])
        assert score.score == 778
        assert reputation.matching_weight(session, orgs["mill"]) == 0.889
        assert reputation.buyer_score(session, orgs["buyer"]).score == 800
        assert session.scalar(select(func.count()).select_from(CreditScore)) == 0

    def test_events_reproduce_worked_example_a(
        self, session: Session, orgs: dict[str, int]
    ) -> None:
        """20 operations, 1 dispute and three ratings recorded one by one give example A: 884."""
        mill, buyer = orgs["mill"], orgs["buyer"]
        for i in range(20):
            reputation.record_operation_outcome(
                session,
                provider_org_id=mill,
                on_time=i >= 2,
                quantity_done=930 if i == 0 else 0,
                quantity_scrapped=20 if i == 1 else 0,
                response_minutes=15 if i < 8 else None,
            )
        reputation.record_dispute(session, provider_org_id=mill, buyer_org_id=buyer)
        for i, stars in enumerate((5, 4, 4)):
            order_id = make_order(session, buyer, f"PO-{i}")
            reputation.rate(
                session,
                principal(buyer),
                order_id=order_id,
                order_status="delivered",
                buyer_org_id=buyer,
                provider_org_ids={mill},
                ratee_org_id=mill,
                score=stars,
                comment="fine",
            )
        row = reputation.provider_score(session, mill)
        assert reputation.provider_inputs(row) == EXAMPLE_PROVIDER
        assert row.score == 884
        assert reputation.matching_weight(session, mill) == 0.942
        assert reputation.buyer_score(session, buyer).disputes == 1

    def test_buyer_events_reproduce_worked_example_c(
        self, session: Session, orgs: dict[str, int]
    ) -> None:
        """16 orders, 2 cancelled, 7 of 8 payments on time and two 5-star ratings: 871."""
        buyer, mill, coater = orgs["buyer"], orgs["mill"], orgs["coater"]
        for _ in range(16):
            reputation.record_order_placed(session, buyer_org_id=buyer)
        for _ in range(2):
            reputation.record_order_cancelled(session, buyer_org_id=buyer)
        for i in range(8):
            reputation.record_payment(session, buyer_org_id=buyer, on_time=i != 0)
        order_id = make_order(session, buyer, "PO-C", status="closed")
        for rater in (mill, coater):
            reputation.rate(
                session,
                principal(rater),
                order_id=order_id,
                order_status="closed",
                buyer_org_id=buyer,
                provider_org_ids={mill, coater},
                ratee_org_id=buyer,
                score=5,
                comment="paid promptly",
            )
        row = reputation.buyer_score(session, buyer)
        assert reputation.buyer_inputs(row) == EXAMPLE_BUYER
        assert row.score == 871

    @pytest.mark.parametrize("bad", [1.0, -1, True, "3"])
    def test_counts_must_be_whole(
        self, session: Session, orgs: dict[str, int], bad: object
    ) -> None:
        """Quantities and minutes are whole non-negative numbers."""
        with pytest.raises(InvalidInput):
            reputation.record_operation_outcome(
                session,
                provider_org_id=orgs["mill"],
                on_time=True,
                quantity_done=bad,  # type: ignore[arg-type]
                quantity_scrapped=0,
                response_minutes=None,
            )

    def test_score_survives_commit(self, engine: Engine) -> None:
        """Two units of work add up in the stored row (created once, then updated)."""
        with unit_of_work(engine) as s:
            mill = make_org(s, "mill2")
        for _ in range(2):
            with unit_of_work(engine) as s:
                reputation.record_operation_outcome(
                    s,
                    provider_org_id=mill,
                    on_time=False,
                    quantity_done=1,
                    quantity_scrapped=0,
                    response_minutes=0,
                )
        with unit_of_work(engine, write=False) as s:
            rows = s.scalars(select(CreditScore)).all()
            assert [(r.role, r.operations, r.on_time_operations) for r in rows] == [
                (PartyRole.provider, 2, 0)
            ]
            assert rows[0].score == reputation.compute(rows[0])
            assert rows[0].score < 778


_refs = itertools.count()


class TestRate:
    def _rate(self, session: Session, orgs: dict[str, int], **kw: object) -> Rating:
        order_id = kw.pop("order_id", None) or make_order(
            session, orgs["buyer"], f"PO-R{next(_refs)}"
        )
        args: dict[str, object] = {
            "order_id": order_id,
            "order_status": "delivered",
            "buyer_org_id": orgs["buyer"],
            "provider_org_ids": {orgs["mill"]},
            "ratee_org_id": orgs["mill"],
            "score": 4,
            "comment": "good parts",
        }
        args.update(kw)
        rater = args.pop("rater", orgs["buyer"])
        return reputation.rate(session, principal(rater), **args)  # type: ignore[arg-type]

    def test_buyer_rates_provider(self, session: Session, orgs: dict[str, int]) -> None:
        """The buyer's 4 stars are stored as a buyer's rating and move the provider's score."""
        rating = self._rate(session, orgs)
        assert (rating.rater_role, rating.score) == (PartyRole.buyer, 4)
        row = reputation.provider_score(session, orgs["mill"])
        assert (row.rating_count, row.rating_points) == (1, 3)

    def test_one_rating_per_order_and_ratee(self, session: Session, orgs: dict[str, int]) -> None:
        """A second rating of the same provider for the same order is a 409."""
        rating = self._rate(session, orgs)
        with pytest.raises(Conflict, match="already rated"):
            self._rate(session, orgs, order_id=rating.order_id)

    @pytest.mark.parametrize("status", ["draft", "accepted", "in_production", "cancelled"])
    def test_unfinished_order_is_409(
        self, session: Session, orgs: dict[str, int], status: str
    ) -> None:
        """An order that is not completed, delivered or closed cannot be rated yet."""
        with pytest.raises(Conflict, match="rate it once"):
            self._rate(session, orgs, order_status=status)

    def test_strangers_and_self_are_422(self, session: Session, orgs: dict[str, int]) -> None:
        """Only the buyer rates a provider and a provider the buyer; nobody rates itself."""
        with pytest.raises(InvalidInput, match="not your counter-party"):
            self._rate(session, orgs, rater=orgs["stranger"])
        with pytest.raises(InvalidInput, match="not your counter-party"):
            self._rate(session, orgs, ratee_org_id=orgs["coater"])
        with pytest.raises(InvalidInput, match="not your counter-party"):
            self._rate(session, orgs, rater=orgs["mill"], ratee_org_id=orgs["coater"])
        with pytest.raises(InvalidInput, match="itself"):
            self._rate(session, orgs, ratee_org_id=orgs["buyer"])

    @pytest.mark.parametrize("score", [0, 6, 4.0, 4.5, True])
    def test_score_is_a_whole_star_count(
        self, session: Session, orgs: dict[str, int], score: object
    ) -> None:
        """Scores are integers 1-5; floats and bools are refused."""
        with pytest.raises(InvalidInput, match="1 to 5"):
            self._rate(session, orgs, score=score)
        assert session.scalar(select(func.count()).select_from(Rating)) == 0
