"""Fixtures that build real data through the public services, on SQLite and on PostgreSQL.

Each backend is migrated and seeded once per test session; each test then gets a fresh copy
(SQLite: a copied file; PostgreSQL: case tables emptied), so tests stay fast and independent.
Where CI is set, a PostgreSQL that cannot be reached fails the run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Integer, create_engine, text

from engine.config import MailSettings, Settings
from engine.context import EngineContext, build_context
from engine.definitions.catalog import ProcessCatalog
from engine.persistence.models import Base
from engine.services.setup import setup

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("SERVICEFLOW_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SHARED_CATALOG = ProcessCatalog()


def settings_for(url: str, workflows: Path | None = None, forms: Path | None = None) -> Settings:
    return Settings(
        database_url=url,
        secret_key="test-secret",
        workflows_dir=workflows or ROOT / "workflows",
        forms_dir=forms or ROOT / "forms",
        mail=MailSettings(catalogs=ROOT / "web" / "translations"),
    )


def make_context(url: str, **kwargs: Path) -> EngineContext:
    ctx = build_context(settings_for(url, **kwargs))
    ctx.catalog = SHARED_CATALOG
    return ctx


def _pg_reachable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means unreachable
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """The tests run without ``make``: compile a catalog whose .mo is missing or older than its .po."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in (ROOT / "web" / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f)
        tmp = mo.with_name(f"messages.{os.getpid()}.mo.tmp")
        with tmp.open("wb") as f:
            write_mo(f, catalog)
        tmp.replace(mo)  # atomic: parallel workers may compile at the same time


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "serviceflow.db"
    ctx = make_context(f"sqlite:///{path}")
    setup(ctx, demo=True)
    ctx.database.dispose()
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    problem = _pg_reachable()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and unreachable: {problem}")
        pytest.skip(f"PostgreSQL unreachable: {problem}")
    name = f"serviceflow_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    ctx = make_context(url)
    setup(ctx, demo=True)
    ctx.database.dispose()
    _keep_seed(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _tables() -> list[str]:
    return [t.name for t in Base.metadata.sorted_tables]


def _keep_seed(url: str) -> None:
    """A copy of every table as setup left it, in schema ``seed``: each test starts from it."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA seed"))
        for table in _tables():
            conn.execute(text(f'CREATE TABLE seed."{table}" AS TABLE public."{table}"'))
    engine.dispose()


def _fresh_pg(url: str) -> None:
    """Every table back to the seed, sequences included: no test sees another's customers,
    versions, users, schedules or cases (as each SQLite test gets its own file)."""
    tables = _tables()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(f'public.{t}' for t in tables)} RESTART IDENTITY CASCADE"))
        for table in tables:
            conn.execute(text(f'INSERT INTO public."{table}" SELECT * FROM seed."{table}"'))
            for column in Base.metadata.tables[table].primary_key.columns:
                if not isinstance(column.type, Integer):
                    continue
                conn.execute(text(
                    f"SELECT setval(seq, (SELECT COALESCE(MAX({column.name}), 0) + 1 FROM public.\"{table}\"), false) "
                    f"FROM pg_get_serial_sequence('public.\"{table}\"', '{column.name}') AS seq "
                    "WHERE seq IS NOT NULL"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, seeded database with no cases, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "serviceflow.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_url")
    _fresh_pg(url)
    return url


@pytest.fixture
def ctx(db_url: str) -> Iterator[EngineContext]:
    context = make_context(db_url)
    yield context
    context.database.dispose()


@pytest.fixture
def app(ctx: EngineContext):  # type: ignore[no-untyped-def]
    from web import create_app

    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False}, context=ctx)


class ApiClient:
    """The JSON API as a given user, through Flask's test client and real bearer tokens."""

    def __init__(self, app, ctx: EngineContext) -> None:  # type: ignore[no-untyped-def]
        self.client = app.test_client()
        self.ctx = ctx
        self.tokens: dict[str, str] = {}

    def _headers(self, username: str | None) -> dict[str, str]:
        if username is None:
            return {}
        if username not in self.tokens:
            from engine.services.api_tokens import create_api_token

            self.tokens[username] = create_api_token(self.ctx, username, label="test")
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def get(self, path: str, as_: str | None = None):  # type: ignore[no-untyped-def]
        return self.client.get(f"/api/v1{path}", headers=self._headers(as_))

    def post(self, path: str, body: object | None = None, as_: str | None = None):  # type: ignore[no-untyped-def]
        return self.client.post(f"/api/v1{path}", json=body if body is not None else {}, headers=self._headers(as_))


@pytest.fixture
def api(app, ctx: EngineContext) -> ApiClient:  # type: ignore[no-untyped-def]
    return ApiClient(app, ctx)
