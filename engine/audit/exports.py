"""The two event-log exports, for the command line and the API alike: refused before the first
byte for whoever may not export (``event_log.read_log``), then streamed."""

from __future__ import annotations

from collections.abc import Iterator

from engine.audit.event_log import LogFilter, read_log
from engine.audit.ocel import load_mapping, ocel_chunks
from engine.audit.xes import xes_chunks
from engine.context import EngineContext
from engine.services.actors import Actor


def xes_export(ctx: EngineContext, actor: Actor, flt: LogFilter) -> Iterator[bytes]:
    return xes_chunks(read_log(ctx, actor, flt))


def ocel_export(ctx: EngineContext, actor: Actor, flt: LogFilter) -> Iterator[bytes]:
    return ocel_chunks(read_log(ctx, actor, flt), load_mapping(ctx.settings.workflows_dir))
