"""The TUI's one way to the appliance: its HTTP API and its live feed, as the web pages use them.

The TUI holds no business rules, so everything it shows or changes goes through
here.  Two kinds of failure are kept apart because staff must read them
differently: :class:`ApiError` is the appliance answering "no" (a wrong PIN, a
revoked badge, an invalid form field) and the screen shows its message where the
action was; :class:`Unreachable` is the appliance not answering at all (restarting,
cable pulled), which the header shows as the link state while the app keeps what
is on screen and tries again by itself.  Every call reports the link state to a
listener, so any request, not only the heartbeat, notices a box that went away
or came back.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from kiosk_ui.api_errors import ApiError, api_error

__all__ = ["ApiError", "ApplianceClient", "LinkState", "Staff", "Unreachable"]

LinkState = Literal["connecting", "up", "down"]

#: Seconds a request may take before the appliance counts as not answering.
TIMEOUT_S = 10.0
#: Topics the TUI follows on the live feed.
LIVE_TOPICS = "print,scan"


class Unreachable(Exception):
    """The appliance did not answer (connection refused, reset or timed out)."""


@dataclass(frozen=True)
class Staff:
    """Who is signed in: what the login answered."""

    token: str
    staff_id: str
    name: str
    role: str
    expires_at_s: float


class ApplianceClient:
    """An async client of one appliance, signed in as one member of staff (or not yet).

    ``on_link`` hears ``"up"`` after every answer and ``"down"`` after every
    request that got none; the app turns that into its header and its reconnects.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = TIMEOUT_S,
        on_link: Callable[[LinkState], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.staff: Staff | None = None
        self._on_link = on_link
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, transport=transport, follow_redirects=False
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.staff.token}"} if self.staff else {}

    def _link(self, state: LinkState) -> None:
        if self._on_link is not None:
            self._on_link(state)

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The answer of a success; :class:`ApiError` for a refusal, :class:`Unreachable` for silence."""
        try:
            response = await self._http.request(method, path, headers=self._headers(), **kwargs)
        except (httpx.TransportError, OSError) as exc:
            self._link("down")
            raise Unreachable(
                f"the appliance at {self.base_url} does not answer ({type(exc).__name__})"
            ) from exc
        self._link("up")
        if response.status_code >= 400:
            raise api_error(response)
        return response

    async def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return (await self.request("GET", path, params=clean)).json()

    async def post(self, path: str, body: Any = None) -> Any:
        response = await self.request("POST", path, json=body if body is not None else {})
        return response.json() if response.content else None

    async def patch(self, path: str, body: Any) -> Any:
        return (await self.request("PATCH", path, json=body)).json()

    # --- signing in -------------------------------------------------------------------------

    async def sign_in(self, name: str, secret: str) -> Staff:
        """Sign in with name and PIN; the appliance's own lock-out rules apply (``ApiError``)."""
        self.staff = None
        body = await self.post("/api/v1/auth/login", {"name": name, "secret": secret})
        self.staff = Staff(
            token=str(body["token"]),
            staff_id=str(body["staff_id"]),
            name=str(body["name"]),
            role=str(body["role"]),
            expires_at_s=float(body["expires_at"]),
        )
        return self.staff

    def sign_out(self) -> None:
        self.staff = None

    async def ping(self) -> dict[str, Any]:
        """``/healthz``: answers while the box is up, signed in or not (the heartbeat)."""
        return dict(await self.get("/healthz"))

    # --- the live feed ----------------------------------------------------------------------

    async def live(self, topics: str = LIVE_TOPICS) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Events of the live feed as ``(topic, payload)``, until the stream ends or breaks.

        The caller reconnects (and re-reads what it shows: events missed while away
        are not replayed, the API is the truth).  Raises :class:`Unreachable` when the
        stream cannot be opened or breaks, :class:`ApiError` when it is refused.
        """
        try:
            async with self._http.stream(
                "GET", "/api/v1/live", params={"topics": topics}, headers=self._headers(), timeout=None
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise api_error(response)
                self._link("up")
                topic, data = "message", list[str]()
                async for line in response.aiter_lines():
                    if line.startswith(":"):
                        continue
                    if not line:
                        if data:
                            with contextlib.suppress(ValueError):
                                payload = json.loads("\n".join(data))
                                if isinstance(payload, dict):
                                    yield topic, payload
                        topic, data = "message", list[str]()
                    elif line.startswith("event:"):
                        topic = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip())
        except (httpx.TransportError, OSError) as exc:
            self._link("down")
            raise Unreachable(f"the live feed of {self.base_url} broke ({type(exc).__name__})") from exc
