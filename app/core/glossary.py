"""The API's shared vocabulary, written once: the OpenAPI document takes from here the
description and example of every field and parameter that does not carry its own."""

from __future__ import annotations

from typing import Any

UUID_EXAMPLE = "3f2c9a1e-7b4d-4e8a-9c61-2d5b8f0e4a17"
GLOSSARY: dict[str, tuple[str, Any]] = {
    "id": ("Opaque identifier (UUID).", UUID_EXAMPLE),
    "reference": ("Human reference, unique, shown in meetings and minutes.", "P-2026-000123"),
    "created_at": ("When it was recorded (RFC 3339, UTC).", "2026-03-14T17:30:00Z"),
    "updated_at": ("When it last changed (RFC 3339, UTC).", "2026-03-15T08:05:00Z"),
    "closed_at": ("When it was closed; null while not closed.", "2026-06-02T09:00:00Z"),
    "completed_at": ("When it was done; null otherwise.", "2026-04-10T16:20:00Z"),
    "observed_at": ("When it was seen.", "2026-03-14T22:30:00+01:00"),
    "at": ("When it happened (RFC 3339, UTC).", "2026-03-14T17:30:00Z"),
    "expires_at": ("When the token stops working; null: never.", "2026-06-12T10:00:00Z"),
    "revoked_at": ("When the token was revoked; null if it was not.", None),
    "version": ("Raised by every change of a stored field; served as the ETag.", 3),
    "gpo_id": ("The GPO.", UUID_EXAMPLE),
    "problem_id": ("The problem.", UUID_EXAMPLE),
    "meeting_id": ("The meeting.", UUID_EXAMPLE),
    "indicator_id": ("The indicator.", UUID_EXAMPLE),
    "user_id": ("The user.", UUID_EXAMPLE),
    "token_id": ("The API token.", UUID_EXAMPLE),
    "organisation_id": ("The organisation.", UUID_EXAMPLE),
    "assignee_organisation_id": ("The organisation that carries out the action.", UUID_EXAMPLE),
    "submitted_by_organisation_id": ("The organisation that submitted it.", UUID_EXAMPLE),
    "member_organisation_id": ("An organisation member of the GPO.", UUID_EXAMPLE),
    "decided_at_meeting_id": ("The meeting that decided it.", UUID_EXAMPLE),
    "raised_at_meeting_id": ("The meeting where it was raised.", UUID_EXAMPLE),
    "created_by": ("The user who recorded it.", UUID_EXAMPLE),
    "author_id": ("The user who wrote it.", UUID_EXAMPLE),
    "actor_id": ("The user who did it (null: the system).", UUID_EXAMPLE),
    "member_organisation_ids": ("Organisations members of the GPO.", [UUID_EXAMPLE]),
    "facilitator_user_ids": ("Users who facilitate the GPO.", [UUID_EXAMPLE]),
    "attendee_organisation_ids": ("Organisations present at the meeting.", [UUID_EXAMPLE]),
    "commune_codes": ("INSEE codes of the communes covered.", ["57463"]),
    "commune_code": ("INSEE code of the commune.", "57463"),
    "category": ("Category code (see GET /api/v1/categories).", "hall_occupation"),
    "status": ("Where it stands in its lifecycle.", "open"),
    "priority": ("low, normal, high or urgent.", "high"),
    "visibility": ("Who may read it: partners, police or restricted.", "partners"),
    "outcome": ("How a closed problem ended.", "reduced"),
    "outcome_note": ("What was said when closing.", "Appels au 17 divisés par deux."),
    "displacement": ("Whether the trouble moved elsewhere.", "none"),
    "role": ("admin, facilitator, commander or partner.", "partner"),
    "title": ("Short title.", "Regroupements dans le hall, 4 rue de Toul"),
    "name": ("Name.", "GPO Metz-Borny"),
    "description": ("Free text.", "Regroupements nocturnes, nuisances sonores."),
    "note": ("Free text.", "Point fait en réunion."),
    "notes": ("Free text.", "Prochaine réunion avec le bailleur."),
    "body": ("The comment.", "Patrouille renforcée vendredi soir."),
    "summary": ("What happened, in French.", "Statut : ouvert → clos (réduit en nombre)"),
    "location": ("Where it happens.", None),
    "address": ("Postal address.", "4 rue de Toul, 57070 Metz"),
    "sector": ("Sector or neighbourhood (quartier, QPV).", "Borny"),
    "lat": ("Latitude (WGS 84).", 49.1072),
    "lon": ("Longitude (WGS 84).", 6.2105),
    "long": ("Longitude (WGS 84).", 6.2105),
    "transport_line": ("Transport line.", "Mettis A"),
    "station": ("Station or stop.", "Gare de Metz-Ville"),
    "objective": ("What the partners aim for.", "Faire cesser les regroupements."),
    "time_pattern": ("When the trouble happens.", "Soirs de semaine, 22 h - 2 h"),
    "external_ref": ("The reporter's own reference.", "MHT-2026-00412"),
    "public_note": ("Shown to the reporter.", "Pris en compte par le GPO."),
    "result_note": ("What the action achieved.", "12 patrouilles, 3 interpellations."),
    "due_date": ("Due date (YYYY-MM-DD).", "2026-04-15"),
    "period_start": ("First day of the period (included).", "2026-02-01"),
    "period_end": ("Last day of the period (included).", "2026-02-28"),
    "value": ("The counted value.", 14),
    "rate": ("The value per 30 days.", 15.0),
    "unit": ("What is counted.", "appels"),
    "source": ("Where the figures come from.", "Main courante, CIC Metz"),
    "target_value": ("A rate per 30 days to reach.", 10),
    "direction": ("Which way is better: decrease or increase.", "decrease"),
    "scheduled_at": ("When the meeting takes place (with offset).", "2026-03-14T18:30:00+01:00"),
    "meeting_interval_days": ("Days between meetings.", 31),
    "items": ("The page's items.", []),
    "next_cursor": ("Cursor of the next page, or null on the last.", None),
    "limit": ("Items per page, 1 to 200.", 50),
    "cursor": ("Opaque cursor from `next_cursor`.", None),
    "sort": ("Sort order.", "-created_at"),
    "q": ("Words to search, case and accents ignored.", "hall"),
    "key": ("The row's key.", "57463"),
    "label": ("The row's label.", "Metz"),
    "year": ("A civil year.", 2026),
    "code": ("Code.", "hall_occupation"),
    "label_fr": ("Label in French.", "Occupation des halls d'immeuble"),
    "label_en": ("Label in English.", "Occupation of building halls"),
    "email": ("E-mail address.", "claire.martin@moselle.interieur.gouv.fr"),
    "display_name": ("Name shown to others.", "Claire Martin"),
    "active": ("False when disabled.", True),
    "prefix": ("The token's first characters, to recognise it.", "gpo_Xq3v9L"),
    "token": ("The token's secret, shown once.", "gpo_Xq3v9LrT0w2m1yZk8sJd4hF6bN5cA7eG"),
    "expires_in_days": ("Days until the token expires.", 90),
    "distance_m": ("Metres between the two points.", 84.2),
    "problem_status": ("Status of the problem behind the report.", "open"),
    "problem_outcome": ("Outcome of the problem behind the report.", None),
    "problem_reference": ("Reference of the problem.", "P-2026-000123"),
    "assignee_name": ("Name of the organisation.", "Police municipale de Metz"),
    "actor_name": ("Name of the user who did it.", "Claire Martin"),
    "author_name": ("Name of the author.", "Claire Martin"),
    "changes": ("Changed fields: {field: [old, new]}.", {"status": ["open", "closed"]}),
    "errors": ("Every field at fault.", None),
    "service_code": ("The service (a category code).", "hall_occupation"),
    "service_request_id": ("The request (a report id).", UUID_EXAMPLE),
    "api_key": ("A partner's API token.", "gpo_Xq3v9LrT0w2m1yZk8sJd4hF6bN5cA7eG"),
    "jurisdiction_id": ("Accepted and ignored: a single jurisdiction.", "metz"),
}

_TYPE_EXAMPLES: dict[str, Any] = {
    "uuid": UUID_EXAMPLE,
    "date-time": "2026-03-14T18:30:00+01:00",
    "date": "2026-03-14",
    "integer": 1,
    "number": 12.5,
    "boolean": True,
    "string": "texte",
}


def _example_for(schema: dict[str, Any]) -> Any:
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for option in schema.get("anyOf", []):
        if option.get("type") != "null" and "$ref" not in option:
            return _example_for(option)
    kind = schema.get("type")
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return _TYPE_EXAMPLES.get(schema.get("format", ""), _TYPE_EXAMPLES.get(str(kind)))


def _fill(target: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    known = GLOSSARY.get(name)
    if "description" not in target:
        target["description"] = known[0] if known else name.replace("_", " ").capitalize() + "."
    if "examples" in target or "example" in target or "examples" in schema:
        return
    example = known[1] if known else None
    if example is None and "pattern" not in schema:
        # A pattern-bound string gets no invented example: it would not match.
        example = _example_for(schema)
    if example is not None or schema.get("anyOf"):
        target["examples"] = [example]


def document(openapi: dict[str, Any]) -> None:
    """Give every property, parameter and enum a description and an example."""
    for schema in openapi.get("components", {}).get("schemas", {}).values():
        if "enum" in schema:
            schema.setdefault("description", schema.get("title", "One of the values."))
            schema.setdefault("examples", [schema["enum"][0]])
        for name, prop in schema.get("properties", {}).items():
            if "$ref" in prop:
                continue
            _fill(prop, name, prop)
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                _fill(parameter, parameter["name"], parameter.get("schema", {}))
