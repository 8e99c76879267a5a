"""The forms process owners work on: those of the published processes, and a form's files checked
the way publishing checks them, so an owner sees a broken schema before anything is published."""

from __future__ import annotations

from engine.context import EngineContext
from engine.definitions.forms import FormDefinition
from engine.errors import Forbidden, InvalidDefinition
from engine.services import models
from engine.services.actors import Actor
from engine.services.processes import latest_versions_query

MAX_FORM_TEXT = 512 * 1024  # characters in a schema or UI schema, as a file of a bundle may hold


def may_edit_forms(actor: Actor) -> bool:
    return actor.is_process_owner or actor.is_admin


def _check_role(actor: Actor) -> None:
    if not may_edit_forms(actor):
        raise Forbidden("Only process owners and administrators work on forms")


def published_forms(ctx: EngineContext, actor: Actor) -> dict[str, FormDefinition]:
    """Every form of the newest published version of each process, by file name."""
    _check_role(actor)
    with ctx.unit_of_work(readonly=True) as uow:
        forms: dict[str, FormDefinition] = {}
        for version in uow.session.scalars(latest_versions_query()):
            forms.update(ctx.process(version).forms)
        return dict(sorted(forms.items()))


def check_form(actor: Actor, name: str, schema_text: str, ui_schema_text: str) -> FormDefinition:
    """The form these texts make, or InvalidDefinition naming what is wrong (bad JSON, nesting
    deeper than any form needs, where the schema breaks the JSON Schema meta-schema) exactly as
    publishing would refuse it. Whoever reads process models (reviewers, approvers) previews them."""
    if not (may_edit_forms(actor) or models.may_read(actor)):
        raise Forbidden("Only those who work on process models preview forms")
    if len(schema_text) > MAX_FORM_TEXT or len(ui_schema_text) > MAX_FORM_TEXT:
        raise InvalidDefinition(f"Form {name}: a schema may have at most {MAX_FORM_TEXT:,} characters")
    return FormDefinition.from_json(name or "form.schema.json", schema_text, ui_schema_text or None)
