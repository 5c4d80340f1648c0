"""GeoReport v2's two formats: the same content written as JSON or as XML.

A route computes its answer once; the format, named by the path's suffix (`.json`, `.xml`),
only decides how it is written. XML follows the specification's shapes: no namespace, a
list is an element holding one element per item (`<services><service>...`), `null` an empty
element, booleans `true`/`false`. ElementTree escapes text, so a description holding `<`
or `&` stays text.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, ClassVar

from starlette.responses import JSONResponse, Response

XML_MEDIA_TYPE = "text/xml"  # the specification's; Starlette adds `; charset=utf-8`
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'
# The element of one item, by the element of the list holding it.
ITEM_ELEMENTS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "deviations": "deviation",
    "service_requests": "request",
    "errors": "error",
    "warnings": "warning",
    "loc": "part",
}
FORMATS = ("json", "xml")
# What XML 1.0 cannot carry at all, even escaped (the database refuses most of it already).
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def is_xml(path: str) -> bool:
    return path.endswith(".xml")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return NOT_XML.sub("\ufffd", str(value))


def _fill(element: ET.Element, content: Any) -> None:
    if isinstance(content, dict):
        for name, value in content.items():
            _fill(ET.SubElement(element, name), value)
    elif isinstance(content, list):
        item = ITEM_ELEMENTS[element.tag]
        for value in content:
            _fill(ET.SubElement(element, item), value)
    else:
        element.text = _text(content)


def to_xml(root: str, content: Any) -> bytes:
    """`content` (JSON-ready: dicts, lists, strings, numbers, booleans, None) as the
    document `<root>...</root>`, UTF-8 with its declaration, as the specification asks."""
    element = ET.Element(root)
    _fill(element, content)
    body: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=False)
    return XML_DECLARATION + body


class XmlResponse(Response):
    """A GeoReport v2 XML document; a subclass names its root element."""

    media_type = XML_MEDIA_TYPE
    root: ClassVar[str]

    def render(self, content: Any) -> bytes:
        return to_xml(self.root, content)


class DiscoveryXml(XmlResponse):
    root = "discovery"


class ServicesXml(XmlResponse):
    root = "services"


class ServiceDefinitionXml(XmlResponse):
    root = "service_definition"


class ServiceRequestsXml(XmlResponse):
    root = "service_requests"


class ErrorsXml(XmlResponse):
    root = "errors"


def errors_response(
    status: int, description: str, *, xml: bool, headers: dict[str, str] | None = None
) -> Response:
    """The specification's error answer: `[{"code", "description"}]` or
    `<errors><error><code/><description/></error></errors>`."""
    errors = [{"code": status, "description": description}]
    if xml:
        return ErrorsXml(errors, status, headers=headers)
    return JSONResponse(errors, status, headers=headers)


def error_schemas(xml: bool) -> dict[str, Any]:
    """The OpenAPI content of an error answer in one format."""
    item: dict[str, Any] = {"$ref": "#/components/schemas/Open311Error"}
    schema: dict[str, Any] = {"type": "array", "items": item}
    if xml:
        item["xml"] = {"name": "error"}
        schema["xml"] = {"name": "errors", "wrapped": True}
        return {XML_MEDIA_TYPE: {"schema": schema}}
    return {"application/json": {"schema": schema}}
