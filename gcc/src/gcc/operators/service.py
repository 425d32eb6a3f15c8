"""Named operators: add, list, deactivate.

An operator is identified by their email address, stored lowercased. Deactivating one ends
their console sessions at once; the row stays, so the audit trail keeps naming them.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from consolekit.sessions import end_sessions_of
from contracts import AuditAction, OperatorRole, OperatorView
from gcc.audit import service as audit_service
from gcc.audit.service import Actor
from gcc.operators import repository
from gcc.operators.models import Operator, OperatorSession
from servicekit.errors import Conflict, InvalidInput, NotFound
from timekeeping import Clock

log = structlog.get_logger(__name__)

MAX_OPERATOR_NAME_LENGTH = 200


def normalise_email(email: str) -> str:
    """The stored form of an address; 422 for text that is no address."""
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or any(character.isspace() for character in email):
        raise InvalidInput(f"{email!r} is not an email address.", field="email")
    if len(email) > 320:
        raise InvalidInput("The email address is longer than 320 characters.", field="email")
    return email


def operator_view(operator: Operator) -> OperatorView:
    """The public view of an operator."""
    return OperatorView(
        id=operator.id,
        email=operator.email,
        name=operator.name,
        role=OperatorRole(operator.role),
        is_active=operator.is_active,
        created_at=operator.created_at,
        deactivated_at=operator.deactivated_at,
    )


async def add_operator(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Actor,
    email: str,
    name: str,
    role: OperatorRole = OperatorRole.OPERATOR,
) -> Operator:
    """Add a named operator; an address held already (active or not) is a 409."""
    email = normalise_email(email)
    name = name.strip()
    if not name or len(name) > MAX_OPERATOR_NAME_LENGTH:
        raise InvalidInput(
            f"The name must have 1 to {MAX_OPERATOR_NAME_LENGTH} characters.", field="name"
        )
    if await repository.get_by_email(session, email) is not None:
        raise Conflict(f"An operator with the address {email} exists already.", field="email")
    operator = Operator(email=email, name=name, role=str(role), created_at=clock.now())
    session.add(operator)
    try:
        await session.flush()
    except IntegrityError as exc:  # added twice at once: the unique index decides
        raise Conflict(
            f"An operator with the address {email} exists already.", field="email"
        ) from exc
    await audit_service.record(
        session,
        clock=clock,
        actor=actor,
        action=AuditAction.OPERATOR_ADD,
        details={"email": email, "name": name, "role": str(role)},
    )
    log.info("operators.add.succeeded", email=email, role=str(role))
    return operator


async def list_operators(session: AsyncSession) -> Sequence[Operator]:
    """Every operator, active ones first."""
    return await repository.list_all(session)


async def get_active_operator(session: AsyncSession, *, email: str) -> Operator | None:
    """The active operator of that address, or None (unknown and deactivated alike)."""
    try:
        email = normalise_email(email)
    except InvalidInput:
        return None
    operator = await repository.get_by_email(session, email)
    return operator if operator is not None and operator.is_active else None


async def deactivate_operator(
    session: AsyncSession, *, clock: Clock, actor: Actor, email: str
) -> Operator:
    """Stop an operator from signing in and end their sessions; twice is a 409."""
    email = normalise_email(email)
    operator = await repository.get_by_email(session, email)
    if operator is None:
        raise NotFound(f"There is no operator with the address {email}.", field="email")
    if not operator.is_active:
        raise Conflict(f"The operator {email} is deactivated already.", field="email")
    now = clock.now()
    operator.is_active = False
    operator.deactivated_at = now
    session.add(operator)
    await end_sessions_of(session, table=OperatorSession, clock=clock, principal_id=operator.id)
    await session.flush()
    await audit_service.record(
        session,
        clock=clock,
        actor=actor,
        action=AuditAction.OPERATOR_DEACTIVATE,
        details={"email": email},
    )
    log.info("operators.deactivate.succeeded", email=email)
    return operator
