"""Channel pushes as the real channels send them, for the load and crash tools.

Each payload starts from the channel's sample in docs/channels/*.json, gets a fresh external id,
times of "now", and a place in the demo city: coordinates (WGS84) for the channels that send them,
a compound's full address for the heating company, which sends only an address.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridgov.grids.model import Grid, GridLevel

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "docs" / "channels"

# Every channel that pushes over HTTP, with the payload field that carries its external id.
ID_FIELDS = {
    "hotline_12345": "order_no",
    "police_110": "incident_no",
    "city_management": "case_no",
    "civilization": "finding_id",
    "heating": "complaint_no",
    "citizen_app": "submission_id",
    "grid_patrol": "report_id",
    "iot_sensor": "device_id",
}
PUSH_CHANNELS = tuple(ID_FIELDS)

TEXTS = (
    "小区门口污水井盖破损塌陷，已有老人绊倒，请尽快处理。",
    "楼下夜宵摊油烟和噪声扰民，持续多日。",
    "人行道被三个摊位占着卖水果，行人只能走机动车道。",
    "路边有暴露垃圾两处、建筑垃圾一堆，未见保洁人员。",
    "单元门口和楼道墙面张贴大量开锁、办证小广告。",
    "路灯连续三晚不亮，夜间行人看不清路面。",
    "绿化带里树木倒伏压住了自行车道。",
    "工地夜间施工噪声很大，影响休息。",
    "雨水篦子堵塞，路口积水没过脚踝。",
    "共享单车乱停乱放堵住了盲道。",
)


@dataclass(frozen=True, slots=True)
class Place:
    lon: float
    lat: float
    address: str


def sample(channel: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / f"{channel}.json").read_text(encoding="utf-8"))
    return data


def places(grids: list[Grid], limit: int = 5000, seed: int = 11) -> list[Place]:
    """Points inside compounds of the city, with the compound's full address."""
    by_code = {g.code: g for g in grids}
    compounds = [g for g in grids if g.level is GridLevel.COMPOUND]
    rng = random.Random(seed)
    chosen = rng.sample(compounds, min(limit, len(compounds)))
    found = []
    for g in chosen:
        community = by_code[g.parent_code or ""]
        street = by_code[community.parent_code or ""]
        district = by_code[street.parent_code or ""]
        point = g.geometry.representative_point()
        address = f"{district.name}{street.name}{community.name}{g.name}3号楼"
        found.append(Place(round(point.x, 6), round(point.y, 6), address))
    return found


def payload(
    channel: str, external_id: str, place: Place, at: dt.datetime, text: str
) -> dict[str, Any]:
    """One push of `channel` with this id, place, event time and description."""
    p = copy.deepcopy(sample(channel))
    when = at.isoformat(timespec="seconds")
    where = {"lon": place.lon, "lat": place.lat, "crs": "wgs84"}
    p[ID_FIELDS[channel]] = external_id
    if channel == "hotline_12345":
        p.update(accepted_at=when, content=text, title=None, location=where)
        p.pop("deadline", None)
    elif channel == "police_110":
        p.update(reported_at=when, transferred_at=when, summary=text)
        p["location"] = {**where, "address": place.address}
    elif channel == "city_management":
        p.update(found_at=when, description=text)
        p["location"] = {**where, "address": place.address}
    elif channel == "civilization":
        p.update(inspected_at=when, description=text, address=place.address, location=where)
        p["rectify_by"] = (at + dt.timedelta(days=2)).isoformat(timespec="seconds")
    elif channel == "heating":
        p.update(complained_at=when, address=place.address)
    elif channel == "citizen_app":
        p.update(submitted_at=when, text=text, photos=[], gps=where)
    elif channel == "grid_patrol":
        p.update(patrolled_at=when, text=text, photos=[], gps={**where, "address": place.address})
    elif channel == "iot_sensor":
        p.update(measured_at=when, location={**where, "address": place.address})
    return p
