"""Open311 GeoReport v2 over the ASGI stack and over real HTTP, on both stores: the published JSON
schemas, XML that says what the JSON says, the spec's errors, and a third-party client."""

from __future__ import annotations

import json
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.api.open311_world import FIRST, LAST, PHONE, World, jpeg, open_world
from tests.case_world import DISPATCHER, ERQI_POINT, LEADER, SHIFT

SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "open311-schemas"


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    yield from open_world(db_url, tmp_path)


def validator(name: str) -> Any:
    if not SCHEMAS.is_dir():
        pytest.skip(f"the Open311 JSON schemas are not at {SCHEMAS} (../shared/reference)")
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    resources = [
        (p.name, Resource.from_contents(json.loads(p.read_text()), default_specification=DRAFT4))
        for p in SCHEMAS.glob("*.json")
        if p.name != "swagger.json"
    ]
    schema = json.loads((SCHEMAS / name).read_text())
    return jsonschema.Draft4Validator(
        schema, registry=Registry().with_resources(resources), format_checker=None
    )


def conforms(name: str, body: Any) -> None:
    errors = [e.message for e in validator(name).iter_errors(body)]
    assert errors == [], errors


def dated(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    assert at.tzinfo is not None, text
    return at


def test_every_json_resource_matches_its_published_schema(world: World) -> None:
    case_id = world.file()
    services = world.client.get("/open311/v2/services.json")
    assert services.headers["content-type"] == "application/json; charset=utf-8"
    conforms("services.json", services.json())
    codes = {s["service_code"]: s for s in services.json()}
    assert codes["E0102"]["service_name"] == "暴露垃圾" and codes["E0102"]["metadata"] is True
    assert codes["I0101"]["metadata"] is False  # IoT alarm classes ask nothing
    for code in ("C0101", "E0102", "H1601"):
        definition = world.client.get(f"/open311/v2/services/{code}.json").json()
        conforms("service-definition.json", definition)
    many = world.client.get("/open311/v2/requests.json", params={"extensions": "true"}).json()
    conforms("requests.json", many)
    one = world.client.get(f"/open311/v2/requests/{case_id}.json").json()
    conforms("requests.json", one)
    assert one[0]["status"] == "open" and one[0]["service_code"] == "E0102"
    assert (one[0]["lat"], one[0]["long"]) == (34.71, 113.61)
    for key in ("requested_datetime", "updated_datetime"):
        assert dated(one[0][key]).utcoffset() is not None
    discovery = world.client.get("/open311/v2/discovery.json").json()
    assert {"changeset", "contact", "key_service", "endpoints"} <= discovery.keys()
    assert discovery["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"


def test_a_dispatched_case_names_its_department_and_its_handling_deadline(world: World) -> None:
    case_id = world.file()
    world.runtime.cases.file(case_id, SHIFT)
    world.runtime.cases.dispatch(case_id, DISPATCHER)
    request = world.client.get(f"/open311/v2/requests/{case_id}.json").json()[0]
    case = world.runtime.cases.case(case_id, LEADER)
    assert request["agency_responsible"] and "城市管理" in request["agency_responsible"]
    assert case.handle_due is not None and dated(request["expected_datetime"]) == case.handle_due


def xml_items(text: str) -> list[dict[str, str | None]]:
    root = ET.fromstring(text.encode("utf-8"))
    return [{child.tag: child.text for child in item} for item in root]


@pytest.mark.parametrize(
    "path", ["services", "requests", "requests/{id}", "services/H1601", "services/C0101"]
)
def test_the_xml_is_well_formed_and_says_what_the_json_says(world: World, path: str) -> None:
    case_id = world.file()
    path = path.format(id=case_id)
    as_json = world.client.get(f"/open311/v2/{path}.json").json()
    as_xml = world.client.get(f"/open311/v2/{path}.xml")
    assert as_xml.headers["content-type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(as_xml.content)
    if isinstance(as_json, dict):
        assert root.tag == "service_definition"
        attributes = root.find("attributes")
        assert attributes is not None
        assert [a.findtext("code") for a in attributes] == [
            a["code"] for a in as_json["attributes"]
        ]
        return
    assert root.tag in {"services", "service_requests"}

    def text(value: Any) -> str | None:
        return (
            None if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        )

    assert xml_items(as_xml.text) == [{k: text(v) for k, v in i.items()} for i in as_json]


@pytest.mark.parametrize(
    ("case", "status", "field"),
    [
        ("unknown service_code", 404, "service_code"),
        ("no location", 400, "lat"),
        ("lat without long", 400, "long"),
        ("bad api_key", 403, "api_key"),
        ("another channel's key", 403, "api_key"),
        ("a PDF as the photo", 400, "media"),
        ("no photo for a city-management class", 400, "media"),
        ("an attribute the service does not have", 400, "attribute[colour]"),
        ("a value outside the list", 400, "attribute[appeal_type]"),
        ("an unknown jurisdiction", 404, "jurisdiction_id"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_bad_report_gets_the_spec_error_naming_the_field_and_stores_nothing(
    world: World, case: str, status: int, field: str, fmt: str
) -> None:
    changes: dict[str, Any] = {
        "unknown service_code": {"service_code": "Z9999"},
        "no location": {"lat": None, "long": None},
        "lat without long": {"long": None},
        "bad api_key": {"api_key": "ggk_forged"},
        "another channel's key": {"api_key": world.runtime.intake.keys.create("heating").token},
        "a PDF as the photo": {"media_url": None},
        "no photo for a city-management class": {"media_url": None},
        "an attribute the service does not have": {"attribute[colour]": "red"},
        "a value outside the list": {"service_code": "H1601", "attribute[appeal_type]": "x"},
        "an unknown jurisdiction": {"jurisdiction_id": "beijing.gov.cn"},
    }[case]
    files = {"media": ("scan.jpg", b"%PDF-1.4 not a photo", "image/jpeg")}
    before = world.counts()
    response = world.client.post(
        f"/open311/v2/requests.{fmt}",
        data=world.form(**changes),
        files=files if case == "a PDF as the photo" else None,
    )
    assert response.status_code == status, response.text
    if fmt == "json":
        [error] = response.json()
        assert error["code"] == status and error["description"].startswith(f"{field}:")
    else:
        root = ET.fromstring(response.content)
        assert root.tag == "errors"
        assert root.findtext("error/code") == str(status)
        assert (root.findtext("error/description") or "").startswith(f"{field}:")
    assert world.counts() == before


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start_date": "27/11/2026"}, "start_date"),
        ({"end_date": "2026-11-27T09:00:00"}, "end_date"),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"}, "end_date"),
        ({"status": "pending"}, "status"),
        ({"page_size": "5000"}, "page_size"),
        ({"service_request_id": "1,abc"}, "service_request_id"),
        ({"service_request_id": "1,²"}, "service_request_id"),
        ({"service_request_id": "99999999999"}, "service_request_id"),
        ({"page": "²"}, "page"),
        ({"service_request_id": ",".join(["1"] * 1001)}, "service_request_id"),
    ],
)
def test_a_malformed_filter_is_400_naming_it(
    world: World, params: dict[str, str], field: str
) -> None:
    response = world.client.get("/open311/v2/requests.json", params=params)
    assert response.status_code == 400
    assert response.json()[0]["description"].startswith(f"{field}:")


def test_unknown_services_requests_and_formats_are_404_in_the_spec_format(world: World) -> None:
    for path in (
        "services/Z9999.json",
        "requests/987654.json",
        "tokens/r987654.json",
        "requests/²³.json",  # Unicode digits: str.isdigit says yes, int says no
        "tokens/r²³.json",
        "requests/99999999999.json",  # beyond PostgreSQL's INTEGER
        "tokens/r99999999999.json",
        "services.csv",
    ):
        response = world.client.get(f"/open311/v2/{path}")
        assert response.status_code == 404, path
        assert response.json()[0]["code"] == 404


def test_the_filters_and_paging_choose_the_requests(world: World) -> None:
    garbage = world.file()
    lamp = world.file(
        service_code="C0301" if _leaf(world, "C0301") else "C0101",
        lat=str(ERQI_POINT[1]),
        long=str(ERQI_POINT[0]),
        description="路边井盖缺失",
    )
    world.close(garbage)

    def ids(params: dict[str, str]) -> list[str]:
        answer = world.client.get("/open311/v2/requests.json", params=params).json()
        return [r["service_request_id"] for r in answer]

    assert ids({}) == [str(lamp), str(garbage)]  # newest first
    assert ids({"status": "closed"}) == [str(garbage)]
    assert ids({"status": "open"}) == [str(lamp)]
    assert ids({"status": "open,closed"}) == [str(lamp), str(garbage)]
    assert ids({"service_code": "E0102"}) == [str(garbage)]
    assert ids({"service_request_id": f"{garbage},{lamp}"}) == [str(garbage), str(lamp)]
    assert ids({"start_date": "2026-11-28T00:00:00+08:00"}) == []
    assert ids({"end_date": "2026-11-26T00:00:00Z"}) == []
    assert ids({"page_size": "1"}) == [str(lamp)]
    assert ids({"page_size": "1", "page": "2"}) == [str(garbage)]
    closed = world.client.get(f"/open311/v2/requests/{garbage}.json").json()[0]
    assert closed["status"] == "closed" and dated(closed["updated_datetime"]) == world.clock.now()


def _leaf(world: World, code: str) -> bool:
    taxonomy = world.runtime.cases.taxonomy
    return code in taxonomy and taxonomy.is_leaf(code)


def test_no_public_response_carries_the_residents_name_phone_or_email(world: World) -> None:
    case_id = world.file(description=f"请联系我 {PHONE}，王小明")
    world.client.post(
        "/open311/v2/requests.json",
        data=world.form(media_url=None, description="另一处垃圾", lat="34.712"),
        files={"media": ("p.jpg", jpeg(), "image/jpeg")},
    )
    bodies = [
        world.client.get(f"/open311/v2/{path}").text
        for path in (
            "requests.json",
            "requests.xml",
            f"requests/{case_id}.json",
            f"requests/{case_id}.xml",
            "requests.json?extensions=true",
        )
    ]
    for body in bodies:
        assert PHONE not in body and "xiaoming@example.cn" not in body
        assert FIRST not in body and f"{LAST}{FIRST}" not in body
    assert "139****5678" in bodies[0]  # the number written into the text is masked


def test_a_report_that_cannot_be_located_gets_a_token_that_later_names_its_case(
    world: World,
) -> None:
    response = world.client.post(
        "/open311/v2/requests.json",
        data=world.form(lat=None, long=None, address_string="某不知名小巷"),
    )
    assert response.status_code == 201
    [slot] = response.json()
    assert "service_request_id" not in slot and slot["token"].startswith("r")
    token = world.client.get(f"/open311/v2/tokens/{slot['token']}.json").json()
    assert token == [{"service_request_id": None, "token": slot["token"]}]
    assert world.client.get(f"/open311/v2/tokens/{slot['token']}").status_code == 200


def test_reports_from_one_address_are_rate_limited_in_the_spec_format(world: World) -> None:
    answers = [
        world.client.post("/open311/v2/requests.json", data={"api_key": "x"}).status_code
        for _ in range(11)
    ]
    assert answers[:10] == [403] * 10 and answers[10] == 429
    last = world.client.post("/open311/v2/requests.json", data={"api_key": "x"})
    assert last.json()[0]["code"] >= 1 and int(last.headers["Retry-After"]) >= 1


# A real third-party client over real HTTP


@pytest.fixture
def served(world: World) -> Iterator[str]:
    uvicorn = pytest.importorskip("uvicorn")
    server = uvicorn.Server(
        uvicorn.Config(
            world.client.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/open311/v2"
    server.should_exit = True
    thread.join(10)


def test_a_resident_files_through_an_unmodified_open311_client_and_follows_the_case(
    world: World, served: str
) -> None:
    georeport = pytest.importorskip("georeport", reason="georeport==0.3.1 (dev dependency)")
    requests = pytest.importorskip("requests")
    client = georeport.GeoReport(served, jurisdiction="gridgov", api_key=world.key)
    services = {s["service_code"]: s for s in client.get_service_list()}
    assert services["E0102"]["group"] == "市容环境" or services["E0102"]["group"]
    definition = client.get_service_definition("C0101")
    assert [a["code"] for a in definition["attributes"]] == ["photo", "object_id"]
    # georeport 0.3.1 cannot create requests; the POST is the spec's form, sent with the
    # same HTTP library the client uses, as three/open311 (Python 2 only) would send it.
    with_url = requests.post(
        f"{served}/requests.json",
        data=world.form(jurisdiction_id="gridgov"),
    )
    assert with_url.status_code == 201, with_url.text
    with_photo = requests.post(
        f"{served}/requests.xml",
        data=world.form(
            media_url=None, description="井盖缺失，很危险", service_code="C0101", lat="34.7125"
        ),
        files={"media": ("cover.jpg", jpeg(), "image/jpeg")},
    )
    assert with_photo.status_code == 201, with_photo.text
    photo_id = ET.fromstring(with_photo.content).findtext("request/service_request_id")
    url_id = with_url.json()[0]["service_request_id"]
    assert photo_id is not None and photo_id != url_id
    mine = client.get_service_request(url_id)
    assert mine["status"] == "open" and mine["media_url"] == "https://photos.example.cn/p/1.jpg"
    listed = client.get_service_requests(service_request_id=f"{url_id},{photo_id}")
    assert {r["service_request_id"] for r in listed} == {url_id, photo_id}
    as_xml = georeport.GeoReport(served, output_format="xml").get_service_request(photo_id)
    assert as_xml["service_code"] == "C0101"
    followed = requests.post(
        served.replace("/open311/v2", f"/api/v1/residents/cases/{url_id}/follow"),
        json={"phone_last4": PHONE[-4:]},
    )
    assert followed.status_code == 200 and followed.json()["timeline"][0]["action"] == "report"
