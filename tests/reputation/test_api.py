"""Reputation through the API: credit scores with their inputs, ratings by and about a tenant."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from sharefab.identity.models import Role
from sharefab.identity.principal import Principal
from sharefab.kit.db import unit_of_work
from sharefab.reputation import service as reputation
from sharefab.reputation.schemas import RatingCreate
from tests.factories import Tenants, problem
from tests.reputation.test_service import make_order


def as_(app_client: TestClient, tenants: Tenants, name: str) -> TestClient:
    """A client signed in as tenant `name`."""
    return TestClient(app_client.app, headers=tenants[name].headers)


@pytest.fixture
def history(engine: Engine, tenants: Tenants) -> dict[str, Any]:
    """provider2 did two operations for acme (one late); acme and provider2 rated each other."""
    acme, p2 = tenants["acme"].org_id, tenants["provider2"].org_id
    with unit_of_work(engine) as s:
        for on_time in (True, False):
            reputation.record_operation_outcome(
                s,
                provider_org_id=p2,
                on_time=on_time,
                quantity_done=50,
                quantity_scrapped=0,
                response_minutes=30,
            )
        reputation.record_order_placed(s, buyer_org_id=acme)
        order_id = make_order(s, acme, "PO-RATED")
        common: dict[str, Any] = {
            "order_id": order_id,
            "order_status": "delivered",
            "buyer_org_id": acme,
            "provider_org_ids": {p2},
        }
        reputation.rate(
            s,
            Principal(acme, Role.admin, False, True, True),
            ratee_org_id=p2,
            score=5,
            comment="MARK-acme-about-p2",
            **common,
        )
        reputation.rate(
            s,
            Principal(p2, Role.admin, False, True, False),
            ratee_org_id=acme,
            score=3,
            comment="MARK-p2-about-acme",
            **common,
        )
    return {"order_id": order_id}


class TestCredit:
    def test_me_shows_scores_with_inputs(
        self, app_client: TestClient, tenants: Tenants, history: dict[str, Any]
    ) -> None:
        """provider2 sees its provider score with counts, components and matching weight."""
        body = as_(app_client, tenants, "provider2").get("/api/v1/credit/me").json()
        assert body["buyer"] is None  # provider2 does not buy
        provider = body["provider"]
        assert provider["has_history"] is True
        assert provider["inputs"]["operations"] == 2
        assert provider["inputs"]["on_time_operations"] == 1
        assert provider["inputs"]["rating_count"] == 1
        assert provider["inputs"]["rating_points"] == 4
        assert set(provider["components"]) == {
            "on_time",
            "quality",
            "rating",
            "disputes",
            "response",
        }
        assert provider["matching_weight"] == 0.5 + provider["score"] / 2000
        assert provider["formula_version"] == 1

    def test_new_organisation_shows_the_prior(
        self, app_client: TestClient, tenants: Tenants
    ) -> None:
        """An organisation with no history sees 778 as provider and 800 as buyer."""
        body = as_(app_client, tenants, "rival").get("/api/v1/credit/me").json()
        assert body["provider"]["score"] == 778
        assert body["provider"]["has_history"] is False
        assert body["provider"]["updated_at"] is None
        assert body["buyer"]["score"] == 800

    def test_other_organisations_are_404_except_for_the_operator(
        self, app_client: TestClient, tenants: Tenants, history: dict[str, Any]
    ) -> None:
        """Credit of another tenant is 404; the operator sees anyone's; unknown ids are 404."""
        url = f"/api/v1/credit/{tenants['provider2'].org_id}"
        for name in ("acme", "rival", "buyer2"):
            problem(as_(app_client, tenants, name).get(url), 404)
        assert as_(app_client, tenants, "provider2").get(url).status_code == 200
        op = as_(app_client, tenants, "operator")
        assert op.get(url).json()["provider"]["inputs"]["operations"] == 2
        problem(op.get("/api/v1/credit/999999"), 404)

    def test_anonymous_is_401(self, app_client: TestClient) -> None:
        """Credit needs a signed-in caller."""
        problem(app_client.get("/api/v1/credit/me"), 401)


class TestRatings:
    def test_given_and_received_only(
        self, app_client: TestClient, tenants: Tenants, history: dict[str, Any]
    ) -> None:
        """Each party sees the ratings it gave and received; a third tenant sees none."""
        acme = as_(app_client, tenants, "acme")
        body = acme.get("/api/v1/ratings").json()
        assert sorted(r["comment"] for r in body["items"]) == [
            "MARK-acme-about-p2",
            "MARK-p2-about-acme",
        ]
        given = acme.get("/api/v1/ratings", params={"direction": "given"}).json()["items"]
        assert [(r["comment"], r["rater_role"], r["score"]) for r in given] == [
            ("MARK-acme-about-p2", "buyer", 5)
        ]
        received = acme.get("/api/v1/ratings", params={"direction": "received"}).json()
        assert [r["comment"] for r in received["items"]] == ["MARK-p2-about-acme"]
        rival = as_(app_client, tenants, "rival").get("/api/v1/ratings").text
        assert "MARK" not in rival
        op = as_(app_client, tenants, "operator").get("/api/v1/ratings").json()
        assert op["total"] == 2

    def test_filter_by_order(
        self, app_client: TestClient, tenants: Tenants, history: dict[str, Any]
    ) -> None:
        """order_id narrows the list."""
        acme = as_(app_client, tenants, "acme")
        assert (
            acme.get("/api/v1/ratings", params={"order_id": history["order_id"]}).json()["total"]
            == 2
        )
        assert acme.get("/api/v1/ratings", params={"order_id": 999999}).json()["total"] == 0


class TestRatingShape:
    @pytest.mark.parametrize("score", [4.0, 4.5, "4", True, 0, 6])
    def test_score_must_be_whole_stars(self, score: object) -> None:
        """The rating body refuses floats, strings, bools and out-of-range stars."""
        with pytest.raises(ValidationError):
            RatingCreate.model_validate({"order_id": 1, "ratee_organization_id": 2, "score": score})

    def test_valid_rating_body(self) -> None:
        """An integer score from 1 to 5 passes."""
        body = RatingCreate.model_validate({"order_id": 1, "ratee_organization_id": 2, "score": 5})
        assert body.score == 5
