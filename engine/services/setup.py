"""Bringing a database up to date: schema, departments, published process versions, demo data."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.context import EngineContext
from engine.definitions.validation import Problem
from engine.persistence import schema
from engine.services.directory import ensure_departments, seed_demo_customers, seed_demo_users
from engine.services.processes import ProcessSummary, publish_directory


@dataclass
class SetupReport:
    departments_added: int = 0
    published: list[ProcessSummary] = field(default_factory=list)
    unchanged: list[ProcessSummary] = field(default_factory=list)
    users_added: list[str] = field(default_factory=list)
    customers_added: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, why it was not published)
    problems: list[Problem] = field(default_factory=list)  # validation of what workflows/ holds


def setup(ctx: EngineContext, demo: bool = False) -> SetupReport:
    """Idempotent: a second run migrates nothing, publishes nothing new and adds no users. A bad
    definition file is reported in ``failed`` and the good ones are published all the same."""
    schema.upgrade(ctx.database)
    report = SetupReport(departments_added=ensure_departments(ctx))
    publication = publish_directory(ctx, ctx.settings.workflows_dir, ctx.settings.forms_dir)
    for summary, created in publication.published:
        (report.published if created else report.unchanged).append(summary)
    report.failed = publication.failures
    report.problems = publication.problems
    if demo:
        report.users_added = seed_demo_users(ctx)
        report.customers_added = seed_demo_customers(ctx)
    return report
