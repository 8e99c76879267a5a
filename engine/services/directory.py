"""Departments of the procedure (PROCEDURE.md §3 and the distribution list) and the demo users."""

from __future__ import annotations

from sqlalchemy import select

from engine.context import EngineContext
from engine.persistence.models import Department
from engine.services.users import ensure_user

DEPARTMENTS: list[tuple[str, str, str]] = [
    ("sales", "Sales Section", "经营科"),
    ("admin", "Administration Dept.", "管理部"),
    ("qc", "Quality Inspection Section", "质检科"),
    ("tech", "Technical Section", "技术科"),
    ("production", "Production Dept.", "生产部"),
    ("management", "Management Representative / General Manager", "管理者代表/总经理"),
    ("gm_office", "General Manager's Office", "总经理室"),
    ("production_section", "Production Section", "生产科"),
    ("equipment", "Equipment Section", "设备科"),
    ("qa", "Quality Assurance Dept.", "品保部"),
    ("quality_audit", "Quality Audit Section", "质审科"),
    ("finance", "Finance Dept.", "财务部"),
    ("procurement", "Procurement Section", "需求科"),
    ("service_centre", "After-sales Service Centre", "售后服务中心"),
]

DEMO_PASSWORD = "demo"
DEMO_USERS: list[tuple[str, str, list[str], dict[str, bool]]] = [
    ("sales1", "Sales One", ["sales"], {}),
    ("sales2", "Sales Two", ["sales"], {}),
    ("admin1", "Administration One", ["admin"], {"is_admin": True}),
    ("qc1", "Quality Inspection One", ["qc"], {}),
    ("tech1", "Technical One", ["tech"], {}),
    ("prod1", "Production One", ["production"], {}),
    ("gm1", "General Manager", ["management"], {}),
    ("centre1", "Service Centre One", ["service_centre"], {}),
    ("owner1", "Process Owner", [], {"is_process_owner": True}),
    ("auditor1", "Auditor", [], {"is_auditor": True}),
]


def ensure_departments(ctx: EngineContext) -> int:
    """Create the procedure's departments that are missing; returns how many were added."""
    with ctx.unit_of_work() as uow:
        known = set(uow.session.scalars(select(Department.id)))
        missing = [Department(id=i, name=n, name_zh=z) for i, n, z in DEPARTMENTS if i not in known]
        uow.session.add_all(missing)
        uow.commit()
    ctx.forget_departments()
    return len(missing)


def seed_demo_users(ctx: EngineContext) -> list[str]:
    """The demo users of the README (password ``demo``); existing users are left alone."""
    return [
        username
        for username, name, departments, flags in DEMO_USERS
        if ensure_user(ctx, username, DEMO_PASSWORD, name, departments, **flags)
    ]
