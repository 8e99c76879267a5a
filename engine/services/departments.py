"""The departments a lane can name, for the modeler's department choice."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from engine.context import EngineContext
from engine.persistence.models import Department


@dataclass(frozen=True)
class DepartmentChoice:
    id: str
    name: str


def list_departments(ctx: EngineContext, locale: str) -> list[DepartmentChoice]:
    """Every department with its name in the reader's language (English where no Chinese is kept),
    ordered by id: a lane names a department by id, which is what the engine routes tasks by."""
    with ctx.unit_of_work(readonly=True) as uow:
        rows = uow.session.scalars(select(Department).order_by(Department.id))
        return [DepartmentChoice(d.id, d.name_zh if locale == "zh" and d.name_zh else d.name) for d in rows]
