"""Content-addressed file storage on disk: a file's id is the SHA-256 of its bytes.

Layout under the root: `ab/cd/abcd…` (the first two byte pairs of the id as folders), so no folder
grows past 65,536 entries. Writes go to a temporary file in the target folder, are flushed to disk
and renamed into place, so a reader never sees half a file and a crash leaves at most a stray
temporary file; storing the same bytes twice stores them once.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from gridgov.core.errors import InvalidInput, NotFound

_ID = re.compile(r"[0-9a-f]{64}")


class FileStore:
    """Files by content under `root`; ids are validated, so no id can name a path outside it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, data: bytes) -> str:
        """Store `data` durably and return its id; the same bytes always give the same id."""
        file_id = hashlib.sha256(data).hexdigest()
        target = self._path(file_id)
        if target.exists():
            return file_id
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o644)
            # Two writers of the same bytes both rename onto the same, identical file: harmless.
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _sync_folder(target.parent)
        return file_id

    def get(self, file_id: str) -> bytes:
        """The bytes stored under `file_id`; NotFound if there are none."""
        try:
            return self._path(file_id).read_bytes()
        except FileNotFoundError:
            raise NotFound("file", file_id) from None

    def path(self, file_id: str) -> Path:
        """Where `file_id` is (or would be) stored, for serving it without reading it into memory."""
        return self._path(file_id)

    def exists(self, file_id: str) -> bool:
        return self._path(file_id).is_file()

    def _path(self, file_id: str) -> Path:
        if not isinstance(file_id, str) or _ID.fullmatch(file_id) is None:
            raise InvalidInput("file_id", "must be 64 lower-case hexadecimal characters (SHA-256)")
        return self.root / file_id[:2] / file_id[2:4] / file_id


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable; some filesystems do not support syncing a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
