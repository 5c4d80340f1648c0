"""Helpers for the console's HTTP tests: a person signed in, with its own cookies."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import utcnow
from app.core.db import dialect_insert
from app.identity import sessions, tokens
from app.identity.models import CharterAcceptance, ConsoleSession, User
from tests.api import Caller
from tests.databases import SECRET_KEY

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: str) -> str:
    """The CSRF token of the first form of a page."""
    found = CSRF_INPUT.search(page)
    assert found, "the page has no form with a CSRF token"
    return html.unescape(found[1])


def text_of(page: str) -> str:
    """A page's visible text, tags removed and spaces folded (for assertions)."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


@dataclass
class Person:
    """A browser of one person: its own cookie jar on the test's app."""

    client: httpx.AsyncClient
    caller: Caller | None
    csrf: str = ""

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, **kwargs)

    async def post(
        self,
        path: str,
        data: Mapping[str, Any] | list[tuple[str, str]] | None = None,
        *,
        htmx: bool = False,
        csrf: bool = True,
    ) -> httpx.Response:
        """A form posted as a browser posts it, with the session's CSRF token."""
        fields = list(data.items()) if isinstance(data, Mapping) else list(data or [])
        if csrf:
            fields.append(("csrf_token", self.csrf))
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if htmx:
            headers["HX-Request"] = "true"
        body = urlencode([(k, str(v)) for k, v in fields])
        return await self.client.post(path, content=body, headers=headers)


def browser(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gpo.test")


async def open_session_for(
    app: FastAPI,
    caller: Caller,
    purpose: str | None = "follow_up",
    *,
    accept_charter: bool = True,
) -> tuple[str, str]:
    """A console session for the caller's user, made as signing in makes it (set-up that
    skips the password's slow hashing), having said why it reads police data (`purpose`;
    None: not yet, the console asks); returns the cookie's secret and the CSRF token.
    The person has accepted the current charter, unless `accept_charter` is False (the
    charter's own tests)."""
    async with app.state.database.session(write=True) as session:
        user = await session.get_one(User, uuid.UUID(caller.id))
        secret = await sessions.open_session(
            session, user, SECRET_KEY, address="testclient", user_agent="tests"
        )
        session_id, csrf = (
            await session.execute(
                select(ConsoleSession.id, ConsoleSession.csrf_token).where(
                    ConsoleSession.secret_hash == tokens.token_hash(SECRET_KEY, secret)
                )
            )
        ).one()
        if accept_charter:
            await accept_charter_for(session, user.id, app.state.charter.version, session_id)
        await session.execute(
            update(ConsoleSession)
            .where(ConsoleSession.id == session_id)
            .values(access_purpose=purpose)
        )
        await session.commit()
    assert csrf is not None
    return secret, csrf


async def accept_charter_for(
    session: AsyncSession, user_id: uuid.UUID, version: str, session_id: uuid.UUID | None = None
) -> None:
    """Set-up: the person accepted this version of the charter (as the charter page records
    it, without its audit event)."""
    insert = dialect_insert(session)
    await session.execute(
        insert(CharterAcceptance)
        .values(
            id=uuid.uuid4(),
            user_id=user_id,
            version=version,
            accepted_at=utcnow(),
            session_id=session_id,
        )
        .on_conflict_do_nothing(index_elements=["user_id", "version"])
    )
