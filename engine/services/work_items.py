"""The inbox and who holds a task: claim, release, assign. Reads only the inbox index table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update

from engine import audit
from engine.context import EngineContext
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.persistence.models import Case, CaseEvent, User, UserDepartment, WorkItem
from engine.persistence.uow import UnitOfWork
from engine.services.actors import Actor


@dataclass(frozen=True)
class WorkItemView:
    id: str
    case_id: int
    process_id: str
    element_id: str
    title: str
    case_title: str
    customer: str
    lane: str | None
    department: str | None
    assignee: str | None
    form: str | None
    priority: int
    due_at: datetime | None
    created_at: datetime


def work_item_view(item: WorkItem) -> WorkItemView:
    return WorkItemView(
        id=item.id, case_id=item.case_id, process_id=item.process_id, element_id=item.element_id,
        title=item.title, case_title=item.case_title, customer=item.customer, lane=item.lane,
        department=item.department_id, assignee=item.assignee.username if item.assignee else None,
        form=item.form, priority=item.priority, due_at=item.due_at, created_at=item.created_at,
    )


def may_work_on(actor: Actor, item: WorkItem) -> bool:
    """A claimed task belongs to its assignee; an unclaimed one to its department's members."""
    if item.assignee_id is not None:
        return item.assignee_id == actor.id
    return item.department_id is not None and item.department_id in actor.departments


def check_may_work_on(actor: Actor, item: WorkItem) -> None:
    if may_work_on(actor, item):
        return
    if item.assignee_id is not None and item.department_id in actor.departments:
        raise Forbidden(f"This task is claimed by {item.assignee.username}")
    raise Forbidden("Only members of the task's department or its assignee may work on it")


def inbox(ctx: EngineContext, actor: Actor, limit: int = 100, offset: int = 0) -> list[WorkItemView]:
    """Open tasks of my departments and tasks assigned to me: priority first, then due, then age."""
    query = select(WorkItem).where(
        or_(WorkItem.assignee_id == actor.id, WorkItem.department_id.in_(sorted(actor.departments)))
    )
    query = query.order_by(
        WorkItem.priority.desc(), WorkItem.due_at.is_(None), WorkItem.due_at, WorkItem.created_at, WorkItem.id
    ).limit(limit).offset(offset)
    with ctx.unit_of_work(readonly=True) as uow:
        return [work_item_view(i) for i in uow.session.scalars(query)]


def find_open_item(uow: UnitOfWork, task_id: str) -> WorkItem:
    """The open task, or 409 when it existed and is done, or 404 when it never existed."""
    item = uow.session.get(WorkItem, task_id)
    if item is not None:
        return item
    seen = uow.session.scalar(select(CaseEvent.id).where(CaseEvent.task_id == task_id).limit(1))
    if seen is not None:
        raise Conflict("This task is no longer open: someone has already completed it")
    raise NotFound(f"No task {task_id}")


def _set_assignee(uow: UnitOfWork, item: WorkItem, expected: int | None, new: int | None) -> None:
    """Compare-and-set so that two people claiming at once cannot both win."""
    result = uow.session.execute(
        update(WorkItem)
        .where(WorkItem.id == item.id, WorkItem.assignee_id.is_(None) if expected is None
               else WorkItem.assignee_id == expected)
        .values(assignee_id=new)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("Someone else changed who holds this task; reload it")


def _record(uow: UnitOfWork, item: WorkItem, actor: Actor, type_: str, data: dict) -> None:
    case = uow.session.get(Case, item.case_id)
    uow.session.add(audit.record(case, type_, actor, data, task_id=item.id, element_id=item.element_id))


def claim(ctx: EngineContext, actor: Actor, task_id: str) -> WorkItemView:
    """Take an unclaimed task of one of my departments."""
    with ctx.unit_of_work() as uow:
        item = find_open_item(uow, task_id)
        if item.assignee_id == actor.id:
            return work_item_view(item)
        if item.assignee_id is not None:
            raise Conflict(f"This task is already claimed by {item.assignee.username}")
        if item.department_id not in actor.departments:
            raise Forbidden("Only members of the task's department may claim it")
        _set_assignee(uow, item, None, actor.id)
        _record(uow, item, actor, "task_claimed", {"assignee": actor.username})
        uow.session.refresh(item)
        view = work_item_view(item)
        uow.commit()
        return view


def release(ctx: EngineContext, actor: Actor, task_id: str) -> WorkItemView:
    """Give a task I hold back to its department (admins may release anyone's)."""
    with ctx.unit_of_work() as uow:
        item = find_open_item(uow, task_id)
        if item.assignee_id is None:
            return work_item_view(item)
        if item.assignee_id != actor.id and not actor.is_admin:
            raise Forbidden("Only the assignee may release this task")
        _set_assignee(uow, item, item.assignee_id, None)
        _record(uow, item, actor, "task_released", {"previous_assignee": item.assignee.username})
        uow.session.refresh(item)
        view = work_item_view(item)
        uow.commit()
        return view


def assign(ctx: EngineContext, actor: Actor, task_id: str, username: str) -> WorkItemView:
    """Hand a task to a colleague of its department."""
    with ctx.unit_of_work() as uow:
        item = find_open_item(uow, task_id)
        if not (may_work_on(actor, item) or actor.is_admin):
            check_may_work_on(actor, item)
        target = uow.session.scalar(select(User).where(User.username == username, User.is_active.is_(True)))
        if target is None:
            raise InvalidInput(f"No user named {username!r}", {"assignee": ["Unknown user."]})
        member = uow.session.get(UserDepartment, (target.id, item.department_id)) if item.department_id else None
        if member is None:
            raise InvalidInput(f"{username} is not a member of {item.department_id}",
                               {"assignee": ["Not a member of the task's department."]})
        _set_assignee(uow, item, item.assignee_id, target.id)
        _record(uow, item, actor, "task_assigned", {"assignee": target.username})
        uow.session.refresh(item)
        view = work_item_view(item)
        uow.commit()
        return view
