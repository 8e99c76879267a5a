"""The engine's password and token messages in the reader's language.

The engine speaks English and names fields; these pages show its known messages translated
(anything else as the engine wrote it), so a Chinese reader is not told in English what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _

from engine.accounts import password_policy
from engine.errors import ServiceFlowError
from engine.services import api_tokens, credentials


def _known() -> dict[str, str]:
    return {
        password_policy.TOO_SHORT: _("The password must have at least %(num)s characters.",
                                     num=password_policy.MIN_LENGTH),
        password_policy.TOO_LONG: _("The password may have at most %(num)s characters.",
                                    num=password_policy.MAX_LENGTH),
        password_policy.CONTAINS_USERNAME: _("The password must not contain the username."),
        password_policy.TOO_COMMON: _("This password is too common; choose another."),
        credentials.WRONG_CURRENT: _("The current password is wrong."),
        api_tokens.BAD_EXPIRY: _("Give the expiry as a number of days (90d) or a date (2027-03-31)."),
        api_tokens.EXPIRY_OUT_OF_RANGE: _("The expiry must be in the future and at most %(num)s days ahead.",
                                          num=api_tokens.MAX_DAYS),
        api_tokens.NAME_TOO_LONG: _("A token name has at most 120 characters."),
        api_tokens.NAME_MISSING: _("Give the token a name that says where it is used."),
    }


def field_errors(exc: ServiceFlowError) -> dict[str, list[str]]:
    """The error's messages per field, translated where known."""
    known = _known()
    details = exc.details if isinstance(exc.details, Mapping) else {"": [exc.message]}
    return {str(k): [known.get(str(m), str(m)) for m in v] for k, v in details.items() if isinstance(v, list)}
