"""The repositories, one import away: grid layers and people in grids."""

from gridgov.store.layers import LayerRepository
from gridgov.store.people import PeopleRepository

__all__ = ["LayerRepository", "PeopleRepository"]
