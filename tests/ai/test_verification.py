"""Smart verification of handling evidence: place, time and scene of the before/after photos."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from PIL import ImageEnhance

from gridgov.ai.verification import (
    SAME_SCENE_MIN,
    SceneSignature,
    Severity,
    VerificationCheck,
    verify_handling,
)
from gridgov.ai.vision import open_photo
from gridgov.core.errors import InvalidInput
from tests.ai.photo_samples import LAT, LON, handled, jpeg, reshot, scene

CST = timezone(timedelta(hours=8))
DISPATCHED = datetime(2026, 5, 4, 10, 0, tzinfo=CST)
HANDLED = datetime(2026, 5, 4, 15, 0, tzinfo=CST)
BEFORE_TAKEN = datetime(2026, 5, 4, 9, 30)  # naive: the camera's local time, as most write it
AFTER_TAKEN = datetime(2026, 5, 4, 14, 40)


def moved(east_m: float, north_m: float = 0.0) -> tuple[float, float]:
    """The case's place moved by some metres east and north."""
    metres_per_degree = 111_195.0
    return (
        LON + east_m / (metres_per_degree * math.cos(math.radians(LAT))),
        LAT + north_m / metres_per_degree,
    )


BEFORE = jpeg(scene(1), gps=moved(5), taken=BEFORE_TAKEN)
AFTER = jpeg(handled(reshot(scene(1))), gps=moved(-5, 8), taken=AFTER_TAKEN)


def verify(before: bytes = BEFORE, after: bytes = AFTER, **kwargs: Any) -> VerificationCheck:
    values: dict[str, Any] = {
        "case_lon": LON,
        "case_lat": LAT,
        "dispatched_at": DISPATCHED,
        "handled_at": HANDLED,
        **kwargs,
    }
    return verify_handling(before, after, **values)


def codes(check: VerificationCheck) -> list[str]:
    return [flag.code for flag in check.flags]


def test_the_same_scene_reshot_at_the_same_place_after_dispatch_passes_without_flags() -> None:
    check = verify()
    assert check.ok and check.flags == ()
    assert check.facts.photos_apart_m == pytest.approx(12.8, abs=0.5)
    assert check.facts.before_from_case_m == pytest.approx(5, abs=0.5)
    assert check.facts.scene_similarity > 0.6
    assert not check.facts.same_bytes


def test_the_before_photo_resubmitted_as_the_after_photo_is_flagged_as_reused() -> None:
    check = verify(after=BEFORE)
    assert not check.ok
    assert "after_photo_reused" in codes(check)
    assert check.facts.same_bytes
    (flag,) = [f for f in check.flags if f.code == "after_photo_reused"]
    assert flag.zh == "处置后照片与处置前照片是同一文件，看不出任何处置变化"


def test_the_before_picture_resized_brightened_and_re_encoded_is_still_flagged_as_reused() -> None:
    edited = ImageEnhance.Brightness(scene(1).resize((320, 240))).enhance(1.3)
    check = verify(after=jpeg(edited, gps=moved(5), taken=AFTER_TAKEN, quality=70))
    assert not check.facts.same_bytes
    assert codes(check) == ["after_photo_reused"]
    assert check.flags[0].en.startswith("the after photo is the same picture as the before photo")


def test_a_photo_of_another_scene_is_flagged_with_its_similarity() -> None:
    check = verify(after=jpeg(scene(2), gps=moved(-5, 8), taken=AFTER_TAKEN))
    assert not check.ok
    assert codes(check) == ["different_scene"]
    assert check.facts.scene_similarity < SAME_SCENE_MIN
    assert f"相似度{check.facts.scene_similarity:.2f}" in check.flags[0].zh


@pytest.mark.parametrize("seed", [3, 4, 5, 6, 7])
def test_the_scene_signature_tells_a_reshot_scene_from_another_scene(seed: int) -> None:
    before = SceneSignature.of(open_photo(jpeg(scene(seed))))
    again = SceneSignature.of(open_photo(jpeg(reshot(scene(seed), shift=0.04, zoom=1.05))))
    other = SceneSignature.of(open_photo(jpeg(scene(seed + 100))))
    assert before.similarity(again) >= SAME_SCENE_MIN + 0.2
    assert before.similarity(other) < SAME_SCENE_MIN
    assert before.same_pixels(again) < 0.97


def test_an_after_photo_taken_far_from_the_before_photo_and_the_case_is_flagged() -> None:
    check = verify(after=jpeg(handled(reshot(scene(1))), gps=moved(120), taken=AFTER_TAKEN))
    assert not check.ok
    assert codes(check) == ["photos_far_apart", "after_photo_far_from_case"]
    assert check.flags[0].zh == "处置前后照片拍摄位置相距约115米（超过50米）"
    assert check.flags[1].en == "the after photo was taken about 120 m from the case (over 50 m)"


def test_a_before_photo_far_from_the_case_is_flagged_even_when_both_photos_agree() -> None:
    far = moved(0, 200)
    check = verify(
        before=jpeg(scene(1), gps=far, taken=BEFORE_TAKEN),
        after=jpeg(handled(reshot(scene(1))), gps=far, taken=AFTER_TAKEN),
    )
    assert codes(check) == ["before_photo_far_from_case", "after_photo_far_from_case"]


def test_the_distances_can_be_widened_for_a_case_located_by_a_geocoded_address() -> None:
    check = verify(
        after=jpeg(handled(reshot(scene(1))), gps=moved(120), taken=AFTER_TAKEN),
        same_place_m=150,
        near_case_m=150,
    )
    assert check.ok and check.flags == ()


def test_a_photo_without_gps_is_a_softer_flag_that_leaves_the_check_ok() -> None:
    check = verify(after=jpeg(handled(reshot(scene(1))), gps=None, taken=AFTER_TAKEN))
    assert check.ok
    (flag,) = check.flags
    assert (flag.code, flag.severity) == ("gps_missing", Severity.UNVERIFIABLE)
    assert flag.zh == "处置后照片没有GPS位置，无法核对拍摄地点"
    assert check.facts.photos_apart_m is None and check.facts.after_from_case_m is None


def test_two_photos_without_gps_or_time_give_one_soft_flag_each() -> None:
    check = verify(
        before=jpeg(scene(1), gps=None, taken=None),
        after=jpeg(handled(reshot(scene(1))), gps=None, taken=None),
    )
    assert check.ok
    assert [(f.code, f.severity) for f in check.flags] == [
        ("gps_missing", Severity.UNVERIFIABLE),
        ("time_missing", Severity.UNVERIFIABLE),
    ]
    assert check.flags[1].en == (
        "the before and after photos have no time taken; the order cannot be checked"
    )


def test_an_after_photo_taken_before_the_before_photo_is_flagged() -> None:
    check = verify(
        after=jpeg(
            handled(reshot(scene(1))), gps=moved(-5, 8), taken=BEFORE_TAKEN - timedelta(hours=1)
        )
    )
    assert not check.ok
    assert codes(check) == ["after_not_later", "after_before_dispatch"]
    assert check.flags[0].zh == (
        "处置后照片的拍摄时间（2026-05-04 08:30）不晚于处置前照片（2026-05-04 09:30）"
    )


def test_an_after_photo_taken_before_the_dispatch_is_flagged() -> None:
    early = datetime(2026, 5, 4, 9, 45)
    check = verify(after=jpeg(handled(reshot(scene(1))), gps=moved(-5, 8), taken=early))
    assert codes(check) == ["after_before_dispatch"]
    assert check.flags[0].en == (
        "the after photo (2026-05-04 09:45) was taken before the dispatch (2026-05-04 10:00)"
    )


@pytest.mark.parametrize(("minutes_after_handling", "flagged"), [(5, False), (30, True)])
def test_an_after_photo_taken_after_the_handling_was_reported_is_flagged_beyond_clock_drift(
    minutes_after_handling: int, flagged: bool
) -> None:
    taken = datetime(2026, 5, 4, 15, 0) + timedelta(minutes=minutes_after_handling)
    check = verify(after=jpeg(handled(reshot(scene(1))), gps=moved(-5, 8), taken=taken))
    assert ("after_later_than_handling" in codes(check)) is flagged
    assert check.ok is not flagged


def test_a_naive_exif_time_is_read_in_the_given_time_zone() -> None:
    utc_camera = jpeg(
        handled(reshot(scene(1))), gps=moved(-5, 8), taken=datetime(2026, 5, 4, 6, 40)
    )
    assert codes(verify(after=utc_camera)) == ["after_not_later", "after_before_dispatch"]
    before = jpeg(scene(1), gps=moved(5), taken=datetime(2026, 5, 4, 1, 30))
    assert verify(before=before, after=utc_camera, local_tz=UTC).flags == ()


@pytest.mark.parametrize("field", ["dispatched_at", "handled_at"])
def test_a_dispatch_or_handling_time_without_a_zone_is_refused(field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        naive: dict[str, Any] = {field: datetime(2026, 5, 4, 10, 0)}
        verify(**naive)
    assert caught.value.field == field


def test_a_photo_that_is_not_an_image_is_refused() -> None:
    with pytest.raises(InvalidInput, match="photo: is not a JPEG, PNG or WebP"):
        verify(after=b"GIF89a not allowed here")
