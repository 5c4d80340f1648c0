"""Open311 GeoReport v2 under /open311/v2, in both formats: every operation is served at
`.json` and `.xml` by the same endpoint (`georeport`), the suffix choosing only how the
answer, errors included, is written (`app.open311.formats`).

Deviation from the specification, stated in discovery.json: reading requests needs an
`api_key` too, and shows only the caller's organisation's requests. The key is a partner's
API token, taken from `api_key`, or from `Authorization` (Bearer, or Basic with the token as
password, so a client that cannot add parameters can carry it in the endpoint URL).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from app import access
from app.core.db import DbSession
from app.core.errors import ApiError, Forbidden, Invalid, NotFound
from app.core.idempotency import idempotent
from app.core.routing import TransactionalRoute
from app.core.schemas import instant_param
from app.identity.dependencies import (
    AnonymousLimit,
    AppSettings,
    bearer_token,
    principal_of,
    token_charter_gate,
)
from app.identity.principal import Principal
from app.open311 import service
from app.open311.formats import (
    FORMATS,
    XML_MEDIA_TYPE,
    DiscoveryXml,
    ServiceDefinitionXml,
    ServiceRequestsXml,
    ServicesXml,
    XmlResponse,
    error_schemas,
    errors_response,
    is_xml,
)
from app.open311.schemas import (
    Discovery,
    Endpoint,
    RequestCreated,
    Service,
    ServiceDefinition,
    ServiceRequest,
)
from app.problems.schemas import LAT_MAX, LAT_MIN, LON_MAX, LON_MIN

# When the facade last changed.
CHANGESET = datetime.fromisoformat("2026-12-01T00:00:00+00:00")
DEVIATIONS = [
    "GET requests and GET requests/{service_request_id} (either format) need an api_key (a "
    "partner's API token) and show only the requests of the caller's organisation.",
    "The api_key may also be sent as `Authorization: Bearer <token>` or as the password of "
    "HTTP Basic authentication.",
    "Errors the server itself answers (unknown path or method, a body over 1 MiB, 5xx) keep "
    "their HTTP status (404, 405, 413, 500...), in the specification's error shape.",
    "Cross-origin (CORS): any origin may GET, without credentials (send the api_key as a "
    "parameter or in Authorization); a POST whose Origin is another site's is refused (403).",
    "A service request located only by lat and long must lie in the district: within the "
    "widest gap between neighbouring commune centres plus 5 km (some 9 km) of the nearest "
    "centre; farther away it is refused (400) unless attribute[commune_code] is given.",
]
# The specification's error codes: invalid parameters are 400, a bad key 403.
OPEN311_STATUS = {401: 403, 415: 400, 422: 400}
ERROR_DESCRIPTIONS = {
    400: "A parameter is missing or invalid.",
    403: "The api_key is missing, invalid, or not a partner's.",
    404: "No such service or service request (or not one of the caller's).",
    409: "The Idempotency-Key is in use by a request still running, or was used for a token.",
    413: "The body is over 1 MiB.",
    429: "Too many requests (for this api_key, or from this address); retry after "
    "`Retry-After` seconds.",
    "default": "Any other error (405 method not allowed, 5xx), in the same shape.",
}


class Open311Route(TransactionalRoute):
    """Open311 errors are `[{"code", "description"}]` (`<errors>` at a `.xml` path), with
    the specification's codes."""

    @property
    def xml(self) -> bool:
        return is_xml(self.path)

    def documented_errors(self) -> dict[int | str, dict[str, Any]]:
        statuses: list[int | str] = [400, 404, 429]
        if "/requests" in self.path:
            statuses.append(403)
        if "POST" in (self.methods or ()):
            statuses += [409, 413]
        # `default` also keeps FastAPI from documenting a 422 this facade never answers.
        statuses.append("default")
        content = error_schemas(self.xml)
        return {
            status: {"description": ERROR_DESCRIPTIONS[status], "content": content}
            for status in statuses
        }

    def render_error(self, exc: ApiError, request: Request) -> Response:
        status = OPEN311_STATUS.get(exc.status, exc.status)
        message = exc.detail
        if exc.errors:
            message = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors
            )
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "retry-after"}
        return errors_response(status, message, xml=self.xml, headers=headers)

    def render_invalid(self, exc: RequestValidationError, request: Request) -> Response | None:
        messages = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error.get("loc", ())[1:]) or "request"
            messages.append(f"{field}: {error.get('msg', 'invalid')}")
        return errors_response(400, "; ".join(messages), xml=self.xml)


async def _caller(request: Request, session: DbSession, api_key: str | None) -> Principal:
    """The partner behind the api_key: Open311 serves partners' reports only (403 else)."""
    token = api_key or bearer_token(request) or _basic_password(request)
    if not token:
        raise Forbidden("api_key is required.")
    principal = await principal_of(request, session, token)
    if not access.submits_reports(principal):
        raise Forbidden("This api_key is not a partner's: Open311 serves partners' reports.")
    await token_charter_gate(request, session, principal)
    return principal


def _basic_password(request: Request) -> str | None:
    """The token as the password of `Authorization: Basic` (what Open311 clients send)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


ApiKeyDescription = "A partner's API token (`gpo_...`)."


async def caller_from_query(
    request: Request,
    session: DbSession,
    api_key: Annotated[str | None, Query(max_length=200, description=ApiKeyDescription)] = None,
) -> Principal:
    return await _caller(request, session, api_key)


async def caller_from_form(
    request: Request,
    session: DbSession,
    api_key: Annotated[str | None, Form(max_length=200, description=ApiKeyDescription)] = None,
) -> Principal:
    return await _caller(request, session, api_key)


async def form_caller_id(principal: Annotated[Principal, Depends(caller_from_form)]) -> uuid.UUID:
    return principal.user_id


# The Idempotency-Key of an Open311 POST belongs to the partner behind its api_key.
Open311Idempotent = idempotent(form_caller_id)

router = APIRouter(prefix="/open311/v2", route_class=Open311Route, tags=["open311"])
Jurisdiction = Annotated[
    str | None, Query(max_length=100, description="Accepted and ignored: one jurisdiction.")
]
QueryCaller = Annotated[Principal, Depends(caller_from_query)]
EndpointFunction = TypeVar("EndpointFunction", bound=Callable[..., Any])


def georeport(
    method: str, path: str, *, xml: type[XmlResponse], summary: str, **options: Any
) -> Callable[[EndpointFunction], EndpointFunction]:
    """Serve the endpoint at `path.json` and at `path.xml`: one code path, the format is
    only how its answer is written (`xml`: the XML document it makes)."""

    def register(endpoint: EndpointFunction) -> EndpointFunction:
        for suffix in FORMATS:
            written: dict[str, Any] = {"response_class": xml} if suffix == "xml" else {}
            router.add_api_route(
                f"{path}.{suffix}",
                endpoint,
                methods=[method],
                summary=f"{summary} ({suffix.upper()})",
                **written,
                **options,
            )
        return endpoint

    return register


@georeport(
    "GET",
    "/discovery",
    xml=DiscoveryXml,
    summary="Open311 service discovery",
    dependencies=[AnonymousLimit],
)
async def discovery(settings: AppSettings) -> Discovery:
    """Where the GeoReport v2 endpoint is (from GPO_PUBLIC_URL, never the request's Host),
    and how this server departs from it."""
    url = f"{settings.public_url}{router.prefix}"
    return Discovery(
        changeset=CHANGESET,
        contact="Animateurs GPO, DDSP Moselle — contrat de sécurité intégrée de Metz",
        key_service="Ask a GPO admin for a partner account and an API token.",
        endpoints=[
            Endpoint(
                specification="http://wiki.open311.org/GeoReport_v2",
                url=url,
                changeset=CHANGESET,
                type="production",
                formats=[XML_MEDIA_TYPE, "application/json"],
            )
        ],
        deviations=DEVIATIONS,
    )


@georeport(
    "GET",
    "/services",
    xml=ServicesXml,
    summary="Open311 services (reportable categories)",
    dependencies=[AnonymousLimit],
)
async def list_services(session: DbSession, jurisdiction_id: Jurisdiction = None) -> list[Service]:
    """One service per category partners may report."""
    return await service.services(session)


@georeport(
    "GET",
    "/services/{service_code}",
    xml=ServiceDefinitionXml,
    summary="Open311 service definition",
    dependencies=[AnonymousLimit],
)
async def service_definition(
    service_code: str, session: DbSession, jurisdiction_id: Jurisdiction = None
) -> ServiceDefinition:
    """The `commune_code` attribute: a single-value list of the communes."""
    return await service.definition(session, service_code)


@georeport(
    "POST",
    "/requests",
    xml=ServiceRequestsXml,
    status_code=201,
    summary="Open311: create a service request",
    dependencies=[Open311Idempotent],
)
async def create_request(
    session: DbSession,
    principal: Annotated[Principal, Depends(caller_from_form)],
    service_code: Annotated[str, Form(max_length=50, examples=["hall_occupation"])],
    lat: Annotated[float | None, Form(ge=LAT_MIN, le=LAT_MAX, examples=[49.1072])] = None,
    long: Annotated[float | None, Form(ge=LON_MIN, le=LON_MAX, examples=[6.2105])] = None,
    address_string: Annotated[str | None, Form(min_length=1, max_length=500)] = None,
    description: Annotated[str | None, Form(min_length=1, max_length=10_000)] = None,
    media_url: Annotated[str | None, Form(max_length=2000)] = None,
    commune_code: Annotated[
        str | None,
        Form(
            alias="attribute[commune_code]",
            pattern=r"^[0-9]{5}$",
            description="INSEE code; else the commune whose centre is nearest the point "
            "(a point outside the district needs it).",
        ),
    ] = None,
    jurisdiction_id: Annotated[str | None, Form(max_length=100)] = None,
    email: Annotated[str | None, Form(max_length=254)] = None,
    device_id: Annotated[str | None, Form(max_length=200)] = None,
    account_id: Annotated[str | None, Form(max_length=200)] = None,
    first_name: Annotated[str | None, Form(max_length=200)] = None,
    last_name: Annotated[str | None, Form(max_length=200)] = None,
    phone: Annotated[str | None, Form(max_length=50)] = None,
) -> list[RequestCreated]:
    """Form-encoded, as GeoReport v2 says. Creates a report (`service_request_id` is its
    id), routed like any report; `service_notice` names the open problems it may duplicate.
    Location by `lat` + `long` or `address_string`. Personal details of a reporter (email,
    names, phone) are not stored."""
    return await service.create_request(
        session,
        principal,
        service.NewRequest(
            service_code=service_code,
            lat=lat,
            long=long,
            address_string=address_string.strip() if address_string else None,
            description=description.strip() if description else None,
            media_url=media_url,
            commune_code=commune_code,
        ),
    )


@georeport(
    "GET", "/requests", xml=ServiceRequestsXml, summary="Open311: the caller's service requests"
)
async def list_requests(
    session: DbSession,
    principal: QueryCaller,
    service_request_id: Annotated[
        str | None, Query(max_length=4000, description="Comma-separated ids; overrides all.")
    ] = None,
    service_code: Annotated[
        str | None, Query(max_length=1000, description="Comma-separated.")
    ] = None,
    start_date: Annotated[
        str | None, Query(max_length=40, examples=["2026-03-01T00:00:00Z"])
    ] = None,
    end_date: Annotated[str | None, Query(max_length=40, examples=["2026-03-31T23:59:59Z"])] = None,
    status: Annotated[str | None, Query(max_length=20, description="open, closed or both.")] = None,
    jurisdiction_id: Jurisdiction = None,
) -> list[ServiceRequest]:
    """The caller's organisation's requests, newest first (at most 200)."""
    ids = []
    for part in filter(None, (service_request_id or "").split(",")):
        try:
            ids.append(uuid.UUID(part.strip()))
        except ValueError:
            raise Invalid(["service_request_id"], f"not a request id: {part!r}") from None
    statuses = [s.strip() for s in (status or "").split(",") if s.strip()]
    if any(s not in ("open", "closed") for s in statuses):
        raise Invalid(["status"], "open, closed, or both comma-separated")
    filters = service.RequestFilters(
        ids=ids,
        service_codes=[c.strip() for c in (service_code or "").split(",") if c.strip()],
        start=instant_param(start_date, ["start_date"]),
        end=instant_param(end_date, ["end_date"]),
        statuses=statuses,
    )
    return await service.list_requests(session, principal, filters)


@georeport(
    "GET",
    "/requests/{service_request_id}",
    xml=ServiceRequestsXml,
    summary="Open311: one service request",
)
async def get_request(
    service_request_id: str,
    session: DbSession,
    principal: QueryCaller,
    jurisdiction_id: Jurisdiction = None,
) -> list[ServiceRequest]:
    """A one-element array, as the specification says."""
    try:
        report_id = uuid.UUID(service_request_id)
    except ValueError:
        raise NotFound("No such service request.") from None
    return [await service.get_request(session, principal, report_id)]
