"""Data checked against a form before it reaches a case: a person's submitted task form and
another system's message payload pass the same checks (the JSON Schema, then that every
customer field names a customer of the Customer List), so neither can put into a case what
the other could not."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine.audit import chain as audit
from engine.definitions.forms import FormDefinition, validate_submission
from engine.errors import InvalidInput
from engine.services import customers


def validated(session: Session, form: FormDefinition | None, data: Any, what: str = "The form") -> dict:
    """``data`` as stored (JSON values only) when it satisfies ``form``; InvalidInput with the
    errors by field path otherwise. Without a form any object is accepted."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} must be an object", {"": ["Must be an object."]})
    if form is not None:
        errors = validate_submission(form, data) or customers.unknown_customer_fields(session, form.schema, data)
        if errors:
            raise InvalidInput(f"{what} has errors", errors)
    return audit.jsonable(data)
