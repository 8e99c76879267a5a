"""Process versions: loading definitions as published versions and listing what can be started."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from engine.catalog import ProcessBundle, bundles_from_directory, parse_bundle
from engine.clock import utcnow
from engine.context import EngineContext
from engine.errors import NotFound
from engine.persistence.models import ProcessFile, ProcessVersion


@dataclass(frozen=True)
class ProcessSummary:
    id: str
    name: str
    version: int
    content_hash: str
    published_at: str | None


def _summary(row: ProcessVersion) -> ProcessSummary:
    published = row.published_at.isoformat() if row.published_at else None
    return ProcessSummary(row.process_id, row.name, row.version, row.content_hash, published)


def publish_bundle(ctx: EngineContext, bundle: ProcessBundle) -> tuple[ProcessSummary, bool]:
    """Store a bundle as the newest published version of its process, unless that exact content
    is already a version (then nothing changes). The bundle is parsed first: a definition that
    does not parse is never stored."""
    parsed = parse_bundle(bundle)
    with ctx.unit_of_work() as uow:
        existing = uow.session.scalar(
            select(ProcessVersion).where(
                ProcessVersion.process_id == bundle.process_id,
                ProcessVersion.content_hash == parsed.content_hash,
            )
        )
        if existing is not None:
            return _summary(existing), False
        latest = uow.session.scalar(
            select(func.max(ProcessVersion.version)).where(ProcessVersion.process_id == bundle.process_id)
        )
        row = ProcessVersion(
            process_id=bundle.process_id,
            name=bundle.name,
            version=(latest or 0) + 1,
            content_hash=parsed.content_hash,
            status="published",
            published_at=utcnow(),
            files=[ProcessFile(path=p, content=c) for p, c in sorted(bundle.files.items())],
        )
        uow.session.add(row)
        uow.commit()
        return _summary(row), True


def publish_directory(ctx: EngineContext, workflows_dir: Path, forms_dir: Path) -> list[tuple[ProcessSummary, bool]]:
    """Publish every executable process found in a workflows directory (setup does this)."""
    return [publish_bundle(ctx, b) for b in bundles_from_directory(workflows_dir, forms_dir)]


def latest_versions_query():  # type: ignore[no-untyped-def]
    latest = (
        select(ProcessVersion.process_id, func.max(ProcessVersion.version).label("version"))
        .where(ProcessVersion.status == "published")
        .group_by(ProcessVersion.process_id)
        .subquery()
    )
    return select(ProcessVersion).join(
        latest,
        (ProcessVersion.process_id == latest.c.process_id) & (ProcessVersion.version == latest.c.version),
    )


def list_published(ctx: EngineContext) -> list[ProcessSummary]:
    """The newest published version of every process, by name."""
    with ctx.unit_of_work(readonly=True) as uow:
        rows = uow.session.scalars(latest_versions_query().order_by(ProcessVersion.name))
        return [_summary(r) for r in rows]


def latest_published(session, process_id: str) -> ProcessVersion:  # type: ignore[no-untyped-def]
    """The version new cases of ``process_id`` start on."""
    row = session.scalar(latest_versions_query().where(ProcessVersion.process_id == process_id))
    if row is None:
        raise NotFound(f"No published process {process_id!r}")
    return row
