"""Our vocabulary in Open311's: taxonomy leaves ↔ services, cases ↔ service requests, form ↔ payload.

    service_code        = our category code (a leaf: E0102 暴露垃圾, C0101 上水井盖, H1601 …)
    service_name        = its Chinese name; group = its parent class's name
    service_request_id  = our case number; a report not yet located gets a token instead
    status              = open / closed (rejected, closed, evaluated and merged are closed)
    agency_responsible  = the department the case is dispatched to
    expected_datetime   = the handling deadline (处置时限)

A POST becomes a `citizen_app` payload (the residents' channel) and runs the one intake pipeline.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from gridgov.core.errors import InvalidInput
from gridgov.services.residents import PublicCase
from gridgov.workflow.categories import Category, CategorySource, Taxonomy

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANNEL = (
    "citizen_app"  # the channel whose API keys Open311 clients use, and their reports' channel
)
UNCLASSIFIED = "unclassified"
MAX_DESCRIPTION_CHARS = 4000
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
_PHOTO_SOURCES = (CategorySource.URBAN_COMPONENT, CategorySource.URBAN_EVENT)
_APPEAL_TYPES = (
    ("consult", "咨询 / enquiry"),
    ("help", "求助 / request for help"),
    ("complaint", "投诉举报 / complaint"),
    ("suggestion", "意见建议 / suggestion"),
)


class Open311Error(Exception):
    """An answer in the spec's error format: HTTP `status`, and `[{code, description}]`."""

    def __init__(self, status: int, description: str, *, code: int | None = None) -> None:
        self.status = status
        self.code = code or status
        self.description = description
        super().__init__(description)

    def as_list(self) -> list[dict[str, Any]]:
        return [{"code": self.code, "description": self.description}]


def bad_request(name: str, problem: str) -> Open311Error:
    """A 400 naming the request field, as `field: problem`."""
    return Open311Error(400, f"{name}: {problem}")


# Services


def attributes(category: Category) -> list[dict[str, Any]]:
    """The service definition's attributes: what a resident is asked beyond the common fields."""
    if category.source in _PHOTO_SOURCES:
        return [
            {
                "variable": False,
                "code": "photo",
                "datatype": "string",
                "required": False,
                "datatype_description": None,
                "order": 1,
                "description": "此类问题须附现场照片（media 或 media_url），否则不予受理 / "
                "a photo of the scene is required (media or media_url)",
            },
            *(
                [
                    {
                        "variable": True,
                        "code": "object_id",
                        "datatype": "string",
                        "required": False,
                        "datatype_description": "部件上的编号 / the number on the object",
                        "order": 2,
                        "description": "部件标识码（如井盖、路灯上的编号）/ the object's ID plate",
                    }
                ]
                if category.source is CategorySource.URBAN_COMPONENT
                else []
            ),
        ]
    if category.source is CategorySource.HOTLINE:
        return [
            {
                "variable": True,
                "code": "appeal_type",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": None,
                "order": 1,
                "description": "诉求类型 / kind of request",
                "values": [{"key": k, "name": n} for k, n in _APPEAL_TYPES],
            }
        ]
    return []  # IoT alarm classes: nothing to ask


def photo_required(category: Category) -> bool:
    return category.source in _PHOTO_SOURCES


def service(category: Category, taxonomy: Taxonomy) -> dict[str, Any]:
    parent = taxonomy.get(category.parent_code) if category.parent_code else None
    keywords = [category.name_zh, category.name_en, *([parent.name_zh] if parent else [])]
    return {
        "service_code": category.code,
        "service_name": category.name_zh,
        "description": f"{category.name_en}. 受理条件 / accepted when: {category.filing_condition}",
        "metadata": bool(attributes(category)),
        "type": "realtime",
        "keywords": ",".join(k.replace(",", " ") for k in keywords),
        "group": parent.name_zh if parent else None,
    }


def services(taxonomy: Taxonomy) -> list[dict[str, Any]]:
    return [service(c, taxonomy) for c in sorted(taxonomy.leaves(), key=lambda c: c.code)]


def definition(category: Category) -> dict[str, Any]:
    return {"service_code": category.code, "attributes": attributes(category)}


# Service requests: the POST form


@dataclass
class Upload:
    data: bytes
    media_type: str | None


@dataclass
class RequestForm:
    """A POST's fields, read as the spec says: an empty value is an absent one."""

    fields: dict[str, str]
    attributes: dict[str, list[str]] = field(default_factory=dict)
    upload: Upload | None = None

    @classmethod
    def read(cls, items: Sequence[tuple[str, str]], upload: Upload | None) -> RequestForm:
        fields: dict[str, str] = {}
        attrs: dict[str, list[str]] = {}
        for key, value in items:
            if key.startswith("attribute[") and "]" in key:
                code = key[len("attribute[") : key.index("]")]
                if value.strip():
                    attrs.setdefault(code, []).append(value.strip())
            elif value.strip():
                fields.setdefault(key, value.strip())
        return cls(fields, attrs, upload)

    def get(self, name: str) -> str | None:
        return self.fields.get(name)


def citizen_payload(
    form: RequestForm, category: Category, now: datetime
) -> tuple[dict[str, Any], dict[str, str]]:
    """The `citizen_app` payload for a POST, and which request field each payload path came from
    (so a refusal by the intake names the field the client sent)."""
    lat, lon = _coordinates(form)
    address = form.get("address_string")
    if lat is None and address is None:
        if form.get("address_id"):
            raise bad_request(
                "address_id", "暂不支持仅凭地址编号定位，请提供 lat/long 或 address_string / "
                "address_id alone cannot be located yet; send lat and long or address_string",
            )  # fmt: skip
        raise bad_request(
            "lat", "须提供位置：lat 和 long，或 address_string / "
            "a location is required: lat and long, or address_string",
        )  # fmt: skip
    description = form.get("description")
    if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
        raise bad_request(
            "description", f"过长 / too long: at most {MAX_DESCRIPTION_CHARS} characters"
        )
    answers = _attributes(form, category)
    photos: list[dict[str, str]] = []
    origins = {"payload.text": "description", "payload.address": "address_string"}
    if form.get("media_url"):
        origins[f"payload.photos[{len(photos)}]"] = "media_url"
        photos.append({"url": form.fields["media_url"]})
    if form.upload is not None:
        origins[f"payload.photos[{len(photos)}]"] = "media"
        photos.append(
            {
                "base64": base64.b64encode(form.upload.data).decode("ascii"),
                "media_type": form.upload.media_type or "application/octet-stream",
            }
        )
    if photo_required(category) and not photos:
        raise bad_request("media", "此类问题须附现场照片 / this service needs a photo of the scene")
    payload: dict[str, Any] = {
        "submission_id": f"open311-{uuid.uuid4().hex}",
        "submitted_at": now.isoformat(),
        "text": description or f"{category.name_zh}（Open311 上报 / filed through Open311）",
        "category": category.name_zh,
        "open311": {
            "service_code": category.code,
            "attributes": answers,
            **{
                k: form.fields[k]
                for k in ("jurisdiction_id", "address_id", "device_id", "account_id", "email")
                if k in form.fields
            },
        },
    }
    if lat is not None and lon is not None:
        payload["gps"] = {"lon": lon, "lat": lat, "crs": "wgs84"}
        origins.update({"payload.gps.lon": "long", "payload.gps.lat": "lat"})
    if address is not None:
        payload["address"] = address
    user = _user(form)
    if user is not None:
        payload["user"] = user
        origins.update(
            {"payload.user.phone": "phone", "payload.user.nickname": "first_name",
             "payload.user.id": "account_id"}
        )  # fmt: skip
    if photos:
        payload["photos"] = photos
    return payload, origins


def _coordinates(form: RequestForm) -> tuple[float | None, float | None]:
    raw = {name: form.get(name) for name in ("lat", "long")}
    if raw["lat"] is None and raw["long"] is None:
        return None, None
    for name, value in raw.items():
        if value is None:
            other = "long" if name == "lat" else "lat"
            raise bad_request(name, f"缺失：与 {other} 须同时提供 / missing: send it with {other}")
    values = {}
    for name, value in raw.items():
        assert value is not None
        try:
            number = float(value)
        except ValueError:
            raise bad_request(name, f"不是数字 / not a number: {value!r}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise bad_request(name, "不是数字 / not a number")
        values[name] = number
    if not -90.0 <= values["lat"] <= 90.0:
        raise bad_request("lat", "超出范围 / out of range: -90 to 90")
    if not -180.0 <= values["long"] <= 180.0:
        raise bad_request("long", "超出范围 / out of range: -180 to 180")
    return values["lat"], values["long"]


def _user(form: RequestForm) -> dict[str, str] | None:
    name = " ".join(n for n in (form.get("last_name"), form.get("first_name")) if n) or None
    phone = form.get("phone")
    account = form.get("account_id") or form.get("device_id")
    if name is None and phone is None and account is None:
        return None
    user = {"id": (account or "open311")[:64].replace(" ", "_")}
    if name is not None:
        user["nickname"] = name
    if phone is not None:
        user["phone"] = phone
    return user


def _attributes(form: RequestForm, category: Category) -> dict[str, Any]:
    defined = {a["code"]: a for a in attributes(category) if a["variable"]}
    answers: dict[str, Any] = {}
    for code, values in form.attributes.items():
        attribute = defined.get(code)
        name = f"attribute[{code}]"
        if attribute is None:
            raise bad_request(
                name, f"服务 {category.code} 无此属性 / not an attribute of this service"
            )
        keys = {v["key"] for v in attribute.get("values", [])}
        if keys and any(v not in keys for v in values):
            raise bad_request(name, f"须为 {', '.join(sorted(keys))} 之一 / must be one of them")
        if attribute["datatype"] != "multivaluelist" and len(values) > 1:
            raise bad_request(name, "只能有一个值 / takes one value")
        answers[code] = values if attribute["datatype"] == "multivaluelist" else values[0]
    for code, attribute in defined.items():
        if attribute["required"] and code not in answers:
            raise bad_request(f"attribute[{code}]", "必须填写 / is required")
    return answers


def from_intake_refusal(exc: InvalidInput, origins: Mapping[str, str]) -> Open311Error:
    """The intake's refusal of a converted payload, naming the Open311 field it came from."""
    name = exc.field
    for path, origin in sorted(origins.items(), key=lambda kv: -len(kv[0])):
        if exc.field == path or exc.field.startswith((path + ".", path + "[")):
            name = origin
            break
    else:
        if exc.field.startswith("payload.gps"):
            name = "lat"
    return bad_request(name, exc.problem)


# Service requests: what anyone may read


def service_request(
    case: PublicCase, tz: tzinfo, *, extensions: bool = False, notice: str | None = None
) -> dict[str, Any]:
    category = case.category
    closed = not case.is_open
    updated = case.closed_at if closed and case.closed_at else case.updated_at
    out: dict[str, Any] = {
        "service_request_id": str(case.id),
        "status": "closed" if closed else "open",
        "status_notes": f"{case.status_zh} / {case.status_en}",
        "service_name": category.name_zh if category else "待分类 / not yet classified",
        "service_code": category.code if category else UNCLASSIFIED,
        "description": case.description,
        "agency_responsible": case.department_name,
        "service_notice": notice,
        "requested_datetime": iso(case.reported_at, tz),
        "updated_datetime": iso(updated, tz),
        "expected_datetime": iso(case.handle_due, tz) if case.handle_due else None,
        "address": case.address,
        "address_id": None,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lon,
        "media_url": case.media_urls[0] if case.media_urls else None,
    }
    if extensions:
        out["extended_attributes"] = {
            "state": case.state.value,
            "state_zh": case.state.label_zh,
            "merged_into": None if case.merged_into is None else str(case.merged_into),
            "satisfaction": None if case.satisfaction is None else case.satisfaction.value,
            "media_urls": list(case.media_urls),
        }
    return out


def iso(at: datetime, tz: tzinfo) -> str:
    """ISO 8601 with the city's offset, as the spec wants every date to carry one."""
    return at.astimezone(tz).isoformat(timespec="seconds")


def parse_date(name: str, value: str | None) -> datetime | None:
    """A filter date; the spec's dates must carry a timezone."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise bad_request(
            name, f"日期格式错误 / not a W3C date-time, e.g. 2026-11-27T09:00:00+08:00: {value!r}"
        ) from None
    if at.tzinfo is None:
        raise bad_request(name, "须带时区（Z 或 +08:00）/ needs a timezone (Z or +08:00)")
    return at
