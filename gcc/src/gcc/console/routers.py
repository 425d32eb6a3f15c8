"""Every router of the operator console, in the order they are mounted."""

from __future__ import annotations

from fastapi import APIRouter


def console_routers() -> list[APIRouter]:
    """The console's pages: sign-in first, then the fleet and the rest."""
    from gcc.console.artifact_endpoints import router as artifact_router
    from gcc.console.audit_endpoints import router as audit_router
    from gcc.console.escalation_endpoints import router as escalation_router
    from gcc.console.fleet_endpoints import router as fleet_router
    from gcc.console.organization_endpoints import router as organization_router
    from gcc.console.release_endpoints import router as release_router
    from gcc.console.signin_endpoints import router as signin_router

    return [
        signin_router,
        fleet_router,
        organization_router,
        release_router,
        escalation_router,
        audit_router,
        artifact_router,
    ]
