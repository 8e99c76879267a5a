"""The unit of work: the only place in the code base that commits."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session

from engine.persistence.db import Database


class UnitOfWork:
    """One transaction. Leaving the block without ``commit()`` rolls everything back, so a
    failure anywhere between the engine step and the commit leaves the case as it was."""

    def __init__(self, database: Database, readonly: bool = False) -> None:
        self.database = database
        self.readonly = readonly
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self._lock = None if self.readonly else self.database.write_lock
        if self._lock is not None:
            self._lock.acquire()
        self.session = self.database.session(readonly=self.readonly)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.session.rollback()
            self.session.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    def commit(self) -> None:
        if self.readonly:
            raise RuntimeError("a read-only unit of work cannot commit")
        self.session.commit()
