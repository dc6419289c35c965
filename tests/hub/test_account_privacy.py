"""A curious tenant cannot read other organizations' accounts, nor anyone's password hash.

Requests for an organization run as the ``konferenco_tenant`` role
(``Database.tenant``).  Before migration 0005 that role could ``SELECT``
every account's e-mail and scrypt hash; now it sees the e-mail and name of
its own organization's members only, and no hash at all.  Sign-in, which
runs as the system role, still works.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hub.tenants.accounts import LoginLimiter, OrgRole, add_member, create_account, sign_in
from tests.hub.services import PASSWORD, hub_services, organization


async def test_the_tenant_role_sees_only_its_members_and_no_password_hash(
    hub_db: str, tmp_path: Path
) -> None:
    async with hub_services(hub_db, tmp_path / "secrets") as hub:
        acme = await organization(hub, "acme")
        globex = await organization(hub, "globex")
        async with hub.db.system() as conn:
            await create_account(conn, "viewer@acme.example", PASSWORD)
            await add_member(conn, acme.org_id, "viewer@acme.example", OrgRole.VIEWER)
            await create_account(conn, "loner@nowhere.example", PASSWORD)  # in no organization

        async with hub.db.tenant(acme.org_id) as conn:
            emails = set((await conn.execute(text("SELECT email FROM account"))).scalars())
        assert emails == {"owner@acme.example", "viewer@acme.example"}

        async with hub.db.tenant(acme.org_id) as conn:  # by id, by e-mail, by join: still nothing
            found = await conn.execute(
                text(
                    "SELECT count(*) FROM account"
                    " WHERE id = :g OR email LIKE '%globex%' OR email LIKE 'loner%'"
                ),
                {"g": globex.account_id},
            )
            assert found.scalar_one() == 0

        for query in (
            "SELECT password_hash FROM account",
            "SELECT * FROM account",
            "SELECT count(*) FROM account WHERE password_hash LIKE 'scrypt%'",
        ):
            with pytest.raises(DBAPIError, match="permission denied"):
                async with hub.db.tenant(acme.org_id) as conn:
                    await conn.execute(text(query))

        for write in (
            "UPDATE account SET email = 'x@y.example'",
            "DELETE FROM account",
            "INSERT INTO account (email, password_hash) VALUES ('a@b.example', 'x')",
        ):
            with pytest.raises(DBAPIError, match="permission denied"):
                async with hub.db.tenant(acme.org_id) as conn:
                    await conn.execute(text(write))

        # A transaction that names no organization sees no account at all.
        async with hub.db.engine.begin() as conn:
            await conn.execute(text("SELECT set_config('role', 'konferenco_tenant', true)"))
            assert (await conn.execute(text("SELECT count(*) FROM account"))).scalar_one() == 0

        # Nor can the tenant role reach the tables that hold sessions and sign-in failures.
        for table in ("console_session", "login_failure"):
            with pytest.raises(DBAPIError, match="permission denied"):
                async with hub.db.tenant(acme.org_id) as conn:
                    await conn.execute(text(f"SELECT * FROM {table}"))

        # The system role, which signs in, still reads the hash.
        account = await sign_in(hub.db, LoginLimiter(), "loner@nowhere.example", PASSWORD, "127.0.0.1")
        assert account
