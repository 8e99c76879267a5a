"""The tables. Workflow state is stored per case; everything a page lists has its own indexed row.

The inbox reads ``work_items`` and never deserializes a workflow; ``case_events`` is
append-only and hash-chained per case so that auditors can prove a record was not altered.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from engine.time.clock import utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base shared by every table (and by the Alembic migrations)."""


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120), default="")


class UserDepartment(Base):
    __tablename__ = "user_departments"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[str] = mapped_column(ForeignKey("departments.id"), primary_key=True, index=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_process_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    is_auditor: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str] = mapped_column(String(10), default="en")
    notify_email: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # another system's API identity (engine.definitions.senders): no password sign-in, no department
    is_service_account: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    integration: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    departments: Mapped[list[Department]] = relationship(secondary="user_departments", lazy="selectin")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # None: made before 0009
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class UserSession(Base):
    """A signed-in browser: the cookie holds only a random id whose hash is stored here, so that
    signing out, idling and a password change end the session on the server."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class SignInThrottle(Base):
    """Failed sign-ins per account (``kind`` "account", ``key`` the username as typed) or per client
    address ("address"): in the database so that every server process sees the same count."""

    __tablename__ = "sign_in_throttles"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(200))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)


class ProcessVersion(Base):
    """A bundle of process files under document control (engine/services/models.py): a draft's
    files change until it is submitted, then they are immutable; only the one ``published``
    version of a process starts new cases, and cases pin theirs by id and hash. A draft's
    ``content_hash`` is a unique placeholder until it is submitted, so that a draft copied from a
    version does not collide with it and is never taken for a version that runs."""

    __tablename__ = "process_versions"
    __table_args__ = (
        UniqueConstraint("process_id", "version"),
        UniqueConstraint("process_id", "content_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[str] = mapped_column(String(120), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200), default="", server_default="")
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="published")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    label: Mapped[str] = mapped_column(String(20), default="", server_default="")  # A0, A1, …
    change_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    distribution: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")  # department ids
    source: Mapped[str] = mapped_column(String(20), default="imported", server_default="imported")
    created_by: Mapped[str] = mapped_column(String(80), default="setup", server_default="setup")
    problems: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")  # as last validated

    files: Mapped[list[ProcessFile]] = relationship(
        back_populates="version", cascade="all, delete-orphan", lazy="select"
    )
    signoffs: Mapped[list[VersionSignoff]] = relationship(
        back_populates="version", cascade="all, delete-orphan", lazy="select", order_by="VersionSignoff.id"
    )


class ProcessFile(Base):
    __tablename__ = "process_files"

    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"), primary_key=True)
    path: Mapped[str] = mapped_column(String(300), primary_key=True)
    content: Mapped[str] = mapped_column(Text)

    version: Mapped[ProcessVersion] = relationship(back_populates="files")


class VersionSignoff(Base):
    """One signed step of a version's document control (prepared, submitted, reviewed, approved,
    published, rejected, imported): who, when, and their comment."""

    __tablename__ = "version_signoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(80))
    display_name: Mapped[str] = mapped_column(String(120), default="")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    comment: Mapped[str] = mapped_column(Text, default="")

    version: Mapped[ProcessVersion] = relationship(back_populates="signoffs")


class Customer(Base):
    """A Customer Data Card (PROCEDURE 5.2); the Customer List is all of them."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    contacts: Mapped[list] = mapped_column(JSON, default=list)
    products: Mapped[list] = mapped_column(JSON, default=list)
    agreements: Mapped[list] = mapped_column(JSON, default=list)
    priority: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": lock_version}


class CustomerChange(Base):
    """Every change to a card, with who made it, when, through which case, before and after."""

    __tablename__ = "customer_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(80), default="")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), nullable=True)
    before: Mapped[dict] = mapped_column(JSON, default=dict)
    after: Mapped[dict] = mapped_column(JSON, default=dict)


class Case(Base):
    """One run of a process. ``lock_version`` guards every state change against lost updates."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(120), index=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    customer: Mapped[str] = mapped_column(String(200), default="", index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(20), default="running", index=True)
    outcome: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    last_event_hash: Mapped[str] = mapped_column(String(64), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    next_due_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)

    version: Mapped[ProcessVersion] = relationship(lazy="joined")
    customer_record: Mapped[Customer | None] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": lock_version}


class CaseState(Base):
    """The workflow's skeleton (its own fields, no tasks), apart from the case row so that lists
    never load it."""

    __tablename__ = "case_states"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(Text)


class CaseTask(Base):
    """One serialized workflow task; only tasks that changed are rewritten when a case moves."""

    __tablename__ = "case_tasks"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    workflow_key: Mapped[str] = mapped_column(String(36), default="")
    state: Mapped[str] = mapped_column(Text)


class CaseParticipant(Base):
    """Who takes part in a case, so may read it (engine.services.visibility): a department that
    has or had a task in it (``department:qc``) or a person who acted in it (``user:12``). Rows
    are only ever added; the party index lets the case list filter by reader in SQL."""

    __tablename__ = "case_participants"
    __table_args__ = (Index("ix_case_participants_party", "party", "case_id"),)

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    party: Mapped[str] = mapped_column(String(60), primary_key=True)


NO_DUE_DATE = datetime(9999, 12, 31)


class WorkItem(Base):
    """The inbox index: one row per open user task.

    ``due_key`` is ``due_at`` with tasks that have no due date sorting last: SQLite indexes cannot
    put NULLs last, and the inbox must be read in index order to stay fast at any size.
    """

    __tablename__ = "work_items"
    __table_args__ = (
        Index("ix_work_items_department_order", "department_id", text("priority DESC"), "due_key", "created_at", "id"),
        Index("ix_work_items_assignee_order", "assignee_id", text("priority DESC"), "due_key", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    process_id: Mapped[str] = mapped_column(String(120))
    element_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    title_zh: Mapped[str] = mapped_column(String(300), default="", server_default="")
    detail: Mapped[str] = mapped_column(String(300), default="")
    case_title: Mapped[str] = mapped_column(String(300), default="")
    customer: Mapped[str] = mapped_column(String(200), default="")
    lane: Mapped[str | None] = mapped_column(String(120), nullable=True)
    department_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    form: Mapped[str | None] = mapped_column(String(200), nullable=True)
    prefill: Mapped[dict] = mapped_column(JSON, default=dict)
    # What the task page shows beside the form, worked out when the task became ready
    # (engine.spiff.runtime.CaseRuntime.presentation): instructions, choices, signal buttons.
    presentation: Mapped[dict] = mapped_column(JSON, default=dict)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    due_key: Mapped[datetime] = mapped_column(DateTime, default=NO_DUE_DATE)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    assignee: Mapped[User | None] = relationship(lazy="joined")
    # The people named to work a task no department works (engine.services.work_items): the
    # users its lane's ``lane_owners`` entry lists, else the person who started the case. Loaded
    # only when read (only tasks without a department have any): the inbox's every row would
    # otherwise cost a query; deleting an inbox row leaves its owner rows to the database's
    # ON DELETE CASCADE rather than loading them first.
    owners: Mapped[list[User]] = relationship(secondary="work_item_owners", lazy="select",
                                              order_by="User.username", passive_deletes=True)


class WorkItemOwner(Base):
    """One person who may work a task, for tasks without a department; indexed by user for the inbox."""

    __tablename__ = "work_item_owners"

    work_item_id: Mapped[str] = mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class CaseEvent(Base):
    """Append-only history. ``data`` is a deep copy of what was submitted; ``hash`` chains events."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(80), default="")
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    element_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    version_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # Chain version 2 (engine.audit.chain): the case data after the event, the change of data it
    # caused and the stored workflow state after its step, all covered by ``hash``. Version 1
    # events, recorded before, have none of them.
    chain_version: Mapped[int] = mapped_column(Integer, default=1)
    data_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    changes: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    state_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class CaseStepsCache(Base):
    """A case's step-through as its replay last built it (``engine.services.replay.case_steps``),
    so that viewing it again does not replay the case. It is derived, never evidence: it is used
    only while the case's verified chain still ends in ``head`` and ``inputs`` (the hash of what
    else the replay read and the chain does not cover) is unchanged, and rebuilt otherwise."""

    __tablename__ = "case_steps_cache"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    head: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    steps: Mapped[list] = mapped_column(JSON, default=list)  # engine.audit.replay.Snapshot.as_json, in order
    divergence: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # Divergence.as_json
    # HMAC-SHA256 under the server's secret key over the case, head, inputs, steps and divergence:
    # a row edited in the database is rebuilt, never shown.
    mac: Mapped[str] = mapped_column(String(64), default="")


class CaseIntegrityFailure(Base):
    """A case whose last verification (``engine.audit.verify``, run by the worker on a schedule
    and by ``serviceflow audit verify``) failed, so that lists flag it without verifying per row.
    A case that verifies has no row: a verification removes the row of a case that passes again."""

    __tablename__ = "case_integrity_failures"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    broken_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    code: Mapped[str] = mapped_column(String(40), default="")
    reason: Mapped[str] = mapped_column(Text, default="")


class OutboxMessage(Base):
    """A notification mail: queued in the transaction of the step that caused it, then sent by
    the worker when SMTP is configured (else it stays here, for admins to read)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    to_address: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), nullable=True, index=True)
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued, sending, sent, failed
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # while sending: attempt began
    error: Mapped[str] = mapped_column(Text, default="")


class MessageWait(Base):
    """The message index: one row per correlation value of each message catch event a case waits
    at (a wait without correlation has one row with key ``""``). ``save_runtime`` replaces a
    case's rows on every save, so a message finds its case by an index probe and never reads a
    case that does not wait for it. ``value`` is the value's canonical JSON (hashed when long)."""

    __tablename__ = "message_waits"
    __table_args__ = (Index("ix_message_waits_lookup", "name", "key", "value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200), default="")
    value: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class MessageStart(Base):
    """The case a message started, by the message's name and correlation values: the same message
    sent again (a sender retrying after a lost answer) finds this case instead of starting a second
    one. ``payload_hash`` tells a true repeat from a different message under the same keys."""

    __tablename__ = "message_starts"
    __table_args__ = (UniqueConstraint("name", "correlation_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    correlation_key: Mapped[str] = mapped_column(String(64))
    payload_hash: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class UnmatchedMessage(Base):
    """A message that reached no case and started none: kept for admins, never dropped."""

    __tablename__ = "unmatched_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    correlation: Mapped[dict] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    actor: Mapped[str] = mapped_column(String(80), default="")


class Schedule(Base):
    """When the worker next starts a case of a process whose start event is a timer (one row per
    process, kept by publishing; ``engine.services.scheduler.start_scheduled_cases``). The worker
    finds due schedules through the indexed ``next_run_at`` alone; None: no occurrence is left."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[str] = mapped_column(String(120), unique=True)
    element_id: Mapped[str] = mapped_column(String(200), default="")
    expression: Mapped[str] = mapped_column(String(200), default="")
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Incident(Base):
    """An unexpected failure (a bug, not a user's mistake or a broken diagram): what was being
    done, by whom, and the traceback, under the id the person was shown. Listed for admins."""

    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    source: Mapped[str] = mapped_column(String(300), default="")
    actor: Mapped[str] = mapped_column(String(80), default="")
    kind: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    trace: Mapped[str] = mapped_column(Text, default="")


class CaseMigration(Base):
    """A batch of running cases moved to another version of their process
    (``engine.services.migrations``): who asked, when, and which version they moved to. A dry run
    leaves no row."""

    __tablename__ = "case_migrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[str] = mapped_column(String(120), index=True)
    to_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    selection: Mapped[dict] = mapped_column(JSON, default=dict)  # the request's cases or filter
    reverted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    reverted_by: Mapped[str] = mapped_column(String(80), default="")


class CaseMigrationItem(Base):
    """One case of a migration: moved or not and why, the ``case_migrated`` event's sequence
    number (a revert is allowed while it is still the case's last event), and the case's stored
    workflow state from before the move, so that a revert restores it exactly."""

    __tablename__ = "case_migration_items"
    __table_args__ = (UniqueConstraint("migration_id", "case_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    migration_id: Mapped[int] = mapped_column(ForeignKey("case_migrations.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    from_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    status: Mapped[str] = mapped_column(String(20))  # migrated, not_migrated, reverted
    reason: Mapped[str] = mapped_column(Text, default="")
    event_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    saved_state: Mapped[str | None] = mapped_column(Text, nullable=True)  # the CaseState skeleton
    saved_tasks: Mapped[list | None] = mapped_column(JSON, nullable=True)  # [task_id, workflow_key, state]


class AuditCheckpoint(Base):
    """A signed Merkle tree head over every case's chain head (engine.audit.checkpoints).
    ``statement`` is the exact canonical JSON that was signed; ``id`` counts checkpoints without
    gaps and ``prev_hash`` chains each to the one before, so a removed checkpoint shows."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    tree_size: Mapped[int] = mapped_column(Integer)
    root_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))
    statement: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(200))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The signer's public key, so that servers without the private key can ship it in audit packs;
    # it proves nothing by itself (whoever edits this row can edit it): auditors compare ``key_id``.
    public_key: Mapped[str] = mapped_column(Text)


class AuditCheckpointTimestamp(Base):
    """The RFC 3161 timestamp a TSA gave a checkpoint's statement (engine.audit.timestamps): added
    after the checkpoint is committed, so a TSA that is down or slow never holds up or loses the
    checkpoint; a checkpoint without one was not stamped. ``response`` is the TSA's DER
    TimeStampResp exactly as received and verified (the signed token inside it), the bytes of the
    ``.tsr`` file beside the checkpoint's own, which ``openssl ts -verify -in`` reads too."""

    __tablename__ = "audit_checkpoint_timestamps"

    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("audit_checkpoints.id", ondelete="CASCADE"),
                                               primary_key=True, autoincrement=False)
    response: Mapped[bytes] = mapped_column(LargeBinary)


class AuditCheckpointLeaf(Base):
    """One case's chain head as a checkpoint signed it, in the tree's leaf order (by case id):
    kept so that an inclusion proof can be made for any case of any checkpoint."""

    __tablename__ = "audit_checkpoint_leaves"
    __table_args__ = (Index("ix_audit_checkpoint_leaves_case", "case_id", "checkpoint_id"),)

    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("audit_checkpoints.id", ondelete="CASCADE"),
                                               primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(BigId)
    event_count: Mapped[int] = mapped_column(Integer)
    last_event_hash: Mapped[str] = mapped_column(String(64))
