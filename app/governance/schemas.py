from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import Output
from app.governance.models import AccessPurpose


class AccessLogEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    user_id: uuid.UUID
    organisation_id: uuid.UUID | None
    session_or_token_id: uuid.UUID | None = Field(
        description="The API token, or the console session, the read was made with."
    )
    resource_type: str = Field(examples=["problem"])
    resource_ids: list[str] = Field(examples=[["5d1a7c3e-2b4f-4c6a-9e8d-7f6a5b4c3d2e"]])
    route: str = Field(examples=["/api/v1/problems/{problem_id}"])
    purpose: AccessPurpose
    request_id: str | None
    prev_hash: str = Field(
        description="The hash of the entry before it (64 zeros for the first).",
        examples=["9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"],
    )
    hash: str = Field(
        description="sha256(prev_hash + the digest of this entry's content), hexadecimal.",
        examples=["3f1c2a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b"],
    )


class BrokenEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    chain: str = Field(description="`access_log` or `audit_events`.", examples=["access_log"])
    seq: int | None = Field(description="Its place in the chain (null: never chained).")
    id: uuid.UUID
    at: datetime


class VerificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ok: bool
    entries: int = Field(description="Entries checked, both chains together.")
    first_broken_at: BrokenEntry | None = Field(
        description="The first entry whose hash does not follow from the one before it and "
        "its content (access log first, then audit events); null when both chains hold."
    )


class SubjectMatch(Output):
    resource_type: str = Field(
        description="The kind of record: problem, report, comment, review, meeting, action, "
        "indicator, measurement, audit_event, user, sign_in_attempt, mail, webhook, "
        "webhook_delivery, idempotency_key.",
        examples=["comment"],
    )
    resource_id: uuid.UUID
    problem_id: uuid.UUID | None = Field(description="The problem the record belongs to.")
    problem_reference: str | None = Field(examples=["P-2026-000042"])
    field: str = Field(
        description="The field that mentions the query; in a JSON document (an audit "
        "event's `changes`, a webhook's `body`) its path.",
        examples=["body"],
    )
    excerpt: str = Field(
        description="The text around the first mention, as written, ellipses where cut.",
        examples=["…signalé par M. Dupont, gardien du 12 rue…"],
    )


class Entry(Output):
    """A coded thing and what it is, in French."""

    code: str = Field(examples=["investigation"])
    label: str = Field(examples=["enquête"])


class Controller(Output):
    name: str = Field(
        description="GPO_CONTROLLER_NAME, or what to set when it is not.",
        examples=["Préfecture de la Moselle"],
    )
    dpo_contact: str = Field(
        description="GPO_DPO_CONTACT, or what to set when it is not.",
        examples=["dpd@moselle.gouv.fr"],
    )
    configured: bool = Field(description="Both settings are set.", examples=[True])


class DataCategory(Output):
    code: str = Field(examples=["free_text"])
    label: str = Field(examples=["Textes libres"])
    fields: list[str] = Field(
        description="Where the service keeps it: `table.column`.",
        examples=[["problem_comments.body"]],
    )


class ProblemCategory(Output):
    code: str = Field(examples=["drug_dealing"])
    label: str = Field(examples=["Point de deal"])
    sensitive: bool = Field(
        description="Content forwarded to the CROSS: offences, police data (directive "
        "2016/680); its problems are always `restricted`."
    )
    default_visibility: str = Field(examples=["restricted"])


class Recipient(Output):
    organisation_kind: str = Field(examples=["landlord"])
    label: str = Field(examples=["bailleur"])
    clearance: str = Field(
        description="The strictest level of text its members read.", examples=["partners"]
    )
    clearance_label: str = Field(examples=["partenaires du GPO"])
    organisations: list[str] = Field(
        description="The organisations of this kind, by name.",
        examples=[["Metz Habitat Territoire"]],
    )


class Retention(Output):
    years: int = Field(description="GPO_RETENTION_YEARS.", examples=[5])
    description: str = Field(
        examples=["Les textes libres d'un problème clos depuis plus de 5 ans… sont effacés."]
    )


class LegalBasis(Output):
    scope: str = Field(examples=["police_data"])
    text: str = Field(
        examples=["Directive (UE) 2016/680 et titre III de la loi Informatique et libertés."]
    )


class ProcessingRegister(Output):
    """The register of processing activities (GDPR art. 30, directive 2016/680 art. 24),
    generated from the configuration and the reference data."""

    title: str = Field(examples=["Registre des activités de traitement — GPO"])
    controller: Controller
    purposes: list[Entry] = Field(
        description="The access purposes (`X-Access-Purpose`), then the service's own."
    )
    data_categories: list[DataCategory]
    problem_categories: list[ProblemCategory]
    recipients: list[Recipient] = Field(description="By organisation kind, with clearance.")
    internal_recipients: list[Entry] = Field(description="The roles that read every text.")
    retention: Retention
    legal_bases: list[LegalBasis]
    security_measures: list[str] = Field(
        examples=[["Mots de passe de la console hachés avec Argon2id."]]
    )


class GovernanceReport(BaseModel):
    since: datetime | None = Field(description="The period's start (null: from the first).")
    until: datetime | None = Field(description="The period's end (null: up to now).")
    reads: int = Field(description="Reads of police or restricted records logged.")
    reads_by_purpose: dict[str, int] = Field(
        description="Those reads by `X-Access-Purpose`; purposes never given are left out.",
        examples=[{"meeting": 120, "follow_up": 48, "unspecified": 3}],
    )
    screenings: dict[str, int] = Field(
        description="What the screening of free texts found, by kind: identifiers masked "
        "(phone, email, licence_plate, nir, iban) and words revealing sensitive data "
        "(sensitive_*); kinds never found are left out.",
        examples=[{"phone": 4, "sensitive_health": 1}],
    )
