"""Intake over HTTP through the ASGI stack: keys, receipts, retries and refusals, on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gridgov.api.app import create_app
from gridgov.api.errors import ErrorBody
from gridgov.api.intake import BatchAnswer, Receipt
from gridgov.bootstrap import Runtime, build_runtime
from gridgov.config import load_settings
from gridgov.store.migrate import upgrade
from gridgov.store.tables import ReportRow
from tests.factories import sample_grids
from tests.intake.channel_samples import DELETE, broken, sample


@dataclass
class Api:
    client: TestClient
    runtime: Runtime
    key: str

    def reports(self) -> int:
        with self.runtime.sessions() as session:
            return session.scalar(select(func.count()).select_from(ReportRow)) or 0


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    upgrade(db_url)
    settings = load_settings(database_url=db_url, data_dir=tmp_path / "var", intake_places="")
    runtime = build_runtime(settings)
    layer = runtime.grids.import_grids(sample_grids(), name="v1", source="t", commit=True).layer
    assert layer is not None
    runtime.grids.activate(layer.id, commit=True)
    key = runtime.intake.keys.create("police_110").token
    with TestClient(create_app(runtime)) as client:
        yield Api(client, runtime, key)
    runtime.close()


def test_a_push_is_201_with_its_receipt_and_a_retry_is_200_with_the_same(api: Api) -> None:
    headers = {"X-Api-Key": api.key}
    first = api.client.post("/api/v1/intake/police_110", json=sample("police_110"), headers=headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["created"] is True and body["case_id"] is not None
    assert body["located_by"] == "coordinates"
    again = api.client.post("/api/v1/intake/police_110", json=sample("police_110"), headers=headers)
    assert again.status_code == 200
    assert again.json() == {**body, "created": False}
    assert api.reports() == 1


@pytest.mark.parametrize("key", [None, "ggk_wrong", "revoked", "other_channel"])
def test_a_push_without_a_valid_key_of_its_channel_is_401_naming_the_header(
    api: Api, key: str | None
) -> None:
    if key == "revoked":
        new = api.runtime.intake.keys.create("police_110")
        api.runtime.intake.keys.revoke(new.id)
        key = new.token
    elif key == "other_channel":
        key = api.runtime.intake.keys.create("heating").token
    headers = {} if key is None else {"X-Api-Key": key}
    response = api.client.post(
        "/api/v1/intake/police_110", json=sample("police_110"), headers=headers
    )
    assert response.status_code == 401
    assert response.json()["error"]["field"] == "X-Api-Key"
    assert api.reports() == 0


def test_an_unknown_channel_is_404(api: Api) -> None:
    response = api.client.post("/api/v1/intake/fax", json={}, headers={"X-Api-Key": api.key})
    assert response.status_code == 404
    assert "fax" in response.json()["error"]["problem"]


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("incident_no", DELETE, "payload.incident_no"),
        ("urgent", "yes", "payload.urgent"),
        ("location.lon", 213.0, "payload.location.lon"),
    ],
)
def test_a_bad_payload_is_422_naming_the_field_and_stores_nothing(
    api: Api, key: str, value: object, field: str
) -> None:
    payload, _ = broken("police_110", key, value)
    response = api.client.post(
        "/api/v1/intake/police_110", json=payload, headers={"X-Api-Key": api.key}
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field
    assert api.reports() == 0


def test_a_batch_answers_each_slot_and_stores_the_good_ones(api: Api) -> None:
    good = sample("police_110")
    other = {**sample("police_110"), "incident_no": "J4101052026112700088"}
    bad = broken("police_110", "summary", 7)[0]
    response = api.client.post(
        "/api/v1/intake/police_110/batch", json=[good, bad, other], headers={"X-Api-Key": api.key}
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[1]["error"]["field"] == "[1].payload.summary"
    assert results[0]["created"] and results[2]["created"]
    assert api.reports() == 2


def test_the_openapi_document_declares_what_the_intake_routes_answer(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    one = paths["/api/v1/intake/{channel}"]["post"]["responses"]
    batch = paths["/api/v1/intake/{channel}/batch"]["post"]["responses"]
    for responses in (one, batch):
        assert {"401", "404", "413", "422"} <= set(responses)
        assert responses["401"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }
    assert one["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Receipt"
    }
    assert batch["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BatchAnswer"
    }


def test_the_receipts_sent_are_what_the_openapi_document_declares(api: Api) -> None:
    headers = {"X-Api-Key": api.key}
    single = api.client.post(
        "/api/v1/intake/police_110", json=sample("police_110"), headers=headers
    ).json()
    good = {**sample("police_110"), "incident_no": "J4101052026112700099"}
    bad = broken("police_110", "summary", 7)[0]
    answers = api.client.post(
        "/api/v1/intake/police_110/batch", json=[good, bad], headers=headers
    ).json()
    # Every field sent is declared, and every declared field is sent, with its declared type.
    assert set(single) == set(Receipt.model_fields)
    assert Receipt.model_validate(single).report_id == single["report_id"]
    receipt, refusal = BatchAnswer.model_validate(answers).results
    assert isinstance(receipt, Receipt) and isinstance(refusal, ErrorBody)
    assert set(answers["results"][0]) == set(Receipt.model_fields)
