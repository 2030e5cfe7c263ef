"""Smart verification (智能核查): do the before and after photos of a handled case hold up?

`verify_handling` compares the two photos with each other and with the case: the same place
(EXIF GPS), the after photo later than the before photo and than the dispatch (EXIF time), the
same scene but not the same picture (a perceptual signature). Each doubt is a `Flag` the verifier
reads, in Chinese and English, with its figures:

    suspicious   the evidence contradicts the closure: far apart, wrong order in time, another
                 scene, the before photo re-submitted — `ok` is False
    unverifiable the evidence to check is missing (no GPS, no time) — noted, `ok` unaffected

No flag closes or reopens a case by itself: a person decides, with the reasons in front of them.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
from PIL import Image

from gridgov.ai.vision import PhotoFacts, open_photo, photo_facts, upright_rgb
from gridgov.core.errors import InvalidInput

if TYPE_CHECKING:
    from numpy.typing import NDArray

SAME_PLACE_M = 50.0
NEAR_CASE_M = 50.0
# Below this the two photos show another scene. On synthetic scenes (six seeds, as in the tests)
# the same scene shifted 6 %, zoomed 8 % and brightened 25 % scored 0.80–0.94, with part of it
# painted over ("handled") 0.79–0.93, unrelated scenes 0.06–0.25. Real re-shot scenes vary more:
# a flag asks a person to look, it decides nothing.
SAME_SCENE_MIN = 0.4
# Grey-pixel correlation at or above this means the before picture again (re-encoded, resized,
# brightened: 0.994–0.999 in the same trials), while a re-shot scene reached at most 0.93.
REUSED_MIN = 0.97
# Phone clocks drift; a photo a few minutes "after" the handling report is not yet suspicious.
CLOCK_TOLERANCE = timedelta(minutes=10)
DEFAULT_TIMEZONE = "Asia/Shanghai"

_EARTH_RADIUS_M = 6_371_008.8
_HASH = 8  # difference hash of 8×8 = 64 bits
_LAYOUT = 8  # colour layout on an 8×8 grid
_EDGE_SIZE, _EDGE_CELLS, _EDGE_BINS = 64, 4, 8


class Severity(StrEnum):
    SUSPICIOUS = "suspicious"
    UNVERIFIABLE = "unverifiable"


@dataclass(frozen=True, slots=True)
class Flag:
    """One doubt about a closure, for the verifier: a stable code and the reason in zh and en."""

    code: str
    zh: str
    en: str
    severity: Severity = Severity.SUSPICIOUS


@dataclass(frozen=True, slots=True)
class VerificationFacts:
    """The figures behind the flags; distances in metres, None where a photo had no GPS."""

    before: PhotoFacts
    after: PhotoFacts
    photos_apart_m: float | None
    before_from_case_m: float | None
    after_from_case_m: float | None
    scene_similarity: float
    same_bytes: bool


@dataclass(frozen=True, slots=True)
class VerificationCheck:
    """`ok` when no flag is suspicious; `flags` in the order checked (place, time, scene)."""

    ok: bool
    flags: tuple[Flag, ...]
    facts: VerificationFacts


@dataclass(frozen=True, slots=True)
class SceneSignature:
    """A small perceptual description of a photo: difference hash, colour layout, edge layout."""

    dhash: NDArray[np.bool_]
    layout: NDArray[np.float64]
    edges: NDArray[np.float64]
    pixels: NDArray[np.float64]

    @classmethod
    def of(cls, image: Image.Image) -> SceneSignature:
        rgb = upright_rgb(image)
        gray = rgb.convert("L")
        small = np.asarray(gray.resize((_HASH + 1, _HASH), Image.Resampling.BOX), dtype=np.float64)
        dhash = small[:, 1:] > small[:, :-1]
        layout = np.asarray(
            rgb.convert("YCbCr").resize((_LAYOUT, _LAYOUT), Image.Resampling.BOX), dtype=np.float64
        )
        edge_image = gray.resize((_EDGE_SIZE, _EDGE_SIZE), Image.Resampling.BILINEAR)
        pixels = np.asarray(edge_image, dtype=np.float64)
        return cls(dhash.ravel(), _standardize(layout.reshape(-1, 3)), _edges(pixels), pixels)

    def similarity(self, other: SceneSignature) -> float:
        """0 (unrelated scenes) to 1 (the same picture); the same scene re-shot scores high.

        Each part is rescaled so that chance agreement scores 0: half the hash bits agree by
        chance, and the layout and edge parts are correlations.
        """
        hash_agreement = float(np.mean(self.dhash == other.dhash))
        hashed = max(0.0, 2 * hash_agreement - 1)
        layout = max(0.0, _correlation(self.layout, other.layout))
        edges = max(0.0, _correlation(self.edges, other.edges))
        return round(0.3 * hashed + 0.3 * layout + 0.4 * edges, 3)

    def same_pixels(self, other: SceneSignature) -> float:
        """Correlation of the two grey 64×64 images: about 1 only for the same picture again,
        whatever its brightness, contrast, size or compression."""
        return _correlation(self.pixels.ravel(), other.pixels.ravel())


def verify_handling(
    before: bytes,
    after: bytes,
    *,
    case_lon: float,
    case_lat: float,
    dispatched_at: datetime,
    handled_at: datetime,
    same_place_m: float = SAME_PLACE_M,
    near_case_m: float = NEAR_CASE_M,
    local_tz: tzinfo | None = None,
) -> VerificationCheck:
    """Check a handling's before/after photos; a naive EXIF time is read in `local_tz`."""
    if dispatched_at.tzinfo is None:
        raise InvalidInput("dispatched_at", "needs a time zone")
    if handled_at.tzinfo is None:
        raise InvalidInput("handled_at", "needs a time zone")
    zone = local_tz or ZoneInfo(DEFAULT_TIMEZONE)
    before_image, after_image = open_photo(before), open_photo(after)
    before_facts, after_facts = photo_facts(before_image), photo_facts(after_image)
    case = (case_lon, case_lat)
    apart = distance_m(before_facts.gps, after_facts.gps)
    before_from_case = distance_m(before_facts.gps, case)
    after_from_case = distance_m(after_facts.gps, case)
    flags = _place_flags(apart, before_from_case, after_from_case, same_place_m, near_case_m)
    flags += _time_flags(
        _aware(before_facts.taken_at, zone),
        _aware(after_facts.taken_at, zone),
        dispatched_at,
        handled_at,
        zone,
    )
    same_bytes = hashlib.sha256(before).digest() == hashlib.sha256(after).digest()
    before_scene, after_scene = SceneSignature.of(before_image), SceneSignature.of(after_image)
    similarity = before_scene.similarity(after_scene)
    flags += _scene_flags(same_bytes, before_scene.same_pixels(after_scene), similarity)
    facts = VerificationFacts(
        before_facts, after_facts, apart, before_from_case, after_from_case, similarity, same_bytes
    )
    ok = not any(flag.severity is Severity.SUSPICIOUS for flag in flags)
    return VerificationCheck(ok, tuple(flags), facts)


def _place_flags(
    apart: float | None,
    before_from_case: float | None,
    after_from_case: float | None,
    same_place_m: float,
    near_case_m: float,
) -> list[Flag]:
    flags: list[Flag] = []
    if before_from_case is None or after_from_case is None:
        which = _which(before_from_case is None, after_from_case is None)
        flags.append(
            Flag(
                "gps_missing",
                f"{which[0]}照片没有GPS位置，无法核对拍摄地点",
                f"{which[1]} no GPS position; the place cannot be checked",
                Severity.UNVERIFIABLE,
            )
        )
    if apart is not None and apart > same_place_m:
        flags.append(
            Flag(
                "photos_far_apart",
                f"处置前后照片拍摄位置相距约{apart:.0f}米（超过{same_place_m:.0f}米）",
                f"the before and after photos were taken about {apart:.0f} m apart "
                f"(over {same_place_m:.0f} m)",
            )
        )
    for distance, zh, en in (
        (before_from_case, "处置前", "before"),
        (after_from_case, "处置后", "after"),
    ):
        if distance is not None and distance > near_case_m:
            flags.append(
                Flag(
                    f"{en}_photo_far_from_case",
                    f"{zh}照片拍摄位置距案件位置约{distance:.0f}米（超过{near_case_m:.0f}米）",
                    f"the {en} photo was taken about {distance:.0f} m from the case "
                    f"(over {near_case_m:.0f} m)",
                )
            )
    return flags


def _time_flags(
    before: datetime | None,
    after: datetime | None,
    dispatched_at: datetime,
    handled_at: datetime,
    zone: tzinfo,
) -> list[Flag]:
    def _local(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    flags: list[Flag] = []
    if before is None or after is None:
        which = _which(before is None, after is None)
        flags.append(
            Flag(
                "time_missing",
                f"{which[0]}照片没有拍摄时间，无法核对先后",
                f"{which[1]} no time taken; the order cannot be checked",
                Severity.UNVERIFIABLE,
            )
        )
    if after is None:
        return flags
    if before is not None and after <= before:
        flags.append(
            Flag(
                "after_not_later",
                f"处置后照片的拍摄时间（{_local(after)}）不晚于处置前照片（{_local(before)}）",
                f"the after photo ({_local(after)}) was not taken later than the before photo "
                f"({_local(before)})",
            )
        )
    if after < dispatched_at:
        flags.append(
            Flag(
                "after_before_dispatch",
                f"处置后照片拍摄于派遣（{_local(dispatched_at)}）之前（{_local(after)}）",
                f"the after photo ({_local(after)}) was taken before the dispatch "
                f"({_local(dispatched_at)})",
            )
        )
    if after > handled_at + CLOCK_TOLERANCE:
        flags.append(
            Flag(
                "after_later_than_handling",
                f"处置后照片拍摄于处置反馈（{_local(handled_at)}）之后（{_local(after)}）",
                f"the after photo ({_local(after)}) was taken after the handling was reported "
                f"({_local(handled_at)})",
            )
        )
    return flags


def _scene_flags(same_bytes: bool, pixel_correlation: float, similarity: float) -> list[Flag]:
    if same_bytes or pixel_correlation >= REUSED_MIN:
        how = "同一文件" if same_bytes else "同一画面"
        how_en = "the same file" if same_bytes else "the same picture"
        return [
            Flag(
                "after_photo_reused",
                f"处置后照片与处置前照片是{how}，看不出任何处置变化",
                f"the after photo is {how_en} as the before photo: no change is visible",
            )
        ]
    if similarity < SAME_SCENE_MIN:
        return [
            Flag(
                "different_scene",
                f"处置前后照片不像同一场景（相似度{similarity:.2f}，低于{SAME_SCENE_MIN:.2f}）",
                f"the before and after photos do not look like the same scene (similarity "
                f"{similarity:.2f}, below {SAME_SCENE_MIN:.2f})",
            )
        ]
    return []


def _edges(pixels: NDArray[np.float64]) -> NDArray[np.float64]:
    """Gradient orientations per cell of a grid, weighted by strength (a tiny HOG)."""
    dy, dx = np.gradient(pixels)
    magnitude = np.hypot(dx, dy)
    # Orientation modulo π: an edge is the same edge whether it is light-to-dark or dark-to-light.
    angle = np.mod(np.arctan2(dy, dx), np.pi)
    bins = np.minimum((angle / np.pi * _EDGE_BINS).astype(int), _EDGE_BINS - 1)
    cell = _EDGE_SIZE // _EDGE_CELLS
    histogram = np.zeros((_EDGE_CELLS, _EDGE_CELLS, _EDGE_BINS))
    rows, cols = np.indices(pixels.shape)
    np.add.at(histogram, (rows // cell, cols // cell, bins), magnitude)
    return histogram.ravel()


def _standardize(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each column to mean 0 and spread 1: brightness and contrast changes drop out."""
    spread = values.std(axis=0)
    standardized = (values - values.mean(axis=0)) / np.where(spread > 1e-9, spread, 1.0)
    return np.asarray(standardized, dtype=np.float64).ravel()


def _correlation(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denominator if denominator > 1e-12 else 0.0


def _aware(taken: datetime | None, zone: tzinfo) -> datetime | None:
    if taken is None or taken.tzinfo is not None:
        return taken
    return taken.replace(tzinfo=zone)


def _which(before_missing: bool, after_missing: bool) -> tuple[str, str]:
    """The photos lacking something, as the start of a sentence in Chinese and in English."""
    if before_missing and after_missing:
        return "处置前后", "the before and after photos have"
    return (
        ("处置前", "the before photo has") if before_missing else ("处置后", "the after photo has")
    )


def distance_m(a: tuple[float, float] | None, b: tuple[float, float] | None) -> float | None:
    """Great-circle metres between two (lon, lat) points; None when either is unknown."""
    if a is None or b is None:
        return None
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * _EARTH_RADIUS_M * math.asin(math.sqrt(h))
