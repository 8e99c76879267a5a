"""Database engines for SQLite (the embedded default) and PostgreSQL (multi-host deployments)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_engine(url: str, begin: str) -> Engine:
    """SQLite with WAL and a busy timeout; write transactions start with BEGIN IMMEDIATE so that
    two writers queue instead of one failing half-way with "database is locked"."""
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql(begin)

    return engine


@dataclass
class Database:
    """The write engine and a read engine (the same one except on SQLite) with their sessions."""

    url: str
    engine: Engine
    read_engine: Engine
    _writer: sessionmaker = field(init=False, repr=False)
    _reader: sessionmaker = field(init=False, repr=False)
    write_lock: threading.RLock | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        self._writer = sessionmaker(bind=self.engine, expire_on_commit=False, autoflush=False)
        self._reader = sessionmaker(bind=self.read_engine, expire_on_commit=False, autoflush=False)
        if self.is_sqlite:
            # SQLite admits one writer; its busy handler makes the others poll with sleeps of up to
            # 100 ms. Writers of this process queue on a lock instead and start the moment it frees.
            self.write_lock = threading.RLock()

    @classmethod
    def connect(cls, url: str) -> Database:
        if url.startswith("sqlite"):
            return cls(url, _sqlite_engine(url, "BEGIN IMMEDIATE"), _sqlite_engine(url, "BEGIN"))
        engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
        return cls(url, engine, engine)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def session(self, readonly: bool = False) -> Session:
        """A session bound to the engine for this kind of work."""
        return (self._reader if readonly else self._writer)()

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
