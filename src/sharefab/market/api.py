"""Routes: quotes of an order, accepting a quote, the order's bookings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Response, status

from sharefab.identity.deps import CurrentPrincipal, scoped
from sharefab.jobs import service as jobs
from sharefab.jobs.deps import RunnerDep
from sharefab.jobs.models import JobTrigger
from sharefab.jobs.schemas import JobPublic
from sharefab.kit.api import PROBLEM_RESPONSES, SessionDep, read_first
from sharefab.kit.errors import Forbidden, InvalidInput, field_error
from sharefab.kit.idempotency import IdempotencyDep
from sharefab.kit.settings import get_settings
from sharefab.market import lifecycle, reoptimise_job, service
from sharefab.market.schemas import (
    AcceptedPublic,
    BookingPublic,
    DisputeIn,
    OrderStatePublic,
    QuotePublic,
    ResolveIn,
)
from sharefab.orders import service as orders
from sharefab.reputation.schemas import RatingCreate, RatingPublic

router = APIRouter(
    tags=["market"], responses=PROBLEM_RESPONSES, dependencies=[Depends(scoped("orders"))]
)


@router.post("/orders/{order_id}/quotes", status_code=status.HTTP_201_CREATED)
@read_first
def request_quotes(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, order_id: int
) -> list[QuotePublic]:
    """Up to three options (fastest, cheapest, balanced) with price, date and explanation."""
    # The solve reads a snapshot without the write lock; the quotes are stored after it.
    return idem.run_read_first(
        lambda: service.plan_quotes(session, principal, order_id),
        lambda plan: [
            QuotePublic.model_validate(q) for q in service.record_quotes(session, principal, plan)
        ],
    )


@router.get("/orders/{order_id}/quotes")
def list_quotes(
    session: SessionDep, principal: CurrentPrincipal, order_id: int
) -> list[QuotePublic]:
    """An order's quotes, newest first."""
    return [
        QuotePublic.model_validate(q) for q in service.list_quotes(session, principal, order_id)
    ]


@router.get("/quotes/{quote_id}")
def get_quote(session: SessionDep, principal: CurrentPrincipal, quote_id: int) -> QuotePublic:
    """One quote."""
    return QuotePublic.model_validate(service.get_quote(session, principal, quote_id))


@router.post("/quotes/{quote_id}/accept", status_code=status.HTTP_201_CREATED)
def accept_quote(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, quote_id: int
) -> AcceptedPublic:
    """Book every slot of the quote at once (or none), fund the escrow, schedule the order."""

    def accept() -> AcceptedPublic:
        quote, bookings = service.accept_quote(session, principal, quote_id)
        order = orders.get_order(session, principal, quote.order_id)
        return AcceptedPublic(
            quote=QuotePublic.model_validate(quote),
            order_status=order.status.value,
            bookings=[BookingPublic.model_validate(b) for b in bookings],
        )

    return idem.run(accept)


@router.get("/orders/{order_id}/bookings")
def order_bookings(
    session: SessionDep, principal: CurrentPrincipal, order_id: int
) -> list[BookingPublic]:
    """The order's bookings (its tentative plan made real), by start."""
    order = orders.get_order(session, principal, order_id)
    return [BookingPublic.model_validate(b) for b in service.order_bookings(session, order.id)]


@router.post("/orders/{order_id}/cancel")
def cancel_order(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, order_id: int
) -> OrderStatePublic:
    """Cancel: bookings not started are released; the escrow is refunded by rule."""
    return idem.run(
        lambda: OrderStatePublic.model_validate(lifecycle.cancel(session, principal, order_id)),
        status_code=200,
    )


@router.post("/orders/{order_id}/confirm-delivery")
def confirm_delivery(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, order_id: int
) -> OrderStatePublic:
    """The buyer confirms the parts arrived."""
    return idem.run(
        lambda: OrderStatePublic.model_validate(
            lifecycle.confirm_delivery(session, principal, order_id)
        ),
        status_code=200,
    )


@router.post("/orders/{order_id}/close")
def close_order(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, order_id: int
) -> OrderStatePublic:
    """Close a delivered order and settle its escrow (once)."""
    return idem.run(
        lambda: OrderStatePublic.model_validate(lifecycle.close(session, principal, order_id)),
        status_code=200,
    )


@router.post("/orders/{order_id}/dispute")
def dispute_order(
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: IdempotencyDep,
    order_id: int,
    body: DisputeIn,
) -> OrderStatePublic:
    """The buyer disputes the work; the operator resolves it."""
    return idem.run(
        lambda: OrderStatePublic.model_validate(
            lifecycle.dispute(session, principal, order_id, body.reason)
        ),
        status_code=200,
    )


@router.post("/orders/{order_id}/resolve")
def resolve_dispute(
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: IdempotencyDep,
    order_id: int,
    body: ResolveIn,
) -> OrderStatePublic:
    """The operator resolves a dispute: close and settle, or cancel and refund."""
    return idem.run(
        lambda: OrderStatePublic.model_validate(
            lifecycle.resolve(session, principal, order_id, body.outcome)
        ),
        status_code=200,
    )


@router.post("/ratings", status_code=status.HTTP_201_CREATED)
def rate(
    session: SessionDep, principal: CurrentPrincipal, idem: IdempotencyDep, body: RatingCreate
) -> RatingPublic:
    """Rate the other side of a finished order (buyer -> provider, provider -> buyer)."""

    def produce() -> Any:
        rating = lifecycle.rate(
            session, principal, body.order_id, body.ratee_organization_id, body.score, body.comment
        )
        return RatingPublic.model_validate(rating)

    return idem.run(produce)


@router.post(
    "/plans/reoptimise",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobPublic,
    responses={
        202: {
            "description": "The job is queued; follow it at the `Location` (GET /jobs/{id})",
            "headers": {"Location": {"description": "The job", "schema": {"type": "string"}}},
        }
    },
)
@read_first
def reoptimise(
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: IdempotencyDep,
    runner: RunnerDep,
    response: Response,
    background: BackgroundTasks,
    time_limit: Annotated[
        float | None,
        Query(
            gt=0,
            description="Solver seconds (at most the server's max_solver_seconds; default its "
            "reoptimise_seconds)",
            json_schema_extra={"maximum": get_settings().max_solver_seconds},
        ),
    ] = None,
    search: Annotated[
        bool,
        Query(
            description="After the list-scheduling passes, hand a plan that still leaves orders "
            "late to the cluster planner's search for the rest of the time (the server's "
            "reoptimise_search setting may turn it on for every job)",
        ),
    ] = False,
) -> Any:
    """Operator: start a re-optimisation job that re-places every booking not yet started to
    cut lateness and cost while keeping promised dates. Answers 202 with the job at once
    (follow it at `Location`; cancel with POST /jobs/{id}/cancel); its result reports what
    moved and which promised dates changed. 409 names the job already queued or running."""
    if not principal.is_operator:
        raise Forbidden("only the platform operator re-optimises the plan")
    cap = get_settings().max_solver_seconds
    if time_limit is not None and not time_limit <= cap:  # also refuses inf
        raise InvalidInput(
            f"time_limit {time_limit} s is more solver time than the server allows "
            f"({cap:g} s); ask for less",
            errors=[field_error("query.time_limit", f"at most {cap:g}")],
        )

    def free() -> None:  # on the read snapshot: a second start is refused at once
        jobs.ensure_free(
            session, reoptimise_job.KIND, stale_after=runner.stale_seconds, spare=runner.local_ids()
        )

    def start(_: None) -> JobPublic:  # in the short write transaction
        job = jobs.start_job(
            session,
            reoptimise_job.KIND,
            reoptimise_job.params(time_limit, search),
            principal=principal,
            trigger=JobTrigger.api,
            stale_after=runner.stale_seconds,
            spare=runner.local_ids(),
        )
        return JobPublic.model_validate(job)

    answer = idem.run_read_first(free, start, status_code=status.HTTP_202_ACCEPTED)
    if isinstance(answer, JobPublic):  # not a replayed or refused answer
        background.add_task(runner.submit, answer.id)  # after the commit, off the request
        response.headers["Location"] = f"/api/v1/jobs/{answer.id}"
    return answer
