from __future__ import annotations

import io
import zlib
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

import pytest
from PIL import ExifTags, Image

from gridgov.core.errors import InvalidInput
from gridgov.intake.photos import check_claims, inspect_photo, public_copy, thumbnail

LON, LAT = 113.665, 34.795
TAKEN = datetime(2026, 5, 4, 9, 30, 0)
CST = timezone(timedelta(hours=8))


def dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction(round(((value - degrees) * 60 - minutes) * 60 * 1000), 1000)
    return Fraction(degrees), Fraction(minutes), seconds


def photo(
    fmt: str = "JPEG",
    size: tuple[int, int] = (640, 480),
    *,
    gps: tuple[float, float] | None = (LON, LAT),
    taken: datetime | None = TAKEN,
    orientation: int | None = None,
) -> bytes:
    """A real image with EXIF GPS, time and orientation written through Pillow's Exif API."""
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, size[0] // 2, size[1] // 4))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestPhone"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if taken is not None:
        exif[ExifTags.Base.DateTime] = taken.strftime("%Y:%m:%d %H:%M:%S")
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken.strftime(
            "%Y:%m:%d %H:%M:%S"
        )
    if gps is not None:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(
            {
                ExifTags.GPS.GPSLatitudeRef: "N",
                ExifTags.GPS.GPSLatitude: dms(gps[1]),
                ExifTags.GPS.GPSLongitudeRef: "E",
                ExifTags.GPS.GPSLongitude: dms(gps[0]),
            }
        )
    out = io.BytesIO()
    image.save(out, fmt, exif=exif)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")]
)
def test_a_photo_is_recognised_by_its_content_with_its_exif_gps_and_time(
    fmt: str, mime: str
) -> None:
    info = inspect_photo(photo(fmt))
    assert (info.mime, info.width, info.height) == (mime, 640, 480)
    assert info.exif_gps == pytest.approx((LON, LAT), abs=1e-6)
    assert info.exif_time == TAKEN
    assert len(info.sha256) == 64


def test_a_photo_without_exif_has_no_gps_and_no_time() -> None:
    info = inspect_photo(photo(gps=None, taken=None))
    assert info.exif_gps is None and info.exif_time is None


def refused(data: bytes, **limits: int) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        inspect_photo(data, **limits)
    assert caught.value.field == "photo"
    return caught.value


def test_a_pdf_renamed_to_jpg_is_refused_by_its_content() -> None:
    pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    assert "not a JPEG, PNG or WebP" in refused(pdf).problem


def test_an_executable_renamed_to_jpg_is_refused_by_its_content() -> None:
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(200)
    assert "not a JPEG, PNG or WebP" in refused(exe).problem


def test_a_gif_is_refused_even_though_it_is_an_image() -> None:
    out = io.BytesIO()
    Image.new("P", (10, 10)).save(out, "GIF")
    assert "not a JPEG, PNG or WebP" in refused(out.getvalue()).problem


def test_a_truncated_jpeg_is_refused() -> None:
    data = photo(size=(800, 600))
    assert "truncated or corrupt" in refused(data[: len(data) // 2]).problem


def test_a_50_mb_upload_is_refused_before_it_is_decoded() -> None:
    # A valid JPEG header followed by junk: only the size check can refuse it before decoding.
    blob = photo()[:2] + bytes(50 * 1024 * 1024)
    assert "over the limit of 10485760 bytes" in refused(blob).problem


def png_bomb(width: int, height: int) -> bytes:
    """A palette PNG of width×height zero pixels, written by hand so it never exists in memory."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
        )

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 3, 0, 0, 0])
    row = bytes(width + 1)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"PLTE", bytes(3))
        + chunk(b"IDAT", data)
        + chunk(b"IEND", b"")
    )


def test_a_decompression_bomb_is_refused_though_its_file_is_small() -> None:
    bomb = png_bomb(30_000, 30_000)
    assert len(bomb) < 2 * 1024 * 1024
    assert "pixels" in refused(bomb).problem


def test_an_image_over_the_pixel_limit_is_refused() -> None:
    assert (
        "over the limit of 100000 pixels"
        in refused(photo(size=(400, 300)), max_pixels=100_000).problem
    )


def test_an_empty_upload_is_refused() -> None:
    assert "empty" in refused(b"").problem


def test_a_photo_taken_far_from_the_reported_place_warns_the_operator() -> None:
    info = inspect_photo(photo())
    far = check_claims(info, LON + 0.01, LAT, datetime(2026, 5, 4, 1, 30, tzinfo=UTC))
    near = check_claims(info, LON + 0.001, LAT, datetime(2026, 5, 4, 1, 30, tzinfo=UTC))
    assert [w.code for w in far] == ["photo_far_from_report"]
    assert "913 m" in far[0].message_en
    assert near == []


def test_a_photo_taken_days_before_the_report_warns_the_operator() -> None:
    info = inspect_photo(photo())
    claimed = (TAKEN + timedelta(days=3)).replace(tzinfo=CST)
    warnings = check_claims(info, LON, LAT, claimed)
    assert [w.code for w in warnings] == ["photo_time_far_from_report"]
    assert "72" in warnings[0].message_zh
    # The naive EXIF time is local (Asia/Shanghai) time: 09:30 there is 01:30 UTC.
    assert check_claims(info, LON, LAT, datetime(2026, 5, 4, 1, 30, tzinfo=UTC)) == []


def test_a_photo_without_exif_raises_no_warnings() -> None:
    info = inspect_photo(photo(gps=None, taken=None))
    assert check_claims(info, LON + 1, LAT, datetime(2020, 1, 1, tzinfo=UTC)) == []


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_the_public_copy_has_no_exif_and_no_gps(fmt: str) -> None:
    copy = public_copy(photo(fmt))
    image = Image.open(io.BytesIO(copy))
    assert image.format == fmt
    assert dict(image.getexif()) == {}
    assert "exif" not in image.info
    assert b"TestPhone" not in copy
    info = inspect_photo(copy)
    assert info.exif_gps is None and info.exif_time is None


def test_the_public_copy_keeps_the_pixels_of_a_png() -> None:
    original = photo("PNG")
    assert (
        Image.open(io.BytesIO(public_copy(original))).tobytes()
        == Image.open(io.BytesIO(original)).tobytes()
    )


def test_the_public_copy_is_turned_upright_by_the_orientation_it_drops() -> None:
    # Orientation 6: the camera was held on its side; viewers rotate the stored image 90°.
    copy = Image.open(io.BytesIO(public_copy(photo(size=(400, 200), orientation=6))))
    assert copy.size == (200, 400)
    assert dict(copy.getexif()) == {}


def test_a_thumbnail_is_a_jpeg_of_at_most_320_pixels_without_metadata() -> None:
    thumb = Image.open(io.BytesIO(thumbnail(photo("PNG", size=(1280, 960)))))
    assert thumb.format == "JPEG"
    assert thumb.size == (320, 240)
    assert dict(thumb.getexif()) == {}


def test_a_thumbnail_of_a_small_photo_is_not_enlarged() -> None:
    thumb = Image.open(io.BytesIO(thumbnail(photo(size=(100, 50)), size=320)))
    assert thumb.size == (100, 50)


def test_copies_of_a_non_image_are_refused_like_the_original() -> None:
    with pytest.raises(InvalidInput):
        public_copy(b"%PDF-1.4 not an image")
    with pytest.raises(InvalidInput):
        thumbnail(b"%PDF-1.4 not an image")
