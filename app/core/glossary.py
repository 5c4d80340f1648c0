"""The API's shared vocabulary, written once: the OpenAPI document takes from here the
description and example of every field and parameter that does not carry its own.

A key is a field's name, or `Schema.field` where one schema means something of its own by a
common name (the GeoReport v2 shapes keep the specification's names). A field found in
neither keeps no description rather than a made-up one that repeats its name."""

from __future__ import annotations

from typing import Any

UUID_EXAMPLE = "3f2c9a1e-7b4d-4e8a-9c61-2d5b8f0e4a17"
GPO_ID = "0b6e2d4a-1c3f-4a5b-8d7e-9f0a1b2c3d4e"
PROBLEM_ID = "5d1a7c3e-2b4f-4c6a-9e8d-7f6a5b4c3d2e"
MEETING_ID = "8c2e4a6b-3d5f-4e7a-8b9c-0d1e2f3a4b5c"
INDICATOR_ID = "2a4c6e8b-5d7f-4a1c-9e3b-6d8f0a2c4e6b"
USER_ID = "6f8a0c2e-4b6d-4f8a-9c1e-3a5b7c9d1e2f"
ORGANISATION_ID = "9e1c3a5b-7d9f-4b2d-8f4a-6c8e0a2b4d6f"
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
    "gpo_id": ("The GPO in charge (see GET /api/v1/gpos).", GPO_ID),
    "problem_id": ("The problem it concerns.", PROBLEM_ID),
    "meeting_id": ("The meeting it belongs to.", MEETING_ID),
    "indicator_id": ("The indicator it measures.", INDICATOR_ID),
    "user_id": ("The user it belongs to.", USER_ID),
    "token_id": ("The API token.", UUID_EXAMPLE),
    "organisation_id": ("The organisation the user belongs to.", ORGANISATION_ID),
    "assignee_organisation_id": ("The organisation that carries out the action.", ORGANISATION_ID),
    "submitted_by_organisation_id": ("The organisation that submitted it.", ORGANISATION_ID),
    "member_organisation_id": ("An organisation member of the GPO.", ORGANISATION_ID),
    "decided_at_meeting_id": ("The meeting that decided it.", MEETING_ID),
    "raised_at_meeting_id": ("The meeting where it was raised.", MEETING_ID),
    "created_by": ("The user who recorded it.", USER_ID),
    "author_id": ("The user who wrote it.", USER_ID),
    "actor_id": ("The user who did it (null: the system).", USER_ID),
    "member_organisation_ids": ("Organisations members of the GPO.", [ORGANISATION_ID]),
    "facilitator_user_ids": ("Users who facilitate the GPO.", [USER_ID]),
    "attendee_organisation_ids": ("Organisations present at the meeting.", [ORGANISATION_ID]),
    "commune_codes": ("INSEE codes of the communes covered.", ["57463"]),
    "commune_code": ("INSEE code of the commune.", "57463"),
    "category": ("Category code (see GET /api/v1/categories).", "hall_occupation"),
    # Each resource has its own statuses: the example comes from the field's enum.
    "status": ("Where it stands in its lifecycle.", None),
    "priority": ("low, normal, high or urgent.", "high"),
    "visibility": ("Who may read it: partners, police or restricted.", "partners"),
    "outcome": ("How a closed problem ended.", "reduced"),
    "outcome_note": ("What was said when closing.", "Appels au 17 divisés par deux."),
    "displacement": ("Whether the trouble moved elsewhere.", "none"),
    "role": ("admin, facilitator, commander or partner.", "partner"),
    "title": ("Short title.", "Regroupements dans le hall, 4 rue de Toul"),
    "name": ("The name people know it by, in lists and minutes.", "GPO Metz-Borny"),
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
    "transport_line": ("Bus or tram line of the Le Met' network.", "Mettis A"),
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
    "items": ("The page's items, in the order asked.", None),
    "next_cursor": ("Cursor of the next page, or null on the last.", None),
    "limit": ("Items per page, 1 to 200.", 50),
    "cursor": ("Opaque cursor from `next_cursor`.", None),
    "sort": ("Sort order; a leading `-` sorts descending.", "-created_at"),
    "q": ("Words to search, case and accents ignored.", "hall"),
    "key": ("The row's key.", "57463"),
    "label": ("The row's label.", "Metz"),
    "year": ("A civil year.", 2026),
    "code": ("Stable code (lower case, digits, underscores) the API uses.", "hall_occupation"),
    "label_fr": ("Label in French.", "Occupation des halls d'immeuble"),
    "label_en": ("Label in English.", "Occupation of building halls"),
    "email": (
        "E-mail address, used to sign in to the console.",
        "claire.martin@moselle.interieur.gouv.fr",
    ),
    "display_name": ("Name shown to others.", "Claire Martin"),
    "active": ("False when disabled.", True),
    "prefix": ("The token's first characters, to recognise it.", "gpo_Xq3v9L"),
    "token": ("The token's secret, shown once.", "gpo_Xq3v9LrT0w2m1yZk8sJd4hF6bN5cA7eG"),
    "expires_in_days": ("Days until the token expires.", 90),
    "distance_m": ("Metres between the two points.", 84.2),
    "problem_status": ("Status of the problem behind the report.", "open"),
    "problem_outcome": ("Outcome of the problem behind the report; null until closed.", None),
    "problem_reference": ("The problem's human reference.", "P-2026-000123"),
    "assignee_name": ("Name of the organisation.", "Police municipale de Metz"),
    "actor_name": ("Name of the user who did it.", "Claire Martin"),
    "author_name": ("The author's display name.", "Claire Martin"),
    "changes": ("Changed fields: {field: [old, new]}.", {"status": ["open", "closed"]}),
    "errors": ("Every field at fault.", None),
    "service_code": ("The service (a category code).", "hall_occupation"),
    "service_request_id": ("The request (a report id).", UUID_EXAMPLE),
    "api_key": ("A partner's API token.", "gpo_Xq3v9LrT0w2m1yZk8sJd4hF6bN5cA7eG"),
    "jurisdiction_id": ("Accepted and ignored: a single jurisdiction.", "metz"),
    "status_notes": ("The public note of the triage.", "Pris en compte par le GPO Metz-Borny."),
    "action_id": ("The action.", UUID_EXAMPLE),
    "report_id": ("The report.", UUID_EXAMPLE),
    "has_overdue_actions": ("True: only problems with overdue actions; false: without.", True),
    "start_date": ("Requests submitted from this instant (RFC 3339, or a date).", None),
    "end_date": ("Requests submitted until this instant (RFC 3339, or a date).", None),
    "family": (
        "The category's family: incivility, drugs, residential, transport, violence, road or "
        "other.",
        "residential",
    ),
    "sensitive": ("Sensitive category: its problems are always `restricted`.", False),
    "default_visibility": (
        "Visibility of a new problem of the category, unless raised.",
        "partners",
    ),
    "reportable": ("Partners may submit reports in this category.", True),
    "open_action_count": ("Actions planned or in progress.", 3),
    "overdue_action_count": ("Actions planned or in progress past their due date.", 1),
    "days_overdue": ("Days since the due date (Europe/Paris).", 12),
    "days_since": ("Days since the end of the latest period measured.", 45),
    "median_days_to_close": ("Median days from creation to closing; null: none closed.", 41.5),
    "actions_assigned": ("Actions created during the year.", 14),
    "actions_done": ("Of those, done.", 9),
    "actions_overdue": ("Of those, still planned or in progress and past due today.", 2),
    "actions_cancelled": ("Of those, cancelled.", 1),
    # GeoReport v2 fields, as the specification means them.
    "address_string": (
        "Postal address, when no `lat` and `long` are given.",
        "4 rue de Toul, Metz",
    ),
    "media_url": ("A link to a photo or document the reporter gives.", None),
    "device_id": ("The reporter's device; accepted, not stored.", None),
    "account_id": ("The reporter's account; accepted, not stored (always null).", None),
    "first_name": ("The reporter's first name; accepted, not stored.", None),
    "last_name": ("The reporter's last name; accepted, not stored.", None),
    "phone": ("The reporter's phone number; accepted, not stored.", None),
    "service_name": ("The category's French label.", "Occupation des halls d'immeuble"),
    "service_notice": (
        "The report's reference, and the open problems it may duplicate.",
        "Signalement R-2026-000045 reçu.",
    ),
    "agency_responsible": ("The GPO the report is routed to.", "GPO Metz-Borny"),
    "requested_datetime": ("When the request was submitted.", "2026-03-14T21:40:00Z"),
    "updated_datetime": ("When the request last changed.", "2026-03-16T09:15:00Z"),
    "expected_datetime": ("Always null: no date is promised.", None),
    "address_id": ("Always null: no address registry is used.", None),
    "zipcode": ("Always null: the address carries it.", None),
    "changeset": ("When this description of the endpoint last changed.", "2026-11-28T00:00:00Z"),
    "contact": ("Who runs the service.", "Animateurs GPO, DDSP Moselle"),
    "key_service": (
        "How to obtain an `api_key`.",
        "Ask a GPO admin for a partner account and an API token.",
    ),
    "endpoints": ("The GeoReport v2 endpoints served.", None),
    "specification": (
        "The specification the endpoint follows.",
        "http://wiki.open311.org/GeoReport_v2",
    ),
    "formats": ("Media types served: JSON only.", ["application/json"]),
    "keywords": ("The category's family and code, comma-separated.", None),
    "group": ("The category's family.", None),
    "attributes": ("What a request may add: the commune.", None),
    "variable": ("True: the client gives a value.", True),
    "datatype": ("How the value is given; `singlevaluelist`: one key of `values`.", None),
    "datatype_description": ("How to fill the value, for people.", "Code INSEE de la commune"),
    "order": ("Position among the service's attributes.", 1),
    "values": ("The values allowed.", None),
    "Endpoint.url": ("Base URL of the endpoint (from GPO_PUBLIC_URL).", None),
    "Endpoint.type": ("`production`: real data; `test`: a copy for trials.", None),
    "Service.type": ("`realtime`: a request becomes a report at once.", None),
    "Attribute.required": ("A request must give it.", False),
    "AttributeValue.key": ("The value to send: an INSEE code.", None),
    "AttributeValue.name": ("The commune's name.", None),
}

_TYPE_EXAMPLES: dict[str, Any] = {
    "uuid": UUID_EXAMPLE,
    "date-time": "2026-03-14T18:30:00+01:00",
    "date": "2026-03-14",
    "integer": 1,
    "number": 12.5,
    "boolean": True,
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


def _fill(target: dict[str, Any], name: str, schema: dict[str, Any], *, owner: str = "") -> None:
    """Describe and exemplify a property (`target` is `schema`) or a parameter (`target`
    holds `schema`), from the glossary, without overriding what the code says."""
    if target.get("in") == "path" and name.endswith("_id"):
        name = "id"  # a resource's own id, whatever its kind
    known = GLOSSARY.get(f"{owner}.{name}") or GLOSSARY.get(name)
    if "description" not in target and known:
        target["description"] = known[0]
    if "examples" in target or "example" in target or "examples" in schema:
        return
    example = known[1] if known else None
    if example is None:
        if _refers(schema):
            return  # its example is composed from the schema it refers to
        if known is None and "pattern" not in str(schema):
            # A pattern-bound string gets no invented example: it would not match.
            example = _example_for(schema)
    if example is not None and _is_list(schema) and not isinstance(example, list):
        example = [example]  # a repeatable query parameter, a list of the glossary's values
    if target is not schema:
        # A parameter has one `example` (its `examples` would be a map of named ones).
        if example is not None:
            target["example"] = example
    elif example is not None or schema.get("anyOf"):
        target["examples"] = [example]


def _is_list(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(option.get("type") == "array" for option in options)


def _refers(schema: dict[str, Any]) -> bool:
    """The schema takes another one in (an object, or a list of them)."""
    return "$ref" in str(schema)


def document(openapi: dict[str, Any]) -> None:
    """Give every property and parameter a description (where the glossary has one) and an
    example; give every body and JSON answer an example, composed from its fields'."""
    components = openapi.get("components", {}).get("schemas", {})
    for owner, schema in components.items():
        if "enum" in schema:
            schema.setdefault("examples", [schema["enum"][0]])
        for name, prop in schema.get("properties", {}).items():
            if "$ref" not in prop:
                _fill(prop, name, prop, owner=owner)
            elif "examples" not in prop and (known := GLOSSARY.get(name)) and known[1] is not None:
                # A field of an enum's type: the glossary's value reads better than the first.
                prop["examples"] = [known[1]]
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                _fill(parameter, parameter["name"], parameter.get("schema", {}))
                if not {"example", "examples"} & (parameter.keys() | parameter["schema"].keys()):
                    example = compose_example(parameter["schema"], components)
                    if example not in (None, MISSING):
                        parameter["example"] = example
            bodies = [operation.get("requestBody", {})]
            bodies += [r for status, r in operation["responses"].items() if status[0] == "2"]
            for body in bodies:
                for media in body.get("content", {}).values():
                    if "schema" in media and not {"example", "examples"} & media.keys():
                        example = compose_example(media["schema"], components)
                        if example is not MISSING:
                            media["example"] = example


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def compose_example(
    schema: dict[str, Any], components: dict[str, Any], seen: frozenset[str] = frozenset()
) -> Any:
    """An instance of `schema` made of the examples its fields carry: one example per
    schema, written once where the field is, reused wherever the schema is. MISSING when
    nothing in it has an example (an optional field is then left out)."""
    if "example" in schema:
        return schema["example"]
    if schema.get("examples"):
        return schema["examples"][0]
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return MISSING
        return compose_example(components[name], components, seen | {name})
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        for option in options:
            if option.get("type") != "null":
                example = compose_example(option, components, seen)
                if example is not MISSING:
                    return example
        return None if any(option.get("type") == "null" for option in options) else MISSING
    kind = schema.get("type")
    if isinstance(kind, list):
        return None if "null" in kind else MISSING
    if kind == "object" or "properties" in schema:
        composed = {}
        for name, prop in schema.get("properties", {}).items():
            example = compose_example(prop, components, seen)
            if example is not MISSING:
                composed[name] = example
        return composed
    if kind == "array":
        item = compose_example(schema.get("items", {}), components, seen)
        return [] if item is MISSING else [item]
    if kind in ("integer", "number", "boolean") or schema.get("format") in _TYPE_EXAMPLES:
        return _example_for(schema)
    return MISSING
