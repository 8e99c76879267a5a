"""The one place that assembles the engine: database, catalog, script engine and caches."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from engine.config import Settings
from engine.definitions.catalog import ParsedProcess, ProcessBundle, ProcessCatalog
from engine.persistence.db import Database
from engine.persistence.models import Department, ProcessVersion
from engine.persistence.uow import UnitOfWork
from engine.sandbox.environment import make_script_engine
from engine.spiff.runtime_cache import RuntimeCache
from engine.ttl_cache import TtlCache

TOKEN_CACHE_SECONDS = 30.0


@dataclass
class EngineContext:
    """Everything a use case needs; built once per process and shared by its threads."""

    settings: Settings
    database: Database
    catalog: ProcessCatalog = field(default_factory=ProcessCatalog)
    script_engine: Any = field(default_factory=make_script_engine)
    runtimes: RuntimeCache = field(default_factory=RuntimeCache)
    token_actors: TtlCache = field(default_factory=lambda: TtlCache(maxsize=1024, ttl=TOKEN_CACHE_SECONDS))
    _departments: frozenset[str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def unit_of_work(self, readonly: bool = False) -> UnitOfWork:
        return UnitOfWork(self.database, readonly=readonly)

    def process(self, version: ProcessVersion) -> ParsedProcess:
        """The parsed process of a stored version: parsed on first use, then from the catalog."""

        def load() -> ProcessBundle:
            files = {f.path: f.content for f in version.files}
            return ProcessBundle(process_id=version.process_id, name=version.name, files=files)

        return self.catalog.get(version.content_hash, load)

    def department_ids(self) -> frozenset[str]:
        """Department ids change only through setup/admin; read once, refreshed by ``forget``."""
        if self._departments is None:
            with self.unit_of_work(readonly=True) as uow:
                self._departments = frozenset(uow.session.scalars(select(Department.id)))
        return self._departments

    def forget_departments(self) -> None:
        self._departments = None


def build_context(settings: Settings | None = None) -> EngineContext:
    """Assemble an engine for the given (or the environment's) settings."""
    settings = settings or Settings.from_env()
    return EngineContext(
        settings=settings,
        database=Database.connect(settings.database_url),
        script_engine=make_script_engine(settings.sandbox_processes),
        runtimes=RuntimeCache(settings.runtime_cache_size),
    )
