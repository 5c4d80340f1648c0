"""Everything a page loads comes from the service itself (police networks have no
internet): the vendored libraries, /docs, the Content-Security-Policy, caching and gzip."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Awaitable, Callable

from app.main import PROJECT_ROOT
from tests.api import Api, Caller, World
from tests.console import Person

Console = Callable[[Caller | None], Awaitable[Person]]
TEMPLATES = PROJECT_ROOT / "app" / "console" / "templates"
EXTERNAL = re.compile(r"""(?:src|href)=["'](?:https?:)?//""")


def test_no_template_loads_anything_from_another_host() -> None:
    found = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)}"
        for path in TEMPLATES.rglob("*.html")
        for match in EXTERNAL.finditer(path.read_text())
    ]
    assert found == []


def test_the_vendored_libraries_are_all_there() -> None:
    """`scripts/vendor.py --check`: each package at its version, with its licence."""
    checked = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(PROJECT_ROOT / "scripts" / "vendor.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout
    vendor = PROJECT_ROOT / "app" / "console" / "static" / "vendor"
    for folder in ("dsfr", "htmx", "leaflet", "swagger-ui"):
        assert any((vendor / folder).glob("LICENSE*")), folder
    assert "1.15.3" in (vendor / "VENDORED.md").read_text()


async def test_docs_and_the_console_load_only_the_services_own_files(
    api: Api, world: World, console: Console
) -> None:
    docs = await api.client.get("/docs")
    assert docs.status_code == 200
    person = await console(world.facilitator)
    page = await person.get("/console")
    for response in (docs, page):
        assert not EXTERNAL.search(response.text), response.request.url
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self';" in policy
        assert "unsafe" not in policy
        assert response.headers["x-frame-options"] == "DENY"
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', response.text):
            loaded = await person.get(asset)
            assert loaded.status_code == 200, asset
            assert "immutable" in loaded.headers["cache-control"]
    assert "swagger-ui-bundle.js" in docs.text
    assert page.headers["cache-control"] == "no-store"


async def test_what_a_browser_loads_is_compressed_and_the_api_is_not(
    api: Api, world: World, console: Console
) -> None:
    person = await console(world.facilitator)
    page = await person.get("/console")
    stylesheet = re.search(r'href="(/static/vendor/dsfr/dsfr\.min\.css[^"]*)"', page.text)
    assert stylesheet
    gzip = {"Accept-Encoding": "gzip"}
    async with person.client.stream("GET", stylesheet[1], headers=gzip) as css:
        assert css.headers["content-encoding"] == "gzip"
        sent = b"".join([chunk async for chunk in css.aiter_raw()])
    assert len(sent) < 200 * 1024  # DSFR's 700 KiB stylesheet
    assert (await person.get("/console", headers=gzip)).headers["content-encoding"] == "gzip"
    json = await api.get(world.commander, "/problems", headers=gzip)
    assert "content-encoding" not in json.headers


def test_the_minutes_stylesheet_is_allowed_by_its_digest() -> None:
    from app.core.headers import content_security_policy
    from app.meetings.minutes import style_digest

    policy = content_security_policy("https://data.geopf.fr", (style_digest(),))
    assert f"style-src 'self' '{style_digest()}'" in policy
    assert "img-src 'self' data: https://data.geopf.fr" in policy
