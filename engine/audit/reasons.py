"""Why a case's history does not verify, in words: one template per verdict code of
``engine.audit.verify``, marked for the interface's catalog (``babel.cfg`` extracts this module),
so that the command line reads English and pages and mail read the reader's language."""

from __future__ import annotations

from collections.abc import Callable, Mapping


def N_(text: str) -> str:
    """Marks text for the catalog; it is translated when shown to someone."""
    return text


TEMPLATES = {
    "sequence": N_("event {seq} is missing (the next recorded event is {found})"),
    "link": N_("event {seq} does not follow the event before it (an event was deleted, inserted or reordered)"),
    "downgrade": N_("event {seq} is in an older chain format than the event before it"),
    "hash": N_("event {seq} was altered after it was recorded (its hash does not match)"),
    "checkpoint_short": N_("the signed checkpoint covers {signed} events, the history has only {count}"),
    "checkpoint_diverged": N_("event {seq} differs from the signed checkpoint (the history was rewritten)"),
    "checkpoint_invalid": N_("signed checkpoint {checkpoint} does not verify (its record in the database was changed)"),
    "count": N_("the case records {recorded} events, the history has {count} (events were deleted or added)"),
    "last_hash": N_("the case's last hash is not that of event {seq}"),
    "data": N_("the case's data is not the data recorded after event {seq} (the case was edited)"),
    "state": N_("the stored workflow state is not the state recorded at event {seq} (the case was edited)"),
}


def describe(code: str, params: Mapping[str, object], gettext: Callable[[str], str] = str) -> str:
    return gettext(TEMPLATES[code]).format(**params)
