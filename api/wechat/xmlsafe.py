"""Platform XML in, wechatpy message objects out, without trusting the XML.

wechatpy's `parse_message` hands the body to xmltodict, which expands
entities; here defusedxml refuses any DTD (so no billion laughs and no
external entity can name a file) and the body size is capped before parsing.
"""

from __future__ import annotations

from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from wechatpy.events import EVENT_TYPES, BaseEvent
from wechatpy.messages import MESSAGE_TYPES, BaseMessage, UnknownMessage
from xml.etree.ElementTree import ParseError

from api.wechat.security import Malformed

# Real callbacks are a few hundred bytes (a 2048-byte text, sealed, stays
# under 4 KiB); anything far larger is not from the platform.
MAX_BODY_BYTES = 64 * 1024
# Platform messages nest two levels at most (ScanCodeInfo, SendPicsInfo > PicList > item).
MAX_DEPTH = 8


def parse_xml(body: bytes | str) -> dict[str, Any]:
    """The `<xml>` element's children as a dict (nested elements as dicts)."""
    if len(body) > MAX_BODY_BYTES:
        raise Malformed("body too large")
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError, ValueError) as exc:
        raise Malformed(f"unreadable XML: {type(exc).__name__}") from exc
    if root.tag != "xml":
        raise Malformed("root element is not <xml>")
    return _children(root, 1)


def _children(element: Any, depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:  # deep nesting is an attack on the recursion, not a message
        raise Malformed(f"XML nested deeper than {MAX_DEPTH} levels")
    out: dict[str, Any] = {}
    for child in element:
        out[child.tag] = _children(child, depth + 1) if len(child) else (child.text or "")
    return out


class UnknownEvent(BaseEvent):
    """An event wechatpy has no class for (VIEW, LOCATION, template results, ...)."""

    event = "unknown"


def to_message(fields: dict[str, Any]) -> BaseMessage:
    """The wechatpy message or event class for these fields, as `parse_message` picks it."""
    msg_type = str(fields.get("MsgType") or "").lower()
    if not msg_type or not isinstance(fields.get("FromUserName"), str):
        raise Malformed("no MsgType or FromUserName")
    if msg_type != "event":
        return MESSAGE_TYPES.get(msg_type, UnknownMessage)(fields)
    event = str(fields.get("Event") or "").lower()
    key = fields.get("EventKey")
    if event == "subscribe" and isinstance(key, str) and key.startswith("qrscene_"):
        event = "subscribe_scan"  # subscribed by scanning a parameterised QR code
        fields = {**fields, "Event": event, "EventKey": key[len("qrscene_"):]}
    return EVENT_TYPES.get(event, UnknownEvent)(fields)
