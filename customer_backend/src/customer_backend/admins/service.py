"""Admins: who receives email and who may use the Control Tower."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from customer_backend.admins.models import Admin, AdminRole
from servicekit.auth import generate_token, hash_token
from servicekit.errors import Conflict, InvalidInput, NotFound
from timekeeping import Clock

ADMIN_TOKEN_PREFIX = "ct_"  # noqa: S105 - a prefix, not a secret


async def create_admin(
    session: AsyncSession,
    *,
    clock: Clock,
    email: str,
    name: str,
    role: str = AdminRole.ADMIN,
) -> tuple[Admin, str]:
    """Create an admin and return it with its Control Tower token (shown only now).

    ``role`` is ``admin`` or ``support`` (the vendor's team, who alone change the essential
    configuration through the Control Tower).
    """
    if role not in set(AdminRole):
        roles = ", ".join(AdminRole)
        raise InvalidInput(f"'{role}' is not a role; the roles are {roles}", field="role")
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise InvalidInput(f"'{email}' is not an email address", field="email")
    if not name.strip():
        raise InvalidInput("a name is required", field="name")
    existing = await session.exec(select(Admin).where(Admin.email == email))
    if existing.first() is not None:
        raise Conflict(f"an admin with email {email} exists already", field="email")
    token = generate_token(ADMIN_TOKEN_PREFIX)
    admin = Admin(
        email=email,
        name=name.strip(),
        role=str(AdminRole(role)),
        token_hash=hash_token(token),
        created_at=clock.now(),
    )
    session.add(admin)
    await session.flush()
    return admin, token


async def find_admin(session: AsyncSession, *, email: str) -> Admin | None:
    """The admin with this email (active or not), if any."""
    result = await session.exec(select(Admin).where(Admin.email == email.strip().lower()))
    return result.first()


async def active_admin(session: AsyncSession, *, email: str) -> Admin:
    """The active admin with this email, on whose behalf a command acts; 404 otherwise, so
    that every change made at the command line names an admin who could have made it in the
    Control Tower."""
    admin = await find_admin(session, email=email)
    if admin is None or not admin.is_active:
        raise NotFound(f"No active admin has the email {email}.", field="by")
    return admin


async def list_admins(session: AsyncSession) -> Sequence[Admin]:
    """Every admin, active first, then by email."""
    result = await session.exec(
        select(Admin).order_by(col(Admin.is_active).desc(), col(Admin.email))
    )
    return result.all()


async def active_admin_emails(session: AsyncSession) -> list[str]:
    """The addresses that receive deployment email."""
    result = await session.exec(
        select(Admin.email).where(col(Admin.is_active)).order_by(col(Admin.email))
    )
    return list(result.all())


async def deactivate_admin(session: AsyncSession, *, clock: Clock, email: str) -> Admin:
    """Stop an admin's email and revoke the token."""
    result = await session.exec(select(Admin).where(Admin.email == email.strip().lower()))
    admin = result.first()
    if admin is None:
        raise NotFound(f"no admin with email {email}", field="email")
    if admin.is_active:
        admin.is_active = False
        admin.deactivated_at = clock.now()
        session.add(admin)
        await session.flush()
    return admin
