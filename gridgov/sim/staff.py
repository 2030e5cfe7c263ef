"""Demo sign-in accounts for the simulated city: one per kind of desk, around one demo point.

The accounts let a person who just ran `make demo` open every page: the city centre, one
district and one street operation centre, a community and a grid worker, a department handler,
the police liaison and an auditor. They share one password that the CLI prints; a deployment
never creates them (the command refuses GRIDGOV_ENV=prod).
"""

from __future__ import annotations

from dataclasses import dataclass

from gridgov.grids.model import Grid, GridLevel

# 陇海路社区, 淮河路街道, 二七区: the point `make demo` locates, so the demo accounts and the first
# answer a new user sees are about the same place.
DEMO_POINT = (113.66, 34.75)
DEMO_PASSWORD = "gridgov-demo-2026"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    username: str
    role: str
    display_name: str
    scope_code: str | None = None
    department_code: str | None = None


def demo_accounts(grids: dict[GridLevel, Grid], city_code: str) -> list[DemoAccount]:
    """The demo desks for the grid path of the demo point (district down to micro-grid)."""
    district = grids[GridLevel.DISTRICT]
    street = grids[GridLevel.STREET]
    community = grids[GridLevel.COMMUNITY]
    finest = grids.get(GridLevel.MICRO) or grids.get(GridLevel.COMPOUND) or community
    return [
        DemoAccount("admin", "city_admin", "市城运中心 管理员"),
        DemoAccount("district", "district_operator", f"{district.name} 城运中心", district.code),
        DemoAccount("street", "street_operator", f"{street.name} 城运中心", street.code),
        DemoAccount(
            "community", "community_worker", f"{community.name} 社区工作者", community.code
        ),
        DemoAccount("worker", "grid_worker", f"{finest.name} 网格员", finest.code),
        DemoAccount(
            "handler",
            "department_handler",
            "市城市管理局 处置人员",
            department_code=f"{city_code}.urban_management",
        ),
        DemoAccount("police", "police_liaison", f"{district.name} 110 联动 联络员", district.code),
        DemoAccount("auditor", "auditor", "审计员"),
    ]
