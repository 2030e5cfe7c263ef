"""The deterministic Zhengzhou-scale demo city: every grid from 郑州市 down to the micro-grids, plus
the special grids, in WGS84 lon/lat.

How `generate_city` builds it:
1. districts: the 12 DataV polygons, GCJ-02 → WGS84 with our converter, overlaps given to the lower
   adcode (`city_geometry.load_districts`);
2. counts: each level's total is split over the districts in proportion to an urban-weighted seed
   density, never below the number of official NBS names a district holds, so that at full scale
   every official town and village is used; totals stay exact;
3. micro-grids: seeds drawn from the density inside each district, Voronoi cells per district, all
   cut from one planar partition (`city_geometry.micro_cells`);
4. streets, communities, compounds: top-down, the micro cells of a parent are grouped around seeds
   chosen among its own cells; bottom-up, each grid is the coverage union of its children;
5. specials: stars and rectangles placed from the same density, wholly inside the city.

Functional zones of the NBS list (经开区 410171, 高新区 410172, 航空港区 410173) have no boundary;
their towns become streets of a host district (`city_names.HOSTED_ZONES`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import ArrayLike
from shapely.geometry.base import BaseGeometry

from gridgov.grids.model import REGULAR_LEVELS, Grid, GridLevel, SpecialKind
from gridgov.sim.city_geometry import (
    Density,
    District,
    Floats,
    Geoms,
    Ints,
    Lattice,
    draw_seeds,
    group_points,
    grow_groups,
    load_districts,
    micro_cells,
    scaled,
    special_shape,
    union_groups,
    voronoi_edges,
)
from gridgov.sim.city_names import (
    CITY_CODE,
    CITY_NAME,
    RESPONSIBLE_UNITS,
    NameMaker,
    Town,
    Village,
    generated_code,
    load_towns,
)

Progress = Callable[[str, int, int], None]

DEFAULT_SEED = 20261127
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LevelCounts:
    street: int
    community: int
    compound: int
    micro: int
    special: int

    @classmethod
    def at_scale(cls, scale: float, districts: int) -> LevelCounts:
        """The full-scale counts times `scale`, but at least one grid per parent."""
        if not scale > 0:
            raise ValueError(f"scale must be positive, not {scale}")
        full = FULL_SCALE

        def scaled_count(n: int, floor: int) -> int:
            return max(math.floor(n * scale + 0.5), floor)

        street = scaled_count(full.street, districts)
        community = scaled_count(full.community, street)
        compound = scaled_count(full.compound, community)
        micro = scaled_count(full.micro, compound)
        return cls(street, community, compound, micro, scaled_count(full.special, 0))


FULL_SCALE = LevelCounts(street=215, community=3530, compound=19582, micro=47188, special=4835)

# Share of special grids by kind, their size range in km², and how often they are star-shaped.
_SPECIAL_KINDS: dict[SpecialKind, tuple[float, tuple[float, float], float]] = {
    SpecialKind.SCHOOL: (0.30, (0.01, 0.15), 0.2),
    SpecialKind.HOSPITAL: (0.08, (0.01, 0.12), 0.2),
    SpecialKind.MARKET: (0.14, (0.01, 0.08), 0.3),
    SpecialKind.PARK: (0.10, (0.03, 0.5), 0.9),
    SpecialKind.CONSTRUCTION_SITE: (0.14, (0.01, 0.2), 0.3),
    SpecialKind.TRANSPORT_HUB: (0.05, (0.02, 0.3), 0.7),
    SpecialKind.INDUSTRIAL_PARK: (0.06, (0.1, 0.5), 0.3),
    SpecialKind.SCENIC_AREA: (0.04, (0.1, 0.5), 0.9),
    SpecialKind.GOVERNMENT: (0.09, (0.01, 0.05), 0.1),
}
_ROOM_PER_VILLAGE = 0.6
# Scenic areas and industrial parks lie mostly outside the urban core.
_SPREAD_KINDS = (SpecialKind.SCENIC_AREA, SpecialKind.INDUSTRIAL_PARK)


def generate_city(
    seed: int = DEFAULT_SEED, *, scale: float = 1.0, progress: Progress | None = None
) -> list[Grid]:
    """Every grid of the demo city, coarse to fine, then the specials; the same for the same seed.

    `progress(step, done, total)` is called through the steps "districts", "voronoi", "hierarchy",
    "partition", "union" and "specials", each ending with done == total.
    """
    report: Progress = progress or _silent
    report("districts", 0, 1)
    districts, overlap = load_districts()
    log.info("district overlaps removed: %.3g km²", overlap)
    counts = LevelCounts.at_scale(scale, len(districts))
    density = Density.for_districts(districts)
    lattice = Lattice.over(districts, density)
    report("districts", 1, 1)

    towns = load_towns()
    plan = _plan_districts(counts, districts, towns, lattice.district_mass(len(districts)))
    seeds: list[Floats] = []
    edges: list[Geoms] = []
    for i, district in enumerate(districts):
        rng = np.random.default_rng([seed, 1, i])
        seeds.append(draw_seeds(lattice, i, district, int(plan.micro[i]), rng))
        edges.append(voronoi_edges(district, seeds[-1]))
        report("voronoi", i + 1, len(districts))

    taken = {t.name for ts in towns.values() for t in ts}
    taken |= {v.name for ts in towns.values() for t in ts for v in t.villages}
    namer = NameMaker(np.random.default_rng([seed, 3]), taken)
    tree = _Hierarchy([d.adcode + "000000" for d in districts])
    for i, district in enumerate(districts):
        rng = np.random.default_rng([seed, 2, i])
        _divide_district(
            tree, i, towns.get(district.adcode, []), plan, seeds[i], density, namer, rng
        )
        report("hierarchy", i + 1, len(districts))

    report("partition", 0, 4)
    micro = micro_cells(
        districts, seeds, edges, lambda done, total: report("partition", done, total)
    )
    geoms = tree.unions(micro, report)
    city = shapely.coverage_union_all(geoms[GridLevel.DISTRICT])
    grids = [Grid(CITY_CODE, CITY_NAME, GridLevel.CITY, city)]
    for d, geom in zip(districts, geoms[GridLevel.DISTRICT], strict=True):
        grids.append(Grid(d.adcode + "000000", d.name, GridLevel.DISTRICT, geom, CITY_CODE))
    grids += tree.grids(geoms)
    rng = np.random.default_rng([seed, 4])
    streets = geoms[GridLevel.STREET]
    specials = _specials(
        counts.special, rng, lattice, city, tree, streets, districts, namer, report
    )
    return grids + specials


def _silent(step: str, done: int, total: int) -> None:
    pass


def apportion(
    total: int,
    weights: ArrayLike,
    floors: ArrayLike,
    caps: ArrayLike | None = None,
) -> Ints:
    """Split `total` into integers ∝ weights, each within [floor, cap], summing to `total` exactly.

    Water-filling: find λ with Σ clip(λ·w, floor, cap) = total, then hand the rounding remainder
    to the largest fractional parts (ties to the lower index).
    """
    w = np.asarray(weights, dtype=np.float64)
    lo = np.asarray(floors, dtype=np.int64)
    hi = np.full(len(w), total, dtype=np.int64) if caps is None else np.asarray(caps, np.int64)
    if lo.sum() > total or hi.sum() < total or (lo > hi).any():
        raise ValueError(f"cannot split {total} within floors {lo.tolist()} and caps {hi.tolist()}")
    w = np.where(w > 0, w, 1e-12)
    a, b = 0.0, total / w.min() + 1.0
    for _ in range(200):
        mid = (a + b) / 2
        if np.clip(mid * w, lo, hi).sum() <= total:
            a = mid
        else:
            b = mid
    share = np.clip(a * w, lo, hi)
    result = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - result), kind="stable")
    while (left := total - int(result.sum())) > 0:
        room = order[result[order] < hi[order]][:left]
        result[room] += 1
    return result


@dataclass(frozen=True, slots=True)
class _DistrictPlan:
    streets: Ints
    communities: Ints
    compounds: Ints
    micro: Ints


def _plan_districts(
    counts: LevelCounts, districts: list[District], towns: dict[str, list[Town]], mass: Floats
) -> _DistrictPlan:
    """Counts per district at every level; official names are floors whenever they all fit."""
    official = np.array([len(towns.get(d.adcode, [])) for d in districts])
    ones = np.ones(len(districts), dtype=np.int64)
    streets = apportion(counts.street, mass, official if official.sum() <= counts.street else ones)
    used = [towns.get(d.adcode, [])[:n] for d, n in zip(districts, streets, strict=True)]
    villages = np.array([sum(len(t.villages) for t in ts) for ts in used])
    # Every generated street needs a community of its own on top of the official villages.
    floors = villages + streets - np.array([len(ts) for ts in used])
    communities = apportion(
        counts.community, mass, floors if floors.sum() <= counts.community else streets
    )
    compounds = apportion(counts.compound, mass, communities)
    micro = apportion(counts.micro, mass, compounds)
    return _DistrictPlan(streets, communities, compounds, micro)


@dataclass
class _Level:
    """Codes, names and parent indices of one level's grids, in creation order."""

    codes: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)

    def add(self, code: str, name: str, parent: int) -> int:
        self.codes.append(code)
        self.names.append(name)
        self.parents.append(parent)
        return len(self.codes) - 1


@dataclass
class _Hierarchy:
    """The regular grids below the districts; micro-grids are kept in global seed order."""

    district_codes: list[str]
    streets: _Level = field(default_factory=_Level)
    towns: list[Town] = field(default_factory=list)
    communities: _Level = field(default_factory=_Level)
    compounds: _Level = field(default_factory=_Level)
    micro: _Level = field(default_factory=_Level)

    def levels(self) -> tuple[tuple[GridLevel, _Level, list[str]], ...]:
        """Each level below the districts with the codes of its parent level."""
        return (
            (GridLevel.STREET, self.streets, self.district_codes),
            (GridLevel.COMMUNITY, self.communities, self.streets.codes),
            (GridLevel.COMPOUND, self.compounds, self.communities.codes),
            (GridLevel.MICRO, self.micro, self.compounds.codes),
        )

    def unions(self, micro: Geoms, report: Progress) -> dict[GridLevel, Geoms]:
        """Geometry of every level up to the districts, each grid the union of its children."""
        geoms = {GridLevel.MICRO: micro}
        upward = tuple(reversed(self.levels()))
        for done, (level, rows, parent_codes) in enumerate(upward):
            parents = np.array(rows.parents, dtype=np.int64)
            parent_level = REGULAR_LEVELS[level.rank - 1]
            geoms[parent_level] = union_groups(geoms[level], parents, len(parent_codes))
            report("union", done + 1, len(upward))
        return geoms

    def grids(self, geoms: dict[GridLevel, Geoms]) -> list[Grid]:
        out: list[Grid] = []
        for level, rows, parent_codes in self.levels():
            for code, name, parent, geom in zip(
                rows.codes, rows.names, rows.parents, geoms[level], strict=True
            ):
                out.append(Grid(code, name, level, geom, parent_codes[parent]))
        return out


def _divide_district(
    tree: _Hierarchy,
    index: int,
    towns: list[Town],
    plan: _DistrictPlan,
    seeds: Floats,
    density: Density,
    namer: NameMaker,
    rng: np.random.Generator,
) -> None:
    """Group a district's micro seeds into streets, communities and compounds, and name them all.

    Groups are ranked densest first and matched to names in the order 街道, 镇, 乡 and 社区, 村,
    so that urban names land downtown.
    """
    points = scaled(seeds)
    weight = density.per_km2(seeds[:, 0], seeds[:, 1])
    n_communities = int(plan.communities[index])
    slots = _street_slots(tree.district_codes[index][:6], towns, int(plan.streets[index]), namer)
    street_of_seed = _group_streets(points, weight, slots, n_communities, rng)
    per_street = _communities_per_street(street_of_seed, slots, n_communities)
    villages: list[Village] = []
    community_of_seed = np.empty(len(seeds), dtype=np.int64)
    for s, town in enumerate(slots):
        street = tree.streets.add(town.code + "000", town.name, index)
        tree.towns.append(town)
        members = np.flatnonzero(street_of_seed == s)
        k = int(per_street[s])
        local = _ranked_groups(points[members], weight[members], k, rng)
        for c, village in enumerate(_community_slots(town, k, namer)):
            community_of_seed[members[local == c]] = len(villages)
            villages.append(village)
            tree.communities.add(village.code, village.name, street)
    first = len(tree.communities.codes) - len(villages)
    compounds = int(plan.compounds[index])
    _divide_communities(tree, first, villages, community_of_seed, points, compounds, namer, rng)


def _ranked_groups(points: Floats, weight: Floats, k: int, rng: np.random.Generator) -> Ints:
    """`group_points` with the groups renumbered by mean seed density, densest first."""
    labels = group_points(points, k, rng)
    mean = np.bincount(labels, weights=weight, minlength=k) / np.bincount(labels, minlength=k)
    rank = np.empty(k, dtype=np.int64)
    rank[np.argsort(-mean, kind="stable")] = np.arange(k)
    return rank[labels]


def _group_streets(
    points: Floats, weight: Floats, slots: list[Town], communities: int, rng: np.random.Generator
) -> Ints:
    """Street of each seed, numbered like `slots`, with room for each town's official villages.

    Nearest-seed groups hold few cells where seeds are sparse, which is where the 镇 with 30–40
    villages are; such streets are grown to at least ~60 % of an average community's cells per
    official village.
    """
    labels = _ranked_groups(points, weight, len(slots), rng)
    wanted = np.array([len(t.villages) for t in slots], dtype=np.float64)
    need = np.ceil(_ROOM_PER_VILLAGE * wanted * len(points) / communities).astype(np.int64)
    if need.sum() <= len(points):
        labels = grow_groups(points, labels, np.maximum(need, 1))
    return labels


def _communities_per_street(street_of_seed: Ints, slots: list[Town], total: int) -> Ints:
    """Communities per street ∝ its cells, at least its official villages when they all fit."""
    cells = np.bincount(street_of_seed, minlength=len(slots))
    floors = np.clip([len(t.villages) for t in slots], 1, cells)
    if floors.sum() > total:
        floors = np.ones(len(slots), dtype=np.int64)
    return apportion(total, cells, floors, cells)


def _divide_communities(
    tree: _Hierarchy,
    first: int,
    villages: list[Village],
    community_of_seed: Ints,
    points: Floats,
    total: int,
    namer: NameMaker,
    rng: np.random.Generator,
) -> None:
    """Split a district's communities into `total` compounds (∝ cells), and those into micro-grids."""
    cells = np.bincount(community_of_seed, minlength=len(villages))
    per_community = apportion(total, cells, np.ones_like(cells), cells)
    compound_of_seed = np.empty(len(points), dtype=np.int64)
    by_community = np.argsort(community_of_seed, kind="stable")
    starts = np.cumsum(cells) - cells
    for c, village in enumerate(villages):
        members = by_community[starts[c] : starts[c] + cells[c]]
        k = int(per_community[c])
        if k > 999:
            raise ValueError(f"{k} compounds in {village.name} do not fit a 3-digit code")
        local = group_points(points[members], k, rng)
        for j, name in enumerate(namer.compounds(village, k)):
            compound_of_seed[members[local == j]] = tree.compounds.add(
                f"{village.code}{j + 1:03d}", name, first + c
            )
    numbered: dict[int, int] = {}
    for compound in compound_of_seed.tolist():
        n = numbered[compound] = numbered.get(compound, 0) + 1
        code = tree.compounds.codes[compound]
        if n > 99:
            raise ValueError(f"more than 99 micro-grids in compound {code}")
        tree.micro.add(f"{code}{n:02d}", f"第{n}微网格", compound)


def _street_slots(adcode: str, towns: list[Town], n: int, namer: NameMaker) -> list[Town]:
    """The n towns of a district's streets: official ones first (urban kinds first), then new."""
    used = towns[:n]
    extra = [
        Town(generated_code(adcode, j), namer.street(), (), generated=True)
        for j in range(n - len(used))
    ]
    return sorted(used + extra, key=lambda t: t.rank)


def _community_slots(town: Town, n: int, namer: NameMaker) -> list[Village]:
    """The n villages of a street's communities: official 社区 first, then new 社区, then 村."""
    used = list(town.villages[:n])
    used += [Village(generated_code(town.code, j), namer.community()) for j in range(n - len(used))]
    return sorted(used, key=lambda v: (v.is_rural, v.code))


def _specials(
    n: int,
    rng: np.random.Generator,
    lattice: Lattice,
    city: BaseGeometry,
    tree: _Hierarchy,
    streets: Geoms,
    districts: list[District],
    namer: NameMaker,
    report: Progress,
) -> list[Grid]:
    """n special grids, each wholly inside the street at its centroid, coded and named after it."""
    kinds = list(_SPECIAL_KINDS)
    shares = np.array([_SPECIAL_KINDS[k][0] for k in kinds])
    shapely.prepare(city)
    shapely.prepare(streets)
    index = shapely.STRtree(streets)
    centres = {spread: _centres(lattice, rng, city, uniform=spread) for spread in (False, True)}
    shapes: list[BaseGeometry] = []
    chosen: list[SpecialKind] = []
    street_of: list[int] = []
    for done in range(n):
        kind = kinds[int(rng.choice(len(kinds), p=shares))]
        _, (low, high), star_share = _SPECIAL_KINDS[kind]
        area = math.exp(rng.uniform(math.log(low), math.log(high)))
        star = bool(rng.random() < star_share)
        # A school or park is run by one street, so a shape crossing a street boundary is redrawn.
        while True:
            shape = special_shape(next(centres[kind in _SPREAD_KINDS]), area, star, rng)
            hits = index.query(shape.centroid, predicate="within")
            if len(hits) and streets[hits.min()].contains(shape):
                break
        shapes.append(shape)
        chosen.append(kind)
        street_of.append(int(hits.min()))
        if done % 500 == 0:
            report("specials", done, n)
    numbered: dict[int, int] = {}
    out: list[Grid] = []
    for geom, kind, street in zip(shapes, chosen, street_of, strict=True):
        town = tree.towns[street]
        district = districts[tree.streets.parents[street]].name
        k = numbered[street] = numbered.get(street, 0) + 1
        out.append(
            Grid(
                code=f"{town.code}9{k:05d}",
                name=namer.special(kind, district, town),
                level=GridLevel.SPECIAL,
                geometry=geom,
                parent_code=tree.streets.codes[street],
                special_kind=kind,
                responsible_unit=RESPONSIBLE_UNITS[kind],
            )
        )
    report("specials", n, n)
    return out


def _centres(
    lattice: Lattice, rng: np.random.Generator, city: BaseGeometry, *, uniform: bool
) -> Iterator[tuple[float, float]]:
    cells = np.arange(len(lattice.mass))
    while True:
        points = lattice.draw(256, rng, city, cells, uniform=uniform)
        yield from zip(points[:, 0].tolist(), points[:, 1].tolist(), strict=True)
