"""The spec's XML: the JSON shapes written as elements, lists as repeated children ("Spark").

    [{"code": 403, ...}]  →  <errors><error><code>403</code>…</error></errors>

No namespace and no schema, as GeoReport v2 has none; null is an empty element.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

# The element name of each list's items, by the list's own name.
ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
    "media_urls": "media_url",
}


def render(root: str, data: Any) -> bytes:
    """`data` (a JSON-shaped value) as an XML document under `root`, UTF-8 with a declaration."""
    element = ET.Element(root)
    _fill(element, root, data)
    body: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return body


def _fill(element: ET.Element, name: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), key, item)
    elif isinstance(value, list | tuple):
        tag = ITEM_TAGS.get(name, "item")
        for item in value:
            _fill(ET.SubElement(element, tag), tag, item)
    elif value is None:
        return
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)
