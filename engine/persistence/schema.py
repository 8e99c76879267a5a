"""Creating and upgrading the database schema with Alembic (``serviceflow setup``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from engine.persistence.db import Database

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config() -> Config:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(database: Database) -> None:
    """Bring the schema to the newest migration; running it again changes nothing."""
    config = alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def autogenerate(database: Database, message: str) -> None:
    """Developer tool: write a migration for model changes (``serviceflow new-migration MSG``)."""
    config = alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
