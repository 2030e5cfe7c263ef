from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from gridgov.core.errors import InvalidInput, NotFound
from gridgov.store.files import FileStore


def test_stored_bytes_come_back_under_their_sha256(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    file_id = store.put(b"a photo")
    assert file_id == hashlib.sha256(b"a photo").hexdigest()
    assert store.get(file_id) == b"a photo"
    assert store.exists(file_id)


def test_files_are_laid_out_by_the_first_characters_of_their_id(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    file_id = store.put(b"layout")
    assert store.path(file_id) == tmp_path / file_id[:2] / file_id[2:4] / file_id
    assert store.path(file_id).read_bytes() == b"layout"


def test_storing_the_same_bytes_twice_stores_them_once(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    first = store.put(b"same")
    modified = store.path(first).stat().st_mtime_ns
    assert store.put(b"same") == first
    assert store.path(first).stat().st_mtime_ns == modified
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [store.path(first)]


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    for n in range(5):
        store.put(f"file {n}".encode())
    assert not [p for p in tmp_path.rglob(".incoming-*")]


def test_an_unknown_id_is_not_found(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    missing = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(missing)
    with pytest.raises(NotFound):
        store.get(missing)


@pytest.mark.parametrize(
    "crafted",
    [
        "../../etc/passwd",
        "../" + "a" * 61,
        "/etc/passwd",
        "A" * 64,
        "a" * 63,
        "a" * 65,
        "g" * 64,
        "a" * 62 + "/x",
        "",
    ],
)
def test_a_crafted_id_cannot_name_a_path_outside_the_root(tmp_path: Path, crafted: str) -> None:
    store = FileStore(tmp_path / "files")
    for call in (store.get, store.path, store.exists):
        with pytest.raises(InvalidInput) as refused:
            call(crafted)
        assert refused.value.field == "file_id"


def test_stored_files_are_readable_by_the_serving_process_group(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    mode = store.path(store.put(b"served")).stat().st_mode & 0o777
    assert mode == 0o644


def test_a_store_on_an_existing_root_sees_what_another_instance_stored(tmp_path: Path) -> None:
    file_id = FileStore(tmp_path).put(b"shared")
    assert FileStore(tmp_path).get(file_id) == b"shared"
    assert os.listdir(tmp_path) == [file_id[:2]]
