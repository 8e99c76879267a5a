"""The inbox and who holds a task: claim, release, assign. Reads only the inbox index table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import defer

from engine.audit import chain as audit
from engine.context import EngineContext
from engine.data_limits import text_problem
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.persistence.models import Case, CaseEvent, User, UserDepartment, WorkItem, WorkItemOwner
from engine.persistence.uow import UnitOfWork
from engine.services import notifications, visibility
from engine.services.actors import Actor


@dataclass(frozen=True)
class WorkItemView:
    id: str
    case_id: int
    process_id: str
    element_id: str
    title: str
    detail: str
    case_title: str
    customer: str
    lane: str | None
    department: str | None
    assignee: str | None
    form: str | None
    priority: int
    due_at: datetime | None
    created_at: datetime
    title_zh: str = ""
    owners: tuple[str, ...] = ()  # who may work it when no department does (lane_owners, or the starter)


def work_item_view(item: WorkItem) -> WorkItemView:
    return WorkItemView(
        id=item.id, case_id=item.case_id, process_id=item.process_id, element_id=item.element_id,
        title=item.title, detail=item.detail or "", case_title=item.case_title, customer=item.customer, lane=item.lane,
        department=item.department_id, assignee=item.assignee.username if item.assignee else None,
        form=item.form, priority=item.priority, due_at=item.due_at, created_at=item.created_at,
        title_zh=item.title_zh or "",
        owners=tuple(owner.username for owner in item.owners) if item.department_id is None else (),
    )


def _among_holders(actor: Actor, item: WorkItemView) -> bool:
    """Whether ``actor`` is one of the people an unclaimed task is for: its department's members,
    or the people named to work a task no department works (``owners``)."""
    return (item.department is not None and item.department in actor.departments) or actor.username in item.owners


def may_work_on(actor: Actor, item: WorkItemView) -> bool:
    """Whether ``actor`` may complete (or hand on) this open task: a claimed task belongs to its
    assignee, an unclaimed one to the people it is for."""
    if item.assignee is not None:
        return item.assignee == actor.username
    return _among_holders(actor, item)


@dataclass(frozen=True)
class TaskPermissions:
    """What the caller may do with an open task; ``reason`` says why completing is not allowed
    (``case_not_running``, ``claimed_by_other``, ``not_in_department``, ``not_an_owner``; empty
    when it is)."""

    may_complete: bool
    may_claim: bool
    may_release: bool
    may_assign: bool
    reason: str


def permissions(actor: Actor, item: WorkItemView, case_running: bool = True) -> TaskPermissions:
    """The one statement of who may do what with a task, for pages, the API and the checks."""
    holds = may_work_on(actor, item)
    if not case_running:
        reason = "case_not_running"
    elif holds:
        reason = ""
    elif item.assignee is not None:
        reason = "claimed_by_other"
    elif item.department is None:
        reason = "not_an_owner"
    else:
        reason = "not_in_department"
    return TaskPermissions(
        may_complete=case_running and holds,
        may_claim=case_running and item.assignee is None and _among_holders(actor, item),
        may_release=case_running and item.assignee is not None and (holds or actor.is_admin),
        may_assign=case_running and (holds or actor.is_admin),
        reason=reason,
    )


def check_may_work_on(actor: Actor, item: WorkItem) -> None:
    view = work_item_view(item)
    reason = permissions(actor, view).reason
    if reason == "claimed_by_other" and _among_holders(actor, view):
        raise Forbidden(f"This task is claimed by {view.assignee}")
    if reason and view.department is None:
        raise Forbidden("Only the people named to work this task or its assignee may work on it")
    if reason:
        raise Forbidden("Only members of the task's department or its assignee may work on it")


def _inbox_order(item: WorkItem) -> tuple:
    return (-item.priority, item.due_key, item.created_at, item.id)


def inbox(ctx: EngineContext, actor: Actor, limit: int = 100, offset: int = 0) -> list[WorkItemView]:
    """Open tasks of my departments, tasks assigned to me and tasks I am named to work (lane
    owners, the cases I started): priority first, then due, then age.

    One index-ordered query per department (and one for my assignments, one for the tasks I am
    named on), merged here: an ``OR`` across them would make the database sort every open task of
    the company.
    """
    named = select(WorkItemOwner.work_item_id).where(WorkItemOwner.user_id == actor.id)
    conditions = [WorkItem.assignee_id == actor.id, WorkItem.id.in_(named)] + [
        WorkItem.department_id == department for department in sorted(actor.departments)
    ]
    wanted = offset + limit
    found: dict[str, WorkItem] = {}
    with ctx.unit_of_work(readonly=True) as uow:
        for condition in conditions:
            query = select(WorkItem).options(defer(WorkItem.prefill), defer(WorkItem.presentation)).where(
                condition).order_by(WorkItem.priority.desc(), WorkItem.due_key, WorkItem.created_at, WorkItem.id
                                    ).limit(wanted)
            found.update((item.id, item) for item in uow.session.scalars(query))
        page = sorted(found.values(), key=_inbox_order)[offset:wanted]
        return [work_item_view(i) for i in page]


TASK_DONE = "This task is no longer open: someone has already completed it"


def find_readable_item(uow: UnitOfWork, actor: Actor, task_id: str) -> WorkItem:
    """The open task, for whoever reads it or acts on it (claim, release, assign, complete,
    signal): NotFound when it never existed (as for an id no row can hold, which the database
    would refuse with an error instead) and, open or done, when its case is one ``actor`` may not
    read, so that neither the task nor its case leaks (as ``visibility.readable_case`` answers
    for a case); Conflict when it existed and is done. Whether ``actor`` may act on it is the
    caller's check, answered 403: by then the case is one they may read."""
    if text_problem(task_id) is not None:
        raise NotFound(f"No task {task_id!r}")
    item = uow.session.get(WorkItem, task_id)
    case_id = item.case_id if item is not None else uow.session.scalar(
        select(CaseEvent.case_id).where(CaseEvent.task_id == task_id).limit(1))
    if case_id is None or not visibility.may_read_case(uow.session, actor, case_id):
        raise NotFound(f"No task {task_id}")
    if item is None:
        raise Conflict(TASK_DONE)
    return item


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
    audit.record(case, type_, actor, data, task_id=item.id, element_id=item.element_id)


def claim(ctx: EngineContext, actor: Actor, task_id: str) -> WorkItemView:
    """Take an unclaimed task of one of my departments."""
    with ctx.unit_of_work() as uow:
        item = find_readable_item(uow, actor, task_id)
        if item.assignee_id == actor.id:
            return work_item_view(item)
        if not _among_holders(actor, work_item_view(item)):
            raise Forbidden("Only members of the task's department or the people named to work it may claim it")
        if item.assignee_id is not None:
            raise Conflict(f"This task is already claimed by {item.assignee.username}")
        _set_assignee(uow, item, None, actor.id)
        visibility.add_participants(uow.session, item.case_id, people=[actor])
        _record(uow, item, actor, "task_claimed", {"assignee": actor.username})
        uow.session.refresh(item)
        view = work_item_view(item)
        uow.commit()
        return view


def release(ctx: EngineContext, actor: Actor, task_id: str) -> WorkItemView:
    """Give a task I hold back to its department (admins may release anyone's)."""
    with ctx.unit_of_work() as uow:
        item = find_readable_item(uow, actor, task_id)
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
        item = find_readable_item(uow, actor, task_id)
        if not permissions(actor, work_item_view(item)).may_assign:
            check_may_work_on(actor, item)
        target = None if text_problem(username) else uow.session.scalar(
            select(User).where(User.username == username, User.is_active.is_(True)))
        if target is None:
            raise InvalidInput(f"No user named {username!r}", {"assignee": ["Unknown user."]})
        if item.department_id is None:
            if target.username not in work_item_view(item).owners:
                raise InvalidInput(f"{username} is not named to work this task",
                                   {"assignee": ["Not one of the people named to work this task."]})
        elif uow.session.get(UserDepartment, (target.id, item.department_id)) is None:
            raise InvalidInput(f"{username} is not a member of {item.department_id}",
                               {"assignee": ["Not a member of the task's department."]})
        _set_assignee(uow, item, item.assignee_id, target.id)
        visibility.add_participants(uow.session, item.case_id, people=[actor, target])
        _record(uow, item, actor, "task_assigned", {"assignee": target.username})
        uow.session.refresh(item)
        notifications.queue_task_assigned(uow, ctx.settings.mail, item, actor)
        view = work_item_view(item)
        uow.commit()
        return view
