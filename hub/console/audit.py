"""An organization's audit trail: who enrolled or revoked a device, imported, created a token, …"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template

from hub.console.auth import OrgAccess
from hub.console.render import render
from hub.state import state_of
from hub.tenants import audit


@get("/console/{org:str}/audit", include_in_schema=False)
async def audit_page(
    request: Request[Any, Any, Any],
    access: NamedDependency[OrgAccess],
    before: Annotated[int | None, QueryParameter(ge=1, le=2**62)] = None,
) -> Template:
    """Newest first, a page at a time; every member may read it (viewers too: it hides nothing they
    could not see elsewhere in the console, and a viewer is often the one who checks)."""
    async with state_of(request).db.tenant(access.principal.org_id) as conn:
        entries = await audit.recent(conn, limit=audit.PAGE_SIZE, before=before)
    next_before = entries[-1].id if len(entries) == audit.PAGE_SIZE else None
    return render("audit.html", {"access": access, "entries": entries, "next_before": next_before})


AUDIT_ROUTES = [audit_page]
