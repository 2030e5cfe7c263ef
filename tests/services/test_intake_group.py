"""Group commit: what arrives while a group is stored waits and goes in the next one, each caller
gets its own result, and one item's failure never fails the others."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import pytest

from gridgov.services.intake_group import GroupCommit


class Store:
    """Records the groups it is given; the first one waits until `release` is set."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.groups: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on

    def __call__(self, items: Sequence[str]) -> list[str]:
        self.entered.set()
        if not self.groups:
            self.release.wait(10)
        self.groups.append(list(items))
        if self.fail_on in items:
            raise RuntimeError(f"cannot store {self.fail_on}")
        return [item.upper() for item in items]


def submit_all(group: GroupCommit[str, str], items: list[str], store: Store) -> dict[str, object]:
    """Submit each item from its own thread: the first alone, the rest while it is stored."""
    answers: dict[str, object] = {}

    def one(item: str) -> None:
        try:
            answers[item] = group.submit(item)
        except RuntimeError as exc:
            answers[item] = exc

    first = threading.Thread(target=one, args=(items[0],))
    first.start()
    assert store.entered.wait(10)
    rest = [threading.Thread(target=one, args=(item,)) for item in items[1:]]
    for t in rest:
        t.start()
    _until(lambda: group.waiting == len(rest))
    store.release.set()
    for t in [first, *rest]:
        t.join(10)
    return answers


def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_items_arriving_while_a_group_is_stored_go_together_in_the_next_one() -> None:
    store = Store()
    group = GroupCommit(store, max_group=100)
    items = ["a", "b", "c", "d", "e", "f"]

    answers = submit_all(group, items, store)

    assert answers == {item: item.upper() for item in items}
    assert store.groups[0] == ["a"]
    assert sorted(store.groups[1]) == ["b", "c", "d", "e", "f"]
    assert (group.groups, group.items) == (2, 6)


def test_a_group_is_never_larger_than_its_maximum() -> None:
    store = Store()
    group = GroupCommit(store, max_group=2)
    items = ["a", "b", "c", "d", "e", "f"]

    answers = submit_all(group, items, store)

    assert answers == {item: item.upper() for item in items}
    assert [len(g) for g in store.groups] == [1, 2, 2, 1]


def test_a_failing_group_is_stored_one_by_one_and_only_the_bad_item_fails() -> None:
    store = Store(fail_on="c")
    group = GroupCommit(store, max_group=100)
    items = ["a", "b", "c", "d"]

    answers = submit_all(group, items, store)

    assert isinstance(answers.pop("c"), RuntimeError)
    assert answers == {"a": "A", "b": "B", "d": "D"}
    assert sorted(store.groups[1]) == ["b", "c", "d"]
    assert sorted(store.groups[2:]) == [["b"], ["c"], ["d"]]


def test_one_caller_at_a_time_is_a_group_of_one() -> None:
    store = Store()
    store.release.set()
    group = GroupCommit(store, max_group=100)

    assert [group.submit(item) for item in "xyz"] == ["X", "Y", "Z"]
    assert store.groups == [["x"], ["y"], ["z"]]
    assert group.waiting == 0


def test_a_maximum_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_group"):
        GroupCommit(Store(), max_group=0)
