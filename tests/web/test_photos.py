"""Photos on the pages over HTTP: evidence uploads, and a case's photos shown only within scope
and only without their metadata."""

from __future__ import annotations

import hashlib
import io

from PIL import Image

from gridgov.store.files import FileStore
from tests.api.open311_world import jpeg
from tests.api.staff_world import StaffWorld
from tests.web.conftest import session_client

MAKE = 0x010F  # EXIF: the camera's maker


def _photo_with_exif() -> bytes:
    image = Image.new("RGB", (80, 60), (200, 90, 40))
    exif = Image.Exif()
    exif[MAKE] = "GridgovTestCam"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_evidence_is_kept_as_sent_and_shown_on_the_case_without_its_exif(
    staff: StaffWorld,
) -> None:
    handler, csrf = session_client(staff.app, "department.handler")
    original = _photo_with_exif()
    upload = handler.post(
        "/console/photos", files={"photo": ("after.jpg", original, "image/jpeg")}, headers=csrf
    )
    assert upload.status_code == 201, upload.text
    file_id = upload.json()["id"]
    assert file_id == hashlib.sha256(original).hexdigest()
    assert FileStore(staff.runtime.settings.files_dir).get(file_id) == original

    case = staff.inside
    for action, body in (("accept", {}), ("handle", {"evidence": [file_id], "reason": "已清运"})):
        done = handler.post(f"/api/v1/cases/{case}/actions/{action}", json=body, headers=csrf)
        assert done.status_code == 200, done.text

    operator, _ = session_client(staff.app, "street.operator")
    listing = operator.get(f"/console/cases/{case}/photos").json()["photos"]
    assert [(p["id"], p["kind"]) for p in listing] == [(file_id, "evidence")]
    shown = operator.get(f"/console/cases/{case}/photos/{file_id}")
    assert shown.status_code == 200
    assert shown.headers["content-type"] == "image/jpeg"
    assert b"GridgovTestCam" not in shown.content
    assert Image.open(io.BytesIO(shown.content)).size == (80, 60)


def test_a_photo_is_not_shown_outside_its_case_or_outside_the_scope(staff: StaffWorld) -> None:
    handler, csrf = session_client(staff.app, "department.handler")
    file_id = handler.post(
        "/console/photos", files={"photo": ("x.jpg", jpeg(), "image/jpeg")}, headers=csrf
    ).json()["id"]
    operator, _ = session_client(staff.app, "street.operator")
    # Stored, but evidence of no case: a file id learnt elsewhere shows nothing.
    assert operator.get(f"/console/cases/{staff.inside}/photos/{file_id}").status_code == 404
    outside = operator.get(f"/console/cases/{staff.outside}/photos")
    missing = operator.get("/console/cases/999999/photos")
    assert outside.status_code == missing.status_code == 404
    assert outside.json() == {
        "error": {
            "problem": missing.json()["error"]["problem"].replace("999999", str(staff.outside))
        }
    }
    assert operator.get("/console/cases/abc/photos").status_code == 404
    assert staff.client.get(f"/console/cases/{staff.inside}/photos").status_code == 401


def test_an_upload_that_is_not_a_photo_is_refused_naming_the_photo(staff: StaffWorld) -> None:
    handler, csrf = session_client(staff.app, "department.handler")
    answer = handler.post(
        "/console/photos",
        files={"photo": ("notes.jpg", "这不是照片".encode(), "image/jpeg")},
        headers=csrf,
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "photo"
    nothing = handler.post("/console/photos", data={"note": "no file"}, headers=csrf)
    assert (nothing.status_code, nothing.json()["error"]["field"]) == (422, "photo")


def test_evidence_is_not_taken_from_a_read_only_account_a_forged_post_or_a_visitor(
    staff: StaffWorld,
) -> None:
    photo = {"photo": ("x.jpg", jpeg(), "image/jpeg")}
    auditor, csrf = session_client(staff.app, "auditor")
    assert auditor.post("/console/photos", files=photo, headers=csrf).status_code == 403
    handler, _ = session_client(staff.app, "department.handler")
    assert handler.post("/console/photos", files=photo).status_code == 403
    assert staff.client.post("/console/photos", files=photo).status_code == 401
