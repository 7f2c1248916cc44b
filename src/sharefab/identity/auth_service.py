"""Use cases of signing in: passwords, access and refresh tokens, API keys, login throttling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sharefab.identity import security
from sharefab.identity.models import (
    ApiKey,
    LoginThrottle,
    Membership,
    Organization,
    RefreshToken,
    Role,
    User,
)
from sharefab.identity.principal import SCOPES, Principal
from sharefab.kit.errors import Forbidden, InvalidInput, NotFound, Unauthorized, field_error
from sharefab.kit.settings import get_settings
from sharefab.kit.types import utcnow

FREE_FAILURES = 5  # consecutive failures before the delay starts growing
MAX_DELAY_S = 300


@dataclass(frozen=True)
class TokenPair:
    """What a successful sign-in or refresh gives."""

    access_token: str
    refresh_token: str
    expires_in: int
    organization_id: int


@dataclass(frozen=True)
class LoginRefusal:
    """Why a sign-in was refused; `retry_after` is set when the account is throttled."""

    detail: str
    retry_after: int | None = None


def _membership(session: Session, user_id: int, organization_id: int | None) -> Membership | None:
    stmt = select(Membership).where(Membership.user_id == user_id).order_by(Membership.id)
    if organization_id is not None:
        stmt = stmt.where(Membership.organization_id == organization_id)
    return session.scalars(stmt).first()


def _throttle(session: Session, email: str, now: datetime) -> LoginThrottle:
    row = session.get(LoginThrottle, email)
    if row is None:
        row = LoginThrottle(
            email=email, window_started_at=now, failures_in_window=0, consecutive_failures=0
        )
        session.add(row)
    elif now - row.window_started_at >= timedelta(hours=1):
        row.window_started_at, row.failures_in_window = now, 0
    return row


def _wait_needed(row: LoginThrottle, now: datetime) -> int:
    """Seconds the account must wait before the next try (0: it may try now)."""
    limit = get_settings().max_failed_logins_per_hour
    if row.failures_in_window >= limit:
        return max(1, int((row.window_started_at + timedelta(hours=1) - now).total_seconds()))
    if row.consecutive_failures >= FREE_FAILURES and row.last_failure_at is not None:
        delay = min(2 ** (row.consecutive_failures - FREE_FAILURES), MAX_DELAY_S)
        remaining = (row.last_failure_at + timedelta(seconds=delay) - now).total_seconds()
        if remaining > 0:
            return max(1, int(remaining + 0.999))
    return 0


def login(
    session: Session, email: str, password: str, organization_id: int | None = None
) -> TokenPair | LoginRefusal:
    """Check a password and issue tokens; failures are counted per account and slowed down.

    A refusal is returned (not raised) so the caller's transaction keeps the failure count.
    """
    outcome = authenticate(session, email, password, organization_id)
    if isinstance(outcome, LoginRefusal):
        return outcome
    return _issue(session, *outcome)


def authenticate(
    session: Session, email: str, password: str, organization_id: int | None = None
) -> tuple[int, int] | LoginRefusal:
    """(user id, organisation id) when the password is right and the account may sign in."""
    now = utcnow()
    email = email.strip().lower()
    throttle = _throttle(session, email, now)
    wait = _wait_needed(throttle, now)
    if wait:
        session.flush()
        return LoginRefusal(
            f"too many failed sign-ins for this account; wait {wait} s and try again", wait
        )
    user = session.scalar(select(User).where(User.email == email))
    ok = security.verify_password(user.password_hash if user else None, password)
    member = _membership(session, user.id, organization_id) if user and ok else None
    if not (user and ok and user.is_active and member):
        throttle.failures_in_window += 1
        throttle.consecutive_failures += 1
        throttle.last_failure_at = now
        session.flush()
        if user and ok and organization_id is not None and member is None:
            return LoginRefusal(f"you are not a member of organization {organization_id}")
        return LoginRefusal("wrong e-mail or password (or the account is disabled)")
    throttle.consecutive_failures = 0
    return user.id, member.organization_id


def _issue(session: Session, user_id: int, organization_id: int) -> TokenPair:
    settings = get_settings()
    refresh = security.new_secret()
    session.add(
        RefreshToken(
            user_id=user_id,
            organization_id=organization_id,
            token_hash=security.digest(refresh),
            expires_at=utcnow() + timedelta(days=settings.refresh_token_days),
        )
    )
    session.flush()
    return TokenPair(
        access_token=security.issue_access_token(user_id, organization_id),
        refresh_token=refresh,
        expires_in=settings.access_token_minutes * 60,
        organization_id=organization_id,
    )


def refresh(session: Session, refresh_token: str) -> TokenPair:
    """Trade a live refresh token for new tokens; the old one is revoked (rotation)."""
    row = session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == security.digest(refresh_token))
    )
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized("the refresh token is unknown, revoked or expired; sign in again")
    user = session.get(User, row.user_id)
    if (
        user is None
        or not user.is_active
        or not _membership(session, row.user_id, row.organization_id)
    ):
        raise Unauthorized("the account behind this refresh token is disabled; sign in again")
    row.revoked_at = now
    return _issue(session, row.user_id, row.organization_id)


def logout(session: Session, refresh_token: str) -> None:
    """Revoke a refresh token (unknown tokens are ignored: logging out twice is fine)."""
    row = session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == security.digest(refresh_token))
    )
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()


def principal_for(session: Session, user_id: int, organization_id: int) -> Principal:
    """The principal of a user acting for an organisation; Unauthorized if no longer valid.

    One query (user, membership and organisation joined): it runs on every request.
    """
    row = session.execute(
        select(User, Membership, Organization)
        .join(Membership, Membership.user_id == User.id)
        .join(Organization, Organization.id == Membership.organization_id)
        .where(User.id == user_id, Membership.organization_id == organization_id)
        .order_by(Membership.id)
        .limit(1)
    ).first()
    if row is None or not row[0].is_active:
        raise Unauthorized("the account behind this token is disabled or left the organisation")
    user, member, org = row
    return Principal(
        organization_id=org.id,
        role=member.role,
        is_operator=org.is_operator,
        is_provider=org.is_provider,
        is_buyer=org.is_buyer,
        user_id=user.id,
    )


def principal_from_token(session: Session, token: str) -> Principal:
    """The principal behind a bearer access token."""
    try:
        claims = security.decode_access_token(token)
    except security.InvalidToken as exc:
        raise Unauthorized(f"the access token is not valid ({exc}); sign in again") from None
    return principal_for(session, claims.user_id, claims.organization_id)


def principal_from_api_key(session: Session, key: str) -> Principal:
    """The principal behind an API key."""
    prefix = security.split_api_key(key)
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix)) if prefix else None
    if row is None or row.revoked_at is not None or not security.same_digest(key, row.key_hash):
        raise Unauthorized("the API key is unknown or revoked; create a new one")
    org = session.get(Organization, row.organization_id)
    if org is None:
        raise Unauthorized("the API key's organisation no longer exists")
    return Principal(
        organization_id=org.id,
        role=Role.member,
        is_operator=False,
        is_provider=org.is_provider,
        is_buyer=org.is_buyer,
        api_key_id=row.id,
        scopes=frozenset(row.scopes),
    )


def create_api_key(
    session: Session, principal: Principal, name: str, scopes: list[str]
) -> tuple[ApiKey, str]:
    """A new API key for the caller's organisation (admins only); the key is shown once."""
    if not principal.is_admin or principal.api_key_id is not None:
        raise Forbidden("only an admin of the organisation can create API keys")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise InvalidInput(
            f"unknown scope {unknown[0]!r}; choose from {', '.join(SCOPES)}",
            errors=[field_error("body.scopes", f"unknown scope {unknown[0]!r}")],
        )
    key, prefix, key_hash = security.new_api_key()
    row = ApiKey(
        organization_id=principal.organization_id,
        created_by_user_id=principal.user_id,
        name=name,
        prefix=prefix,
        key_hash=key_hash,
        scopes=sorted(set(scopes)),
    )
    session.add(row)
    session.flush()
    return row, key


def revoke_api_key(session: Session, principal: Principal, key_id: int) -> ApiKey:
    """Revoke one of the organisation's API keys."""
    row = session.get(ApiKey, key_id)
    if row is None or not principal.owns(row.organization_id):
        raise NotFound(f"API key {key_id} does not exist")
    if not principal.is_admin or principal.api_key_id is not None:
        raise Forbidden("only an admin of the organisation can revoke API keys")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row
