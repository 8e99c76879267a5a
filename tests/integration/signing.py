"""A signing key and checkpoint directory of the test's own, as a deployment configures them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from engine.config import AuditSettings
from engine.context import EngineContext


def with_signing_key(ctx: EngineContext, tmp_path: Path, minutes: int = 60) -> EngineContext:
    audit = AuditSettings(key_file=tmp_path / "signing" / "key.pem", create_key=True,
                          checkpoint_dir=tmp_path / "checkpoints", checkpoint_minutes=minutes)
    ctx.settings = dataclasses.replace(ctx.settings, audit=audit)
    return ctx
