"""Tenant isolation, generated from the app's own route list.

Every route with an object id in its path is called as anonymous, as the owner, as another
buyer, as another provider and as the operator, with objects owned by each tenant. No foreign
caller may get a 2xx or see any of the object's data. A route missing from the matrix fails.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from sharefab.jobs.models import Job
from sharefab.kit.db import unit_of_work
from sharefab.ledger import service as ledger
from sharefab.reputation import service as reputation
from tests.factories import (
    Tenants,
    created,
    make_resource,
    make_site,
    make_window,
    order_body,
)

OWNERS = ("acme", "buyer2", "provider2")
ACTORS = ("anonymous", "owner", "other_buyer", "other_provider", "operator")


@dataclass
class Owned:
    """An object made for one owner: its id and a marker string only it contains."""

    key: str
    marker: str
    owner_headers: dict[str, str] | None = None


def _site(c: TestClient, marker: str) -> Owned:
    return Owned(str(make_site(c, name=marker)["id"]), marker)


def _resource(c: TestClient, marker: str) -> Owned:
    site = make_site(c, name=marker)
    return Owned(str(make_resource(c, site["id"], name=marker)["id"]), marker)


def _window(c: TestClient, marker: str) -> Owned:
    res = make_resource(c, make_site(c, name=marker)["id"], name=marker)
    win = created(
        c.post(
            "/api/v1/capacity-windows",
            json={
                "resource_id": res["id"],
                "starts_at": "2027-03-01T08:00:00Z",
                "ends_at": "2027-03-01T16:00:00Z",
                "note": marker,
            },
        )
    )
    return Owned(str(win["id"]), marker)


def _order(c: TestClient, marker: str) -> Owned:
    return Owned(
        str(created(c.post("/api/v1/orders", json=order_body(marker, title=marker)))["id"]), marker
    )


def _org(c: TestClient, marker: str) -> Owned:
    me = c.get("/api/v1/me").json()["organization"]
    return Owned(str(me["id"]), me["slug"] + " Co")


def _disposable_org(c: TestClient, marker: str) -> Owned:
    """A new organisation shaped like the caller's, with its own admin (for deletion)."""
    me = c.get("/api/v1/me").json()["organization"]
    op = {"Authorization": OPERATOR_TOKEN[0]}
    flags = {"is_provider": me["is_provider"], "is_buyer": me["is_buyer"]}
    org = created(c.post("/api/v1/organizations", json={"name": marker, **flags}, headers=op))
    email = f"{marker.lower()}@x.example"
    user = {"email": email, "full_name": marker, "password": "long-enough-pw", "role": "admin"}
    created(c.post("/api/v1/users", json={**user, "organization_id": org["id"]}, headers=op))
    token = c.post("/api/v1/auth/token", data={"username": email, "password": "long-enough-pw"})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return Owned(str(org["id"]), marker, headers)


OPERATOR_TOKEN: list[str] = []


def _user(c: TestClient, marker: str) -> Owned:
    body = {
        "email": f"{marker.lower()}@x.example",
        "full_name": marker,
        "password": "long-enough-pw",
    }
    return Owned(str(created(c.post("/api/v1/users", json=body))["id"]), marker)


def _key(c: TestClient, marker: str) -> Owned:
    made = created(c.post("/api/v1/api-keys", json={"name": marker, "scopes": ["read"]}))
    return Owned(str(made["id"]), marker)


def _money(c: TestClient, marker: str) -> tuple[int, int]:
    """The caller's organisation pays an escrow as buyer and is paid from it as provider."""
    org_id = c.get("/api/v1/me").json()["organization"]["id"]
    crc = zlib.crc32(marker.encode())
    order_id, amount = 10_000_000 + crc % 1_000_000_000, 1_000 + crc % 900_000
    with unit_of_work(c.app.state.engine) as s:  # type: ignore[attr-defined]
        ledger.fund_escrow(
            s, order_id=order_id, buyer_org_id=org_id, amount_minor=amount, currency="CNY"
        )
        ledger.release_to_provider(
            s,
            order_id=order_id,
            provider_org_id=org_id,
            amount_minor=amount,
            currency="CNY",
            fee_bps=500,
            reference=marker,
        )
        earnings = [a for a in ledger.balances_for(s, org_id) if a.kind == "provider_earnings"]
        return earnings[0].id, earnings[0].balance_minor


def _ledger_account(c: TestClient, marker: str) -> Owned:
    account_id, balance = _money(c, marker)
    return Owned(str(account_id), f'"balance_minor":{balance}')


def _ledger_entries(c: TestClient, marker: str) -> Owned:
    account_id, _ = _money(c, marker)
    return Owned(str(account_id), marker)


def _escrow(c: TestClient, marker: str) -> Owned:
    order = created(c.post("/api/v1/orders", json=order_body(marker, title=marker)))
    amount = 1_000 + zlib.crc32(marker.encode()) % 900_000
    with unit_of_work(c.app.state.engine) as s:  # type: ignore[attr-defined]
        ledger.fund_escrow(
            s,
            order_id=order["id"],
            buyer_org_id=order["organization_id"],
            amount_minor=amount,
            currency="CNY",
        )
    return Owned(str(order["id"]), f'"balance_minor":{amount}')


def _credit(c: TestClient, marker: str) -> Owned:
    org_id = c.get("/api/v1/me").json()["organization"]["id"]
    done = 1_000 + zlib.crc32(marker.encode()) % 900_000
    with unit_of_work(c.app.state.engine) as s:  # type: ignore[attr-defined]
        reputation.record_operation_outcome(
            s,
            provider_org_id=org_id,
            on_time=True,
            quantity_done=done,
            quantity_scrapped=0,
            response_minutes=None,
        )
        total = reputation.provider_score(s, org_id).quantity_done
    return Owned(str(org_id), f'"quantity_done":{total}')


def _job(c: TestClient, marker: str) -> Owned:
    """A queued job of the caller's organisation (of a kind of its own, so they never clash)."""
    org_id = c.get("/api/v1/me").json()["organization"]["id"]
    with unit_of_work(c.app.state.engine) as s:  # type: ignore[attr-defined]
        job = Job(kind=f"probe-{marker}"[:40], organization_id=org_id, message=marker)
        s.add(job)
        s.flush()
        return Owned(str(job.id), marker)


RIVAL: list[TestClient] = []  # a provider and buyer outside the matrix, set per test


def _rival_capacity(rival: TestClient) -> None:
    """Rival offers milling and anodising, so matrix orders can be quoted and booked."""
    site = make_site(rival, lat=31.3, lon=120.6)
    for code in ("milling.cnc.5axis", "coating.anodize"):
        res = make_resource(rival, site["id"], code=code, name=f"rival {code}")
        for day in range(10):
            make_window(rival, res["id"], 24 * day, 24 * day + 23)


def _small_order(c: TestClient, marker: str) -> dict[str, Any]:
    return created(c.post("/api/v1/orders", json=order_body(marker, title=marker, quantity=1)))


def _quoted(c: TestClient, marker: str) -> Owned:
    order = _small_order(c, marker)
    quote = created(c.post(f"/api/v1/orders/{order['id']}/quotes"))[0]
    return Owned(str(quote["id"]), marker)


def _work_order(c: TestClient, marker: str) -> Owned:
    """A booking on the owner's own CMM, ordered and accepted by Rival."""
    site = make_site(c, name=marker)
    cmm = make_resource(c, site["id"], code="inspection.cmm", materials=[marker], name=marker)
    make_window(c, cmm["id"], 0, 240)
    rival = RIVAL[0]
    ops = [{"capability_code": "inspection.cmm", "unit_seconds": 600, "material": marker}]
    order = created(
        rival.post("/api/v1/orders", json=order_body(marker, title=marker, operations=ops))
    )
    quote = created(rival.post(f"/api/v1/orders/{order['id']}/quotes"))[0]
    booking = created(rival.post(f"/api/v1/quotes/{quote['id']}/accept"))["bookings"][0]
    return Owned(str(booking["id"]), marker)


@dataclass(frozen=True)
class Route:
    """How to make the object a route acts on, and what owner and operator should get."""

    make: Callable[[TestClient, str], Owned] | None
    owner: int
    operator: int
    body: dict[str, Any] = field(default_factory=dict)
    buyers_only: bool = False
    providers_only: bool = False


MATRIX: dict[tuple[str, str], Route] = {
    ("GET", "/api/v1/organizations/{organization_id}"): Route(_org, 200, 200),
    ("PATCH", "/api/v1/organizations/{organization_id}"): Route(
        _org, 200, 200, {"name_local": "x"}
    ),
    ("DELETE", "/api/v1/organizations/{organization_id}"): Route(_disposable_org, 403, 204),
    ("GET", "/api/v1/users/{user_id}"): Route(_user, 200, 200),
    ("DELETE", "/api/v1/users/{user_id}"): Route(_user, 204, 204),
    ("DELETE", "/api/v1/api-keys/{key_id}"): Route(_key, 200, 404),
    ("GET", "/api/v1/capabilities/{code}"): Route(None, 200, 200),
    ("GET", "/api/v1/sites/{site_id}"): Route(_site, 200, 200),
    ("PATCH", "/api/v1/sites/{site_id}"): Route(_site, 200, 403, {"city": "Wuxi"}),
    ("DELETE", "/api/v1/sites/{site_id}"): Route(_site, 204, 403),
    ("GET", "/api/v1/resources/{resource_id}"): Route(_resource, 200, 200),
    ("PATCH", "/api/v1/resources/{resource_id}"): Route(_resource, 200, 403, {"is_active": False}),
    ("DELETE", "/api/v1/resources/{resource_id}"): Route(_resource, 204, 403),
    ("GET", "/api/v1/capacity-windows/{window_id}"): Route(_window, 200, 200),
    ("PATCH", "/api/v1/capacity-windows/{window_id}"): Route(_window, 200, 403, {"note": "moved"}),
    ("DELETE", "/api/v1/capacity-windows/{window_id}"): Route(_window, 204, 403),
    ("GET", "/api/v1/orders/{order_id}"): Route(_order, 200, 200, buyers_only=True),
    ("PATCH", "/api/v1/orders/{order_id}"): Route(_order, 200, 403, {"notes": "x"}, True),
    ("DELETE", "/api/v1/orders/{order_id}"): Route(_order, 204, 403, buyers_only=True),
    ("GET", "/api/v1/orders/{order_id}/quotes"): Route(_order, 200, 200, buyers_only=True),
    ("POST", "/api/v1/orders/{order_id}/quotes"): Route(_order, 201, 403, buyers_only=True),
    ("GET", "/api/v1/quotes/{quote_id}"): Route(_quoted, 200, 200, buyers_only=True),
    ("POST", "/api/v1/quotes/{quote_id}/accept"): Route(_quoted, 201, 403, buyers_only=True),
    ("GET", "/api/v1/orders/{order_id}/bookings"): Route(_order, 200, 200, buyers_only=True),
    ("POST", "/api/v1/orders/{order_id}/cancel"): Route(_order, 200, 403, buyers_only=True),
    ("POST", "/api/v1/orders/{order_id}/close"): Route(_order, 409, 409, buyers_only=True),
    ("POST", "/api/v1/orders/{order_id}/confirm-delivery"): Route(
        _order, 409, 403, buyers_only=True
    ),
    ("POST", "/api/v1/orders/{order_id}/dispute"): Route(
        _order, 409, 403, {"reason": "bad parts"}, buyers_only=True
    ),
    ("POST", "/api/v1/orders/{order_id}/resolve"): Route(
        _order, 403, 409, {"outcome": "close"}, buyers_only=True
    ),
    ("GET", "/api/v1/work-orders/{booking_id}"): Route(_work_order, 200, 200, providers_only=True),
    ("GET", "/api/v1/work-orders/{booking_id}/events"): Route(
        _work_order, 200, 200, providers_only=True
    ),
    ("POST", "/api/v1/work-orders/{booking_id}/events"): Route(
        _work_order, 201, 403, {"type": "started"}, providers_only=True
    ),
    ("POST", "/api/v1/resources/{resource_id}/breakdown"): Route(
        _resource, 201, 403, {"repair_minutes": 60}
    ),
    ("POST", "/api/v1/resources/{resource_id}/resume"): Route(_resource, 409, 403),
    ("GET", "/api/v1/ledger/accounts/{account_id}"): Route(_ledger_account, 200, 200),
    ("GET", "/api/v1/ledger/accounts/{account_id}/entries"): Route(_ledger_entries, 200, 200),
    ("GET", "/api/v1/ledger/escrow/{order_id}"): Route(_escrow, 200, 200, buyers_only=True),
    ("GET", "/api/v1/credit/{organization_id}"): Route(_credit, 200, 200),
    ("GET", "/api/v1/jobs/{job_id}"): Route(_job, 200, 200),
    ("POST", "/api/v1/jobs/{job_id}/cancel"): Route(_job, 200, 200),
}

FOREIGN = {
    "acme": ("buyer2", "provider2"),
    "buyer2": ("acme", "provider2"),
    "provider2": ("buyer2", "acme"),
}


def _api_routes(client: TestClient) -> set[tuple[str, str]]:
    """(method, path) of every API operation, from the app's own OpenAPI document."""
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    routes = {
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if path.startswith("/api/")
    }
    assert len(routes) > 30, "the OpenAPI document lists too few routes to be the whole API"
    return routes


def _id_routes(client: TestClient) -> set[tuple[str, str]]:
    return {(m, p) for m, p in _api_routes(client) if "{" in p}


def test_every_id_route_is_in_the_matrix(app_client: TestClient) -> None:
    """Each API route with an object id is covered; a new route must be added to MATRIX."""
    missing = _id_routes(app_client) - set(MATRIX)
    assert not missing, f"routes missing from the isolation matrix: {sorted(missing)}"


def test_no_foreign_access(app_client: TestClient, tenants: Tenants) -> None:
    """0 foreign 2xx and 0 foreign data over every id route, actor and owner."""
    tally: Counter[str] = Counter()
    failures: list[str] = []
    OPERATOR_TOKEN[:] = [tenants["operator"].headers["Authorization"]]
    RIVAL[:] = [TestClient(app_client.app, headers=tenants["rival"].headers)]
    _rival_capacity(RIVAL[0])

    def as_(name: str) -> TestClient:
        return TestClient(app_client.app, headers=tenants[name].headers)

    for (method, path), spec in MATRIX.items():
        for owner in OWNERS:
            if spec.buyers_only and owner == "provider2":
                continue
            if spec.providers_only and owner == "buyer2":
                continue
            buyer, provider = FOREIGN[owner]
            for actor in ACTORS:
                obj = (
                    spec.make(as_(owner), f"MARK{owner}{tally['calls']}x")
                    if spec.make
                    else Owned("milling.cnc.5axis", "")
                )
                url = path.replace(path[path.index("{") : path.index("}") + 1], obj.key)
                caller = {
                    "anonymous": TestClient(app_client.app),
                    "owner": TestClient(app_client.app, headers=obj.owner_headers)
                    if obj.owner_headers
                    else as_(owner),
                    "other_buyer": as_(buyer),
                    "other_provider": as_(provider),
                    "operator": as_("operator"),
                }[actor]
                kwargs = {"json": spec.body} if spec.body else {}
                resp = caller.request(method, url, **kwargs)
                tally["calls"] += 1
                foreign = actor in ("other_buyer", "other_provider") and spec.make is not None
                if foreign:
                    tally["foreign calls"] += 1
                    if resp.status_code < 300:
                        tally["foreign 2xx"] += 1
                    if obj.marker and obj.marker in resp.text:
                        tally["foreign data"] += 1
                expected = {
                    "anonymous": 401,
                    "owner": spec.owner,
                    "operator": spec.operator,
                }.get(actor, 404 if spec.make else 200)
                if resp.status_code != expected:
                    failures.append(
                        f"{method} {path} owned by {owner} as {actor}: "
                        f"{resp.status_code} (expected {expected}) {resp.text[:120]}"
                    )
    counts = {k: tally[k] for k in ("calls", "foreign calls", "foreign 2xx", "foreign data")}
    print(f"\nisolation matrix: {len(MATRIX)} routes, {counts}")  # noqa: T201 - the closing note quotes these counts
    assert tally["foreign 2xx"] == 0
    assert tally["foreign data"] == 0
    assert not failures, "\n".join(failures)


# GET routes without an id that are not per-tenant lists: the caller's own identity, the
# shared taxonomy, and the anonymised shop window (checked in tests/capacity).
NOT_LISTS = ("/api/v1/me", "/api/v1/capabilities", "/api/v1/capacity/search")

LIST_ROUTES = (
    "/api/v1/work-orders",
    "/api/v1/organizations",
    "/api/v1/users",
    "/api/v1/api-keys",
    "/api/v1/sites",
    "/api/v1/resources",
    "/api/v1/capacity-windows",
    "/api/v1/orders",
    "/api/v1/ledger/accounts",
    "/api/v1/ledger/transfers",
    "/api/v1/credit/me",
    "/api/v1/ratings",
    "/api/v1/jobs",
)


def test_lists_hold_no_foreign_rows(app_client: TestClient, tenants: Tenants) -> None:
    """Every list, as every tenant, holds only that tenant's rows; the operator sees them all."""
    RIVAL[:] = [TestClient(app_client.app, headers=tenants["rival"].headers)]
    _rival_capacity(RIVAL[0])
    markers: dict[str, list[str]] = {}
    for owner in OWNERS:
        c = TestClient(app_client.app, headers=tenants[owner].headers)
        made = [
            _window(c, f"LIST{owner}w").marker,
            _user(c, f"LIST{owner}u").marker,
            _key(c, f"LIST{owner}k").marker,
            _job(c, f"LIST{owner}j").marker,
        ]
        if owner != "provider2":
            made.append(_order(c, f"LIST{owner}o").marker)
        if owner != "buyer2":
            made.append(_work_order(c, f"LIST{owner}wo").marker)
        markers[owner] = made
    checked = {*LIST_ROUTES, *NOT_LISTS}
    for method, path in _api_routes(app_client):
        if method == "GET" and "{" not in path:
            assert path in checked, f"add list route {path} to LIST_ROUTES (or NOT_LISTS)"
    for viewer in OWNERS:
        c = TestClient(app_client.app, headers=tenants[viewer].headers)
        for path in LIST_ROUTES:
            body = c.get(path, params={"limit": 500}).text
            for owner, owner_markers in markers.items():
                for marker in owner_markers:
                    if owner != viewer:
                        assert marker not in body, f"{viewer} sees {owner}'s {marker} in {path}"
    op = TestClient(app_client.app, headers=tenants["operator"].headers)
    everything = "".join(op.get(p, params={"limit": 500}).text for p in LIST_ROUTES)
    for owner in ("acme", "buyer2", "provider2"):
        assert markers[owner][0] in everything
