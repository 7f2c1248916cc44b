"""Orders and their routings through the HTTP API."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sharefab.orders.models import Operation, Order
from tests.factories import T0, Tenants, created, iso, make_site, order_body, problem


def _counts(session: Session) -> tuple[int, int]:
    orders = session.scalar(select(func.count()).select_from(Order))
    operations = session.scalar(select(func.count()).select_from(Operation))
    return int(orders or 0), int(operations or 0)


class TestCreateOrder:
    def test_chain_by_default(self, client: TestClient) -> None:
        """Steps without predecessors follow the step listed before them, as a draft order."""
        order = created(client.post("/api/v1/orders", json=order_body()))
        assert order["status"] == "draft"
        assert [(op["seq"], op["predecessors"]) for op in order["operations"]] == [
            (1, []),
            (2, [1]),
        ]
        assert all(op["quantity"] == 40 for op in order["operations"])
        assert order["operations"][0]["material"] == "AL6061"

    def test_dag_routing(self, client: TestClient) -> None:
        """Two parts machined in parallel and then assembled keep their explicit precedences."""
        ops = [
            {
                "seq": 10,
                "capability_code": "milling.cnc.3axis",
                "unit_seconds": 300,
                "predecessors": [],
            },
            {"seq": 20, "capability_code": "turning.cnc", "unit_seconds": 200, "predecessors": []},
            {
                "seq": 30,
                "capability_code": "assembly.manual",
                "unit_seconds": 120,
                "predecessors": [10, 20],
            },
        ]
        order = created(client.post("/api/v1/orders", json=order_body(operations=ops)))
        assert [op["predecessors"] for op in order["operations"]] == [[], [], [10, 20]]

    def test_cycle_refused_and_nothing_written(self, client: TestClient, session: Session) -> None:
        """A routing with a cycle is refused naming the cycle, and no row is left behind."""
        ops = [
            {
                "seq": 1,
                "capability_code": "milling.cnc.3axis",
                "unit_seconds": 60,
                "predecessors": [3],
            },
            {"seq": 2, "capability_code": "turning.cnc", "unit_seconds": 60, "predecessors": [1]},
            {
                "seq": 3,
                "capability_code": "inspection.cmm",
                "unit_seconds": 60,
                "predecessors": [2],
            },
        ]
        err = problem(client.post("/api/v1/orders", json=order_body(operations=ops)), 422)
        assert "cycle" in err["detail"]
        assert err["errors"][0]["field"].startswith("body.operations[")
        assert _counts(session) == (0, 0)

    def test_unknown_predecessor(self, client: TestClient) -> None:
        """A predecessor that is not a step of the order is named."""
        ops = [{"capability_code": "turning.cnc", "unit_seconds": 60, "predecessors": [7]}]
        err = problem(client.post("/api/v1/orders", json=order_body(operations=ops)), 422)
        assert "predecessor 7" in err["detail"]
        assert err["errors"][0]["field"] == "body.operations[0].predecessors"

    def test_unknown_capability(self, client: TestClient, session: Session) -> None:
        """An unknown capability in a step is named with a suggestion; nothing is written."""
        body = order_body()
        body["operations"][1]["capability_code"] = "coating.anodise"
        err = problem(client.post("/api/v1/orders", json=body), 422)
        assert err["errors"][0]["field"] == "body.operations[1].capability_code"
        assert "coating.anodize" in err["detail"]
        assert _counts(session) == (0, 0)

    def test_negative_and_fractional_quantities(self, client: TestClient) -> None:
        """A negative quantity and a fractional one are each refused, naming the field."""
        err = problem(client.post("/api/v1/orders", json=order_body(quantity=-5)), 422)
        assert err["errors"][0]["field"] == "body.quantity"
        body = order_body()
        body["operations"][0]["quantity"] = 2.5
        err = problem(client.post("/api/v1/orders", json=body), 422)
        assert err["errors"][0]["field"] == "body.operations[0].quantity"

    def test_due_before_release(self, client: TestClient) -> None:
        """An order due before it is released is refused with the reason."""
        body = order_body(due_at=iso(T0 - timedelta(days=1)))
        assert (
            "due_at must be after release_at"
            in problem(client.post("/api/v1/orders", json=body), 422)["detail"]
        )

    def test_float_budget_refused(self, client: TestClient) -> None:
        """A budget given as a float is refused: money is integer minor units."""
        err = problem(client.post("/api/v1/orders", json=order_body(budget_minor=1999.99)), 422)
        assert err["errors"][0]["field"] == "body.budget_minor"

    def test_duplicate_reference(self, client: TestClient) -> None:
        """A buyer cannot reuse its own order reference."""
        created(client.post("/api/v1/orders", json=order_body()))
        assert "PO-1001" in problem(client.post("/api/v1/orders", json=order_body()), 409)["detail"]

    def test_delivery_site_must_be_buyers(self, client: TestClient, tenants: Tenants) -> None:
        """The delivery site must belong to the buyer."""
        site = make_site(client.__class__(client.app, headers=tenants["rival"].headers))
        body = order_body(delivery_site_id=site["id"])
        assert problem(client.post("/api/v1/orders", json=body), 422)["errors"][0]["field"] == (
            "body.delivery_site_id"
        )


class TestBuyersOnly:
    def test_provider_only_cannot_order(self, client: TestClient, tenants: Tenants) -> None:
        """An organisation that is not a buyer cannot submit orders."""
        as_p2 = client.__class__(client.app, headers=tenants["provider2"].headers)
        assert "buyer" in problem(as_p2.post("/api/v1/orders", json=order_body()), 403)["detail"]


class TestListAndChange:
    def test_filters_and_isolation(self, client: TestClient, tenants: Tenants) -> None:
        """Orders filter by capability and due date; another buyer's orders never show."""
        first = created(client.post("/api/v1/orders", json=order_body()))
        ops = [{"capability_code": "inspection.cmm", "unit_seconds": 600}]
        later = iso(T0 + timedelta(days=30))
        second = created(
            client.post("/api/v1/orders", json=order_body("PO-2", operations=ops, due_at=later))
        )
        as_buyer2 = client.__class__(client.app, headers=tenants["buyer2"].headers)
        created(as_buyer2.post("/api/v1/orders", json=order_body("PO-9")))
        mine = client.get("/api/v1/orders").json()
        assert [o["id"] for o in mine["items"]] == [first["id"], second["id"]]
        problem(as_buyer2.get(f"/api/v1/orders/{first['id']}"), 404)
        everyone = client.get("/api/v1/orders", headers=tenants["operator"].headers).json()
        assert everyone["total"] == 3
        by_cap = client.get("/api/v1/orders", params={"capability": "inspection.cmm"}).json()
        assert [o["id"] for o in by_cap["items"]] == [second["id"]]
        soon = client.get(
            "/api/v1/orders", params={"due_before": iso(T0 + timedelta(days=20))}
        ).json()
        assert [o["id"] for o in soon["items"]] == [first["id"]]

    def test_update_replaces_routing(self, client: TestClient) -> None:
        """Patching a draft's operations replaces its routing."""
        order = created(client.post("/api/v1/orders", json=order_body()))
        ops = [{"capability_code": "sheet.laser_cut", "unit_seconds": 30}]
        out = client.patch(f"/api/v1/orders/{order['id']}", json={"operations": ops, "quantity": 7})
        assert out.status_code == 200, out.text
        assert [op["capability_code"] for op in out.json()["operations"]] == ["sheet.laser_cut"]
        assert out.json()["quantity"] == 7

    def test_bad_update_changes_nothing(self, client: TestClient) -> None:
        """A patch with a cyclic routing is refused and the order keeps its old routing."""
        order = created(client.post("/api/v1/orders", json=order_body()))
        ops = [
            {"seq": 1, "capability_code": "turning.cnc", "unit_seconds": 1, "predecessors": [2]},
            {"seq": 2, "capability_code": "turning.cnc", "unit_seconds": 1, "predecessors": [1]},
        ]
        problem(
            client.patch(f"/api/v1/orders/{order['id']}", json={"operations": ops, "title": "X"}),
            422,
        )
        again = client.get(f"/api/v1/orders/{order['id']}").json()
        assert again["title"] == order["title"]
        assert len(again["operations"]) == 2

    def test_delete_draft(self, client: TestClient) -> None:
        """A draft order can be deleted and is gone afterwards."""
        order = created(client.post("/api/v1/orders", json=order_body()))
        assert client.delete(f"/api/v1/orders/{order['id']}").status_code == 204
        problem(client.get(f"/api/v1/orders/{order['id']}"), 404)
