"""Synthetic photos for the vision and verification tests: scenes of shapes, re-shot or not,
saved with EXIF GPS and time written through Pillow's own Exif API."""

from __future__ import annotations

import io
import random
from datetime import datetime
from fractions import Fraction

from PIL import ExifTags, Image, ImageDraw, ImageEnhance

LON, LAT = 113.665, 34.795


def scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A street-like picture: a background and a dozen coloured boxes and discs, from a seed."""
    rnd = random.Random(seed)
    image = Image.new("RGB", size, tuple(rnd.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
        box = (x, y, x + rnd.randrange(40, 250), y + rnd.randrange(40, 200))
        colour = tuple(rnd.randrange(256) for _ in range(3))
        if rnd.random() < 0.5:
            draw.rectangle(box, fill=colour)
        else:
            draw.ellipse(box, fill=colour)
    return image


def reshot(
    image: Image.Image, *, shift: float = 0.06, zoom: float = 1.08, brightness: float = 1.25
) -> Image.Image:
    """The same scene photographed again: a step aside, a little closer, in other light."""
    width, height = image.size
    closer = image.resize((int(width * zoom), int(height * zoom)))
    left, top = int(width * shift), int(height * shift / 2)
    framed = closer.crop((left, top, left + width, top + height))
    return ImageEnhance.Brightness(framed).enhance(brightness)


def handled(image: Image.Image) -> Image.Image:
    """The scene after the problem was dealt with: one patch of it painted over."""
    after = image.copy()
    ImageDraw.Draw(after).rectangle((300, 200, 380, 260), fill=(120, 120, 120))
    return after


def dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = Fraction(round(((value - degrees) * 60 - minutes) * 60 * 1000), 1000)
    return Fraction(degrees), Fraction(minutes), seconds


def jpeg(
    image: Image.Image,
    *,
    gps: tuple[float, float] | None = (LON, LAT),
    taken: datetime | None = None,
    quality: int = 90,
) -> bytes:
    """The image as JPEG bytes with EXIF GPS (lon, lat) and local time when given."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestPhone"
    if taken is not None:
        stamp = taken.strftime("%Y:%m:%d %H:%M:%S")
        exif[ExifTags.Base.DateTime] = stamp
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = stamp
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
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()
