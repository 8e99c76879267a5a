"""Departments of the procedure (PROCEDURE.md §3 and the distribution list) and the demo users."""

from __future__ import annotations

from sqlalchemy import select

from engine.context import EngineContext
from engine.persistence.models import Customer, Department
from engine.services.users import ensure_service_account, ensure_user

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
    ("reviewer1", "Quality Assurance Reviewer", ["qa"], {}),
    ("centre1", "Service Centre One", ["service_centre"], {}),
    ("owner1", "Process Owner", [], {"is_process_owner": True}),
    ("auditor1", "Auditor", [], {"is_auditor": True}),
]

# the integrations' API identities (engine.definitions.senders): no password, tokens from `serviceflow token create`
DEMO_SERVICE_ACCOUNTS: list[tuple[str, str, str]] = [
    ("centre-system", "centre_system", "East China service centre system"),
    ("customer-portal", "customer_portal", "Customer portal"),
]

DEMO_CUSTOMERS: list[dict] = [
    {"code": "C001", "name": "Acme Motors Co., Ltd.", "address": "88 Harbour Road, Ningbo", "priority": True,
     "contacts": [{"name": "Li Wei", "role": "Purchasing manager", "phone": "0574-8888 1234",
                   "email": "li.wei@acme.example"}],
     "products": ["PX-200 pump housing", "SV-200 solenoid valve"],
     "agreements": [{"title": "After-sales service 2026", "scope": "On-site repair within 48 h",
                     "valid_until": "2026-12-31"}]},
    {"code": "C002", "name": "Huayu Auto Parts", "address": "12 Industrial Park, Wuxi", "priority": False,
     "contacts": [{"name": "Chen Jing", "role": "Quality engineer", "phone": "0510-6666 2020",
                   "email": "chen.jing@huayu.example"}],
     "products": ["SV-200 solenoid valve"], "agreements": []},
    {"code": "C003", "name": "Northwind Appliances", "address": "5 Lake Street, Suzhou", "priority": False,
     "contacts": [{"name": "Zhang Min", "role": "Buyer", "phone": "0512-5555 3030",
                   "email": "zhang.min@northwind.example"}],
     "products": ["KT-50 thermostat"], "agreements": []},
    {"code": "C004", "name": "Orient Rail Systems", "address": "300 Station Avenue, Changzhou", "priority": True,
     "contacts": [{"name": "Wang Fang", "role": "Maintenance lead", "phone": "0519-7777 4040",
                   "email": "wang.fang@orientrail.example"}],
     "products": ["PX-200 pump housing"], "agreements": []},
    {"code": "C005", "name": "Sunrise Medical Devices", "address": "9 Science Road, Hangzhou", "priority": False,
     "contacts": [{"name": "Zhao Lei", "role": "Supplier quality", "phone": "0571-4444 5050",
                   "email": "zhao.lei@sunrise.example"}],
     "products": ["KT-50 thermostat", "SV-100 valve"], "agreements": []},
]


def seed_demo_customers(ctx: EngineContext) -> list[str]:
    """A handful of customers so that every form that picks a customer offers some."""
    with ctx.unit_of_work() as uow:
        known = set(uow.session.scalars(select(Customer.code)))
        added = [Customer(**values) for values in DEMO_CUSTOMERS if values["code"] not in known]
        uow.session.add_all(added)
        uow.commit()
    return [c.code for c in added]


def ensure_departments(ctx: EngineContext) -> int:
    """Create the procedure's departments that are missing; returns how many were added."""
    with ctx.unit_of_work() as uow:
        known = set(uow.session.scalars(select(Department.id)))
        missing = [Department(id=i, name=n, name_zh=z) for i, n, z in DEPARTMENTS if i not in known]
        uow.session.add_all(missing)
        uow.commit()
    ctx.forget_departments()
    return len(missing)


def demo_email(username: str) -> str:
    return f"{username}@example.com"


def seed_demo_users(ctx: EngineContext) -> list[str]:
    """The demo users of the README (password ``demo``) and the demo integrations' service
    accounts; existing users are left alone."""
    people = [
        username
        for username, name, departments, flags in DEMO_USERS
        if ensure_user(ctx, username, DEMO_PASSWORD, name, departments, email=demo_email(username), **flags)
    ]
    return people + [username for username, integration, name in DEMO_SERVICE_ACCOUNTS
                     if ensure_service_account(ctx, username, integration, name)]
