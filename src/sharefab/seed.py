"""Load a generated industrial cluster into the database (for `sharefab seed` and the demo).

The generator (`sharefab.gen`) makes plain data; this module turns it into rows in one
transaction: either the whole cluster lands or nothing does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sharefab.capacity.models import CapacityWindow, Resource, ResourceCapability, Site
from sharefab.gen import SIZES, Cluster, generate_cluster
from sharefab.identity.models import Membership, Organization, Role, User
from sharefab.identity.principal import Principal
from sharefab.identity.security import hash_password
from sharefab.identity.service import slugify
from sharefab.kit.db import unit_of_work
from sharefab.market.models import Booking
from sharefab.orders.models import Operation, Order, OrderStatus

CLUSTER_TZ = ZoneInfo("Asia/Shanghai")


class SeedError(Exception):
    """Seeding cannot go ahead; the message says what to change."""


DEMO_PASSWORD = "sharefab-demo"


@dataclass(frozen=True)
class DemoLogin:
    """A sign-in the demo creates, printed so a newcomer can try each role."""

    role: str
    email: str
    organization: str


@dataclass(frozen=True)
class SeedSummary:
    """What a seed run left in the database."""

    organizations: int
    sites: int
    resources: int
    windows: int
    orders: int
    operations: int
    horizon_start: datetime | None
    already_seeded: bool = False
    logins: tuple[DemoLogin, ...] = ()
    bookings: int = 0

    def describe(self) -> str:
        """One line for the console."""
        prefix = "database already seeded" if self.already_seeded else "seeded"
        start = (
            f" from {self.horizon_start.astimezone(CLUSTER_TZ):%Y-%m-%d}"
            if self.horizon_start
            else ""
        )
        text = (
            f"{prefix}: {self.organizations} organisations, {self.sites} sites, "
            f"{self.resources} resources, {self.windows} capacity windows{start}, "
            f"{self.orders} orders with {self.operations} operations, "
            f"{self.bookings} bookings"
        )
        if self.logins:
            width = max(len(x.email) for x in self.logins)
            rows = "\n".join(
                f"  {x.role:<16} {x.email:<{width}}  ({x.organization})" for x in self.logins
            )
            text += f"\nsign in with password '{DEMO_PASSWORD}' as:\n{rows}"
        return text


def next_monday(today: date | None = None) -> datetime:
    """Midnight of the next Monday in the cluster's time zone (today if it is Monday)."""
    today = today or datetime.now(CLUSTER_TZ).date()
    monday = today + timedelta(days=(7 - today.weekday()) % 7)
    return datetime(monday.year, monday.month, monday.day, tzinfo=CLUSTER_TZ).astimezone(UTC)


def parse_start(text: str | None) -> datetime:
    """The horizon start from `YYYY-MM-DD` (must be a Monday), or the next Monday."""
    if text is None:
        return next_monday()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise SeedError(f"--start '{text}' is not a date; give YYYY-MM-DD") from None
    if day.weekday() != 0:
        raise SeedError(f"--start {text} is a {day:%A}; give a Monday (shifts start on Monday)")
    return datetime(day.year, day.month, day.day, tzinfo=CLUSTER_TZ).astimezone(UTC)


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def demo_logins(session: Session) -> tuple[DemoLogin, ...]:
    """The demo accounts present in the database."""
    rows = session.execute(
        select(
            User.email,
            Membership.role,
            Organization.name,
            Organization.is_operator,
            Organization.is_provider,
        )
        .join(Membership, Membership.user_id == User.id)
        .join(Organization, Organization.id == Membership.organization_id)
        .where(User.email.like("%@sharefab.demo"))
        .order_by(User.id)
    ).all()
    out = []
    for email, role, org, is_operator, is_provider in rows:
        label = "operator" if is_operator else ("provider " if is_provider else "buyer ") + role
        out.append(DemoLogin(label, email, org))
    return tuple(out)


def has_organizations(engine: Engine) -> bool:
    """Whether the database holds any organisation (then the demo does not seed it again)."""
    with unit_of_work(engine, write=False) as session:
        return _count(session, Organization) > 0


def summarise(session: Session, already_seeded: bool = False) -> SeedSummary:
    """Counts of what the database holds."""
    first_window = session.scalar(select(func.min(CapacityWindow.starts_at)))
    return SeedSummary(
        organizations=_count(session, Organization),
        sites=_count(session, Site),
        resources=_count(session, Resource),
        windows=_count(session, CapacityWindow),
        orders=_count(session, Order),
        operations=_count(session, Operation),
        horizon_start=first_window,
        already_seeded=already_seeded,
        logins=demo_logins(session),
        bookings=_count(session, Booking),
    )


def seed_cluster(
    engine: Engine,
    *,
    size: str = "demo",
    seed: int = 7,
    start: str | None = None,
    force: bool = False,
    skip_if_seeded: bool = False,
    book: int = 0,
    orders: int | None = None,
) -> SeedSummary:
    """Generate a cluster of `size` (with `orders` orders instead of the size's own count,
    when given) and write it, all of it in one transaction; then let the buyers of the first
    `book` orders (by release date) quote and accept them, each order in its own transaction
    through the marketplace services, so the plan has real bookings."""
    if size not in SIZES:
        raise SeedError(f"unknown size '{size}'; choose one of {', '.join(SIZES)}")
    horizon_start = parse_start(start)
    with unit_of_work(engine) as session:
        existing = _count(session, Organization)
        if existing and not force:
            if skip_if_seeded:
                return summarise(session, already_seeded=True)
            raise SeedError(
                f"the database already holds {existing} organisations; pass --force to add "
                "another cluster, or point --database at an empty database"
            )
        with _progress() as progress:
            task = progress.add_task("generating cluster", total=6)
            spec = SIZES[size] if orders is None else replace(SIZES[size], orders=orders)
            cluster = generate_cluster(spec, seed)
            progress.advance(task)
            _write(session, cluster, horizon_start, progress, task)
    if book:
        book_orders(engine, book)
    with unit_of_work(engine, write=False) as session:
        return summarise(session)


def book_orders(engine: Engine, count: int) -> int:
    """Quote and accept (the balanced option) the `count` earliest draft orders; returns how
    many were booked. An order with no room in the plan stays a draft."""
    from sharefab.kit.errors import SharefabError
    from sharefab.market import service as market

    with unit_of_work(engine, write=False) as session:
        drafts = list(
            session.execute(
                select(Order.id, Order.organization_id)
                .where(Order.status == OrderStatus.draft)
                .order_by(Order.release_at, Order.id)
                .limit(count)
            )
        )
    booked = 0
    with _progress() as progress:
        task = progress.add_task("quoting and booking orders", total=len(drafts))
        for order_id, buyer_id in drafts:
            buyer = Principal(
                organization_id=buyer_id,
                role=Role.admin,
                is_operator=False,
                is_provider=False,
                is_buyer=True,
            )
            try:
                with unit_of_work(engine) as session:
                    quotes = market.request_quotes(session, buyer, order_id)
                    chosen = next((q for q in quotes if q.option == "balanced"), quotes[0])
                    market.accept_quote(session, buyer, chosen.id)
                booked += 1
            except SharefabError:
                pass
            progress.advance(task)
    return booked


def _demo_accounts(
    session: Session, cluster: Cluster, orgs: dict[str, Organization], used: set[str]
) -> None:
    """The operator's organisation and one login per role (skipped if they exist)."""
    if session.scalar(select(User.id).where(User.email == "operator@sharefab.demo")):
        return
    slug = "sharefab-operations"
    while slug in used:
        slug += "-x"
    operator = Organization(
        name="sharefab Platform Operations",
        name_local="共享制造平台运营中心",
        slug=slug,
        is_operator=True,
        country="CN",
    )
    session.add(operator)
    session.flush()
    provider = next(orgs[g.key] for g in cluster.organizations if g.is_provider and not g.is_buyer)
    buyer = next(orgs[g.key] for g in cluster.organizations if g.is_buyer and not g.is_provider)
    accounts = [
        ("operator@sharefab.demo", "Platform Operator", operator, Role.operator),
        ("provider@sharefab.demo", "Provider Admin", provider, Role.admin),
        ("shopfloor@sharefab.demo", "Shop-floor Member", provider, Role.member),
        ("buyer@sharefab.demo", "Buyer Admin", buyer, Role.admin),
    ]
    password_hash = hash_password(DEMO_PASSWORD)
    for email, name, org, role in accounts:
        user = User(email=email, full_name=name, password_hash=password_hash)
        session.add(user)
        session.flush()
        session.add(Membership(user_id=user.id, organization_id=org.id, role=role))
    session.flush()


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        transient=True,
    )


def _write(
    session: Session, cluster: Cluster, t0: datetime, progress: Progress, task: object
) -> None:
    def at(minute: int) -> datetime:
        return t0 + timedelta(minutes=minute)

    def step(label: str) -> None:
        progress.update(task, description=label)  # type: ignore[arg-type]

    step("organisations")
    used = set(session.scalars(select(Organization.slug)))
    orgs: dict[str, Organization] = {}
    for g in cluster.organizations:
        slug, n = slugify(g.name), 1
        base = slug
        while slug in used:
            n += 1
            slug = f"{base}-{n}"
        used.add(slug)
        orgs[g.key] = Organization(
            name=g.name,
            name_local=g.name_zh,
            slug=slug,
            is_provider=g.is_provider,
            is_buyer=g.is_buyer,
            country=g.country,
        )
    session.add_all(orgs.values())
    session.flush()
    _demo_accounts(session, cluster, orgs, used)
    progress.advance(task)  # type: ignore[arg-type]

    step("sites")
    sites: dict[str, Site] = {}
    for s in cluster.sites:
        sites[s.key] = Site(
            organization_id=orgs[s.org_key].id,
            name=s.name,
            city=s.city,
            region=s.region,
            latitude=s.latitude,
            longitude=s.longitude,
            timezone=s.timezone,
        )
    session.add_all(sites.values())
    session.flush()
    progress.advance(task)  # type: ignore[arg-type]

    step("resources")
    resources: dict[str, Resource] = {}
    for r in cluster.resources:
        site = sites[r.site_key]
        resources[r.key] = Resource(
            organization_id=site.organization_id,
            site_id=site.id,
            name=r.name,
            kind=r.kind,
            resource_class=r.resource_class,
            hourly_rate_minor=r.hourly_rate_minor,
            currency=r.currency,
            capabilities=[
                ResourceCapability(
                    capability_code=c.code,
                    materials=list(c.materials),
                    max_envelope_mm=list(c.max_envelope_mm) if c.max_envelope_mm else None,
                    tolerance_um=c.tolerance_um,
                    certifications=list(c.certifications),
                )
                for c in r.capabilities
            ],
        )
    session.add_all(resources.values())
    session.flush()
    progress.advance(task)  # type: ignore[arg-type]

    step("capacity windows")
    session.add_all(
        CapacityWindow(
            organization_id=resources[w.resource_key].organization_id,
            resource_id=resources[w.resource_key].id,
            starts_at=at(w.start_min),
            ends_at=at(w.end_min),
            note="shift",
        )
        for w in cluster.windows
    )
    session.flush()
    progress.advance(task)  # type: ignore[arg-type]

    step("orders")
    for o in cluster.orders:
        session.add(
            Order(
                organization_id=orgs[o.buyer_org_key].id,
                reference=o.reference,
                title=o.title,
                product_family=o.product_family,
                material=o.material,
                quantity=o.quantity,
                release_at=at(o.release_min),
                due_at=at(o.due_min),
                weight=o.weight,
                budget_minor=o.budget_minor,
                currency=o.currency,
                operations=[
                    Operation(
                        seq=op.seq,
                        name=op.name,
                        capability_code=op.capability_code,
                        quantity=o.quantity,
                        setup_minutes=op.setup_minutes,
                        unit_seconds=op.unit_seconds,
                        class_unit_seconds=dict(op.class_unit_seconds),
                        predecessors=list(op.predecessors),
                        material=op.material or o.material,
                        interruptible=op.interruptible,
                    )
                    for op in o.operations
                ],
            )
        )
    session.flush()
    progress.advance(task)  # type: ignore[arg-type]


def write_cluster(session: Session, cluster: Cluster, horizon_start: datetime) -> None:
    """Write `cluster` with its minute 0 at `horizon_start`, in the caller's transaction and
    without a progress bar (the simulator seeds its own database with it)."""
    progress = Progress(disable=True)
    task = progress.add_task("seeding", total=6)
    _write(session, cluster, horizon_start, progress, task)
