"""Forms of the console: read a posted form into the API's own input models, and say what is
wrong next to each field, in French.

The API's schemas stay the one definition of a valid input: a form's strings are given the
JSON types those schemas expect (numbers, booleans, nested objects from `a.b` names) before
the same validation runs.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from app import wording
from app.core.clock import PARIS
from app.core.errors import ApiError, Invalid

ModelT = TypeVar("ModelT", bound=BaseModel)


@functools.cache
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def _kind(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The schema of a value, through `$ref` and `anyOf: [X, null]`."""
    if "$ref" in schema:
        return _kind(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    for option in schema.get("anyOf", ()):
        if option.get("type") != "null":
            return _kind(option, defs)
    return schema


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "boolean":
        return value in ("on", "true", "1", "oui")
    if kind in ("number", "integer"):
        text = value.replace(",", ".").replace("\u202f", "").replace(" ", "")
        try:
            number = float(text)
        except ValueError:
            return value  # the validation says it is not a number
        return int(number) if kind == "integer" and number.is_integer() else number
    return value


class Form:
    """A posted form, and the errors found in it, field by field."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self.values = values
        self.errors: dict[str, str] = {}

    def get(self, name: str, default: str = "") -> str:
        found = self.values.get(name)
        return found[0].strip() if found else default

    def getlist(self, name: str) -> list[str]:
        return [v for v in self.values.get(name, []) if v]

    def instant(self, date_field: str, time_field: str) -> str | None:
        """A date and a time of day typed in Europe/Paris, as an RFC 3339 date-time."""
        day, hour = self.get(date_field), self.get(time_field) or "00:00"
        if not day:
            return None
        try:
            moment = datetime.combine(date.fromisoformat(day), time.fromisoformat(hour), PARIS)
        except ValueError:
            self.errors[date_field] = wording.FIELD_ERRORS["date"]
            return None
        return moment.isoformat()

    def parse(
        self,
        model: type[ModelT],
        *,
        fields: Any = None,
        blanks_clear: bool = False,
        **given: Any,
    ) -> ModelT | None:
        """The model from the form's fields named as its own (`location.lat` for a nested
        one), plus `given` values; None, with `errors` set, when the input is invalid.
        `fields` limits which fields are read. An empty field is left out (a default
        applies), or, with `blanks_clear` (an edit form), given as null: an optional field
        is cleared, a required one refused."""
        schema = _schema(model)
        defs = schema.get("$defs", {})
        data: dict[str, Any] = {}
        for name, prop in schema.get("properties", {}).items():
            if name in given or (fields is not None and name not in fields):
                continue
            kind = _kind(prop, defs)
            if kind.get("type") == "object" and "properties" in kind:
                nested = {
                    sub: _coerce(self.get(f"{name}.{sub}"), _kind(p, defs))
                    for sub, p in kind["properties"].items()
                    if self.get(f"{name}.{sub}")
                }
                if nested:
                    data[name] = nested
                elif blanks_clear and any(k.startswith(f"{name}.") for k in self.values):
                    data[name] = None
            elif kind.get("type") == "array":
                if name in self.values:
                    data[name] = self.getlist(name)
            elif self.get(name):
                data[name] = _coerce(self.get(name), kind)
            elif blanks_clear and name in self.values:
                data[name] = None
        data |= {k: v for k, v in given.items() if v is not None}
        if self.errors:
            return None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                loc = [str(part) for part in error.get("loc", ())]
                self.errors.setdefault(".".join(loc) or "formulaire", wording.field_error(error))
            return None

    def refused(self, exc: ApiError) -> None:
        """A refusal of the service, shown next to its field (or above the form)."""
        # An Invalid names its field; so does a refusal about one field (a 409 with one error).
        loc = exc.loc if isinstance(exc, Invalid) else []
        if not loc and len(exc.errors) == 1:
            loc = list(exc.errors[0]["loc"])
        if len(loc) > 1:
            field = ".".join(str(part) for part in loc[1:])
            self.errors[field] = exc.fr or wording.FIELD_ERRORS["refused"]
        else:
            self.errors["formulaire"] = exc.fr or wording.refusal(exc.status)


async def read_form(request: Request) -> Form:
    form = await request.form()
    values: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(key, []).append(value)
    return Form(values)
