"""API v1 for moving running cases to another version of their process
(engine.services.migrations): a dry run or a real run of a batch, one migration, its revert."""

from __future__ import annotations

from flask import g, jsonify

from engine.services import migrations
from web.api import _body, bp
from web.api.serialize import to_json
from web.context import engine


@bp.post("/migrations")
def migrate_cases():  # type: ignore[no-untyped-def]
    """Judge (``dry_run``, the default) or move the cases a batch names or filters: 200 with the
    verdicts of a dry run, 201 with the recorded migration's results."""
    request = migrations.read_request(_body())
    result = migrations.migrate_cases(engine(), g.actor, request)
    return jsonify(to_json(result)), 200 if result.dry_run else 201


@bp.get("/migrations/<int:migration_id>")
def get_migration(migration_id: int):  # type: ignore[no-untyped-def]
    """A migration with each case's outcome and whether it may still be reverted."""
    return jsonify(to_json(migrations.get_migration(engine(), g.actor, migration_id)))


@bp.post("/migrations/<int:migration_id>/revert")
def revert_migration(migration_id: int):  # type: ignore[no-untyped-def]
    """Move the migration's cases back, each only while nothing has happened in it since."""
    return jsonify(to_json(migrations.revert_migration(engine(), g.actor, migration_id)))
