"""Telling the distribution list that a new version of a process is in force, by mail in each
person's language, queued in the publishing transaction (engine.services.notifications sends it)."""

from __future__ import annotations

from sqlalchemy import select

from engine.config import MailSettings
from engine.persistence.models import OutboxMessage, ProcessVersion, User, UserDepartment
from engine.persistence.uow import UnitOfWork
from engine.services.notifications import _gettext, _wants_mail
from engine.time.clock import utcnow

KIND = "version_published"


def queue_version_published(uow: UnitOfWork, mail: MailSettings, row: ProcessVersion) -> int:
    """One message to each member of the version's distribution departments who wants mail."""
    if not row.distribution:
        return 0
    users = uow.session.scalars(
        select(User).where(*_wants_mail()).join(UserDepartment, UserDepartment.user_id == User.id)
        .where(UserDepartment.department_id.in_(row.distribution)).distinct().order_by(User.username))
    count = 0
    for user in users:
        locale = user.locale or "en"
        _ = _gettext(mail.catalogs, locale)
        name = row.name_zh if locale == "zh" and row.name_zh else row.name
        subject = _("Process %(name)s, version %(label)s, is now in force") % {"name": name, "label": row.label}
        body = "\n\n".join([
            subject + ".",
            _("Change note: %(note)s") % {"note": row.change_note or "-"},
            _("New cases follow this version; running cases stay on theirs."),
            f"{mail.base_url.rstrip('/')}/models/{row.id}",
        ])
        uow.session.add(OutboxMessage(kind=KIND, recipient_id=user.id, to_address=user.email, subject=subject,
                                      body=body, status="queued", created_at=utcnow(), error=""))
        count += 1
    return count
