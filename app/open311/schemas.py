"""GeoReport v2 shapes (JSON format), as the specification names them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.governance.screening import Screened


class Open311Error(BaseModel):
    code: int = Field(description="The HTTP status.", examples=[400])
    description: str = Field(examples=["service_code: unknown service"])


class Endpoint(BaseModel):
    specification: str = Field(examples=["http://wiki.open311.org/GeoReport_v2"])
    url: str = Field(examples=["https://gpo.example/open311/v2"])
    changeset: datetime
    type: Literal["production", "test"]
    formats: list[str] = Field(examples=[["application/json"]])


class Discovery(BaseModel):
    changeset: datetime
    contact: str
    key_service: str
    endpoints: list[Endpoint]
    deviations: list[str] = Field(description="Where this server departs from GeoReport v2.")


class Service(BaseModel):
    service_code: str = Field(examples=["hall_occupation"])
    service_name: str = Field(examples=["Occupation des halls d'immeuble"])
    description: str
    metadata: bool = Field(description="True: GET services/{code}.json lists attributes.")
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str = Field(examples=["incivility, hall_occupation"])
    group: str = Field(examples=["incivility"])


class AttributeValue(BaseModel):
    key: str = Field(examples=["57463"])
    name: str = Field(examples=["Metz"])


class Attribute(BaseModel):
    variable: bool
    code: str = Field(examples=["commune_code"])
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool
    datatype_description: str
    order: int
    description: str
    values: list[AttributeValue]


class ServiceDefinition(BaseModel):
    service_code: str = Field(examples=["hall_occupation"])
    attributes: list[Attribute]


class RequestCreated(Screened):
    service_request_id: str = Field(description="The report's id.")
    service_notice: str = Field(
        description="Also says, in French, what was masked in the request's texts.",
        examples=["Signalement R-2026-000045 reçu."],
    )
    account_id: str | None = None


class ServiceRequest(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"] = Field(
        description="closed when the report was rejected or its problem is closed."
    )
    status_notes: str | None = Field(description="The public note of the triage.")
    service_name: str
    service_code: str
    description: str
    agency_responsible: str = Field(examples=["GPO Metz-Borny"])
    service_notice: str | None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None
