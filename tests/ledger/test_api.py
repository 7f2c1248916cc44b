"""The ledger's read-only API: who sees which accounts, entries, transfers and escrows."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from sharefab.kit.db import unit_of_work
from sharefab.ledger import service as ledger
from sharefab.ledger.schemas import EscrowFunding, Release
from tests.factories import Tenants, created, order_body, problem


@pytest.fixture
def money(app_client: TestClient, engine: Engine, tenants: Tenants) -> dict[str, Any]:
    """acme orders and funds 100 000; provider2 is paid 60 000 of it at 5 % (booking:1)."""
    acme = TestClient(app_client.app, headers=tenants["acme"].headers)
    order = created(acme.post("/api/v1/orders", json=order_body("PO-LEDGER")))
    with unit_of_work(engine) as s:
        ledger.fund_escrow(
            s,
            order_id=order["id"],
            buyer_org_id=tenants["acme"].org_id,
            amount_minor=100_000,
            currency="CNY",
        )
        ledger.release_to_provider(
            s,
            order_id=order["id"],
            provider_org_id=tenants["provider2"].org_id,
            amount_minor=60_000,
            currency="CNY",
            fee_bps=500,
            reference="booking:1",
        )
    return {"order_id": order["id"]}


def as_(app_client: TestClient, tenants: Tenants, name: str) -> TestClient:
    """A client signed in as tenant `name`."""
    return TestClient(app_client.app, headers=tenants[name].headers)


def accounts(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    """The accounts a caller lists."""
    resp = client.get("/api/v1/ledger/accounts", params=params)
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


class TestAccounts:
    def test_each_tenant_sees_only_its_own(
        self, app_client: TestClient, tenants: Tenants, money: dict[str, Any]
    ) -> None:
        """acme sees its buyer funds, provider2 its earnings, rival nothing; no platform rows."""
        acme = accounts(as_(app_client, tenants, "acme"))
        assert [(a["kind"], a["balance_minor"]) for a in acme] == [("buyer_funds", -100_000)]
        p2 = accounts(as_(app_client, tenants, "provider2"))
        assert [(a["kind"], a["balance_minor"]) for a in p2] == [("provider_earnings", 57_000)]
        assert accounts(as_(app_client, tenants, "rival")) == []
        other = accounts(as_(app_client, tenants, "rival"), organization_id=tenants["acme"].org_id)
        assert other == []

    def test_operator_sees_every_account_and_filters(
        self, app_client: TestClient, tenants: Tenants, money: dict[str, Any]
    ) -> None:
        """The operator sees escrow and fees too, and can filter by kind and organisation."""
        op = as_(app_client, tenants, "operator")
        kinds = {a["kind"]: a["balance_minor"] for a in accounts(op)}
        assert kinds == {
            "buyer_funds": -100_000,
            "escrow": 40_000,
            "provider_earnings": 57_000,
            "platform_fees": 3_000,
        }
        assert [a["order_id"] for a in accounts(op, kind="escrow")] == [money["order_id"]]
        mine = accounts(op, organization_id=tenants["provider2"].org_id)
        assert [a["kind"] for a in mine] == ["provider_earnings"]

    def test_foreign_and_platform_accounts_are_404(
        self, app_client: TestClient, tenants: Tenants, money: dict[str, Any]
    ) -> None:
        """Another tenant's account and the platform's accounts do not exist for a tenant."""
        op_view = accounts(as_(app_client, tenants, "operator"))
        by_kind = {a["kind"]: a["id"] for a in op_view}
        acme = as_(app_client, tenants, "acme")
        for kind in ("provider_earnings", "escrow", "platform_fees"):
            problem(acme.get(f"/api/v1/ledger/accounts/{by_kind[kind]}"), 404)
            problem(acme.get(f"/api/v1/ledger/accounts/{by_kind[kind]}/entries"), 404)
        own = acme.get(f"/api/v1/ledger/accounts/{by_kind['buyer_funds']}")
        assert own.json()["balance_minor"] == -100_000
        op = as_(app_client, tenants, "operator")
        assert op.get(f"/api/v1/ledger/accounts/{by_kind['escrow']}").status_code == 200

    def test_anonymous_is_401(self, app_client: TestClient, money: dict[str, Any]) -> None:
        """The ledger needs a signed-in caller."""
        problem(app_client.get("/api/v1/ledger/accounts"), 401)


class TestEntries:
    def test_paginated_with_running_balance(
        self, app_client: TestClient, engine: Engine, tenants: Tenants, money: dict[str, Any]
    ) -> None:
        """An account's legs page in order, each with the balance after it."""
        with unit_of_work(engine) as s:
            ledger.release_to_provider(
                s,
                order_id=money["order_id"],
                provider_org_id=tenants["provider2"].org_id,
                amount_minor=10_000,
                currency="CNY",
                fee_bps=500,
                reference="booking:2",
            )
        p2 = as_(app_client, tenants, "provider2")
        (account,) = accounts(p2)
        url = f"/api/v1/ledger/accounts/{account['id']}/entries"
        first = p2.get(url, params={"limit": 1}).json()
        assert first["total"] == 2
        assert [(e["amount_minor"], e["balance_after_minor"]) for e in first["items"]] == [
            (57_000, 57_000)
        ]
        second = p2.get(url, params={"limit": 1, "offset": 1}).json()["items"][0]
        assert (second["amount_minor"], second["balance_after_minor"]) == (9_500, 66_500)
        assert second["reference"] == "release:booking:2"
        assert second["kind"] == "release"


class TestTransfers:
    def test_tenants_see_only_their_legs(
        self, app_client: TestClient, tenants: Tenants, money: dict[str, Any]
    ) -> None:
        """The buyer sees the funding with its own leg; the provider the release with its own."""
        acme = as_(app_client, tenants, "acme").get("/api/v1/ledger/transfers").json()
        assert [t["kind"] for t in acme["items"]] == ["fund_escrow"]
        assert [leg["amount_minor"] for leg in acme["items"][0]["legs"]] == [-100_000]
        p2 = as_(app_client, tenants, "provider2").get("/api/v1/ledger/transfers").json()
        assert [t["kind"] for t in p2["items"]] == ["release"]
        assert [leg["account_kind"] for leg in p2["items"][0]["legs"]] == ["provider_earnings"]
        rival = as_(app_client, tenants, "rival").get("/api/v1/ledger/transfers").json()
        assert rival["items"] == []

    def test_operator_sees_all_legs_and_filters_by_order(
        self, app_client: TestClient, tenants: Tenants, money: dict[str, Any]
    ) -> None:
        """The operator sees every leg of every transfer; legs sum to zero; order filter works."""
        op = as_(app_client, tenants, "operator")
        body = op.get("/api/v1/ledger/transfers", params={"order_id": money["order_id"]}).json()
        assert [t["kind"] for t in body["items"]] == ["fund_escrow", "release"]
        for t in body["items"]:
            assert sum(leg["amount_minor"] for leg in t["legs"]) == 0
        none = op.get("/api/v1/ledger/transfers", params={"order_id": 999_999}).json()
        assert none["total"] == 0


class TestEscrow:
    def test_buyer_and_operator_see_the_escrow(
        self, app_client: TestClient, tenants: Tenants, money: dict[str, Any]
    ) -> None:
        """The order's buyer sees its escrow: funded, released, what remains."""
        url = f"/api/v1/ledger/escrow/{money['order_id']}"
        body = as_(app_client, tenants, "acme").get(url).json()
        assert body == {
            "order_id": money["order_id"],
            "currency": "CNY",
            "balance_minor": 40_000,
            "funded_minor": 100_000,
            "released_minor": 60_000,
            "refunded_minor": 0,
            "settled": False,
            "settled_at": None,
        }
        assert as_(app_client, tenants, "operator").get(url).status_code == 200

    def test_everyone_else_gets_404(
        self, app_client: TestClient, tenants: Tenants, money: dict[str, Any]
    ) -> None:
        """The paid provider, other tenants and an unknown order all get 404."""
        url = f"/api/v1/ledger/escrow/{money['order_id']}"
        for name in ("provider2", "rival", "buyer2"):
            body = problem(as_(app_client, tenants, name).get(url), 404)
            assert "40000" not in str(body)
        problem(as_(app_client, tenants, "acme").get("/api/v1/ledger/escrow/999999"), 404)

    def test_settled_escrow_shows_the_return(
        self, app_client: TestClient, engine: Engine, tenants: Tenants, money: dict[str, Any]
    ) -> None:
        """After settlement the buyer sees 0 held, 40 000 returned, settled."""
        with unit_of_work(engine) as s:
            ledger.settle_order(s, order_id=money["order_id"])
        body = as_(app_client, tenants, "acme").get(f"/api/v1/ledger/escrow/{money['order_id']}")
        assert body.json()["balance_minor"] == 0
        assert body.json()["refunded_minor"] == 40_000
        assert body.json()["settled"] is True


class TestNoWrites:
    def test_no_route_moves_money(self, app_client: TestClient) -> None:
        """The ledger API has no POST, PUT, PATCH or DELETE: money moves only via services."""
        methods = {
            m
            for r in app_client.app.routes  # type: ignore[attr-defined]
            if getattr(r, "path", "").startswith("/api/v1/ledger")
            for m in r.methods
        }
        assert methods <= {"GET", "HEAD"}


class TestAmountShapes:
    @pytest.mark.parametrize("amount", [100.0, 100.5, "100", True])
    def test_floats_refused(self, amount: object) -> None:
        """Money in request shapes is a strict integer: floats, strings and bools are refused."""
        with pytest.raises(ValidationError):
            EscrowFunding.model_validate({"amount_minor": amount})
        with pytest.raises(ValidationError):
            Release.model_validate({"amount_minor": amount, "reference": "booking:1"})

    def test_integers_accepted(self) -> None:
        """An integer amount in minor units passes."""
        assert EscrowFunding.model_validate({"amount_minor": 100}).amount_minor == 100
