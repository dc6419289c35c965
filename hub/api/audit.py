"""``/api/v1/audit``: the organization's audit trail, newest first, for scripts and SIEMs."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import Parameter

from hub.api.deps import DEPS
from hub.state import HubState
from hub.tenants import audit
from hub.tenants.accounts import Principal


@get("/api/v1/audit", dependencies=DEPS, summary="The organization's audit trail, newest first")
async def list_audit(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    before: Annotated[
        int | None, Parameter(ge=1, le=2**62, description="an entry id: older entries only")
    ] = None,
    limit: Annotated[int, Parameter(ge=1, le=1000)] = audit.PAGE_SIZE,
) -> list[audit.AuditEntry]:
    """Who did what, when, to which target: device enrolments and revocations, token creation,
    imports, sign-outs everywhere, password and role changes.  Every member may read it."""
    async with hub.db.tenant(principal.org_id) as conn:
        return await audit.recent(conn, limit=limit, before=before)


ROUTES = [list_audit]
