"""The sandbox as SpiffWorkflow sees it: a script environment whose every expression and script
runs in a sandbox process (engine.sandbox.pool), never in the server.

Why: gateway conditions, script tasks, pre/post scripts, timer expressions and DMN cells come
from uploaded diagrams. RestrictedPython refuses unsafe syntax at compile time and the guards
refuse single operations that would build a huge value; what is left (C code that runs for
minutes, memory that grows past any check) is bounded by the operating system in a process of its
own, so no script can freeze or exhaust the server. Task data crosses as JSON
(engine.sandbox.wire), which also refuses values that cannot be stored.
"""

from __future__ import annotations

import builtins
import functools
import json
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine import effects
from engine.errors import ScriptError
from engine.sandbox import pool, wire
from engine.sandbox.guards import CATCHABLE, SCRIPT_FILENAME


def _outbound(data: dict[str, Any] | None, what: str) -> dict[str, Any]:
    try:
        return wire.encode_variables(data or {})
    except wire.Unstorable as exc:
        raise ScriptError(f"Script refused: the {what} {exc}") from None


@functools.lru_cache(maxsize=256)
def _raiser(line: int) -> Any:
    """Code that raises its argument from ``line`` of the script file name, so SpiffWorkflow finds
    the failing line in the traceback as it would for a script run in this process."""
    return compile("\n" * (line - 1) + "raise error", SCRIPT_FILENAME, "exec")


def _raise(error: BaseException, line: int | None) -> None:
    if line is None or not 0 < line < 100_000:
        raise error
    exec(_raiser(line), {"error": error})  # trusted, constant code: only re-raises ``error``


class ScriptRaised(Exception):  # noqa: N818 - a mark, not an error of its own
    """Marks a builtin exception that a script raised in the sandbox (``NameError`` of a missing
    variable, ``ZeroDivisionError``, …). It keeps its builtin type, so SpiffWorkflow reports it as
    usual, while the engine can tell a diagram's failure from a bug in ServiceFlow."""


@functools.cache
def _marked(cls: type[Exception]) -> type[Exception]:
    return type(cls.__name__, (cls, ScriptRaised), {"__module__": "builtins"})


def _failure(reply: dict[str, Any]) -> BaseException:
    message = str(reply.get("message", "the script failed"))
    if reply.get("error") == "python":
        cls = getattr(builtins, str(reply.get("type")), None)
        known = isinstance(cls, type) and issubclass(cls, Exception) and cls.__name__ in CATCHABLE
        return _marked(cls if known else RuntimeError)(message)
    return ScriptError(message)


SCRIPT_FAILURES = (ScriptError, ScriptRaised)  # what a diagram's script or expression can raise


def _call(request: dict[str, Any]) -> dict[str, Any]:
    reply = pool.pool().call(request)
    if "error" in reply:
        line = reply.get("line")
        _raise(_failure(reply), line if isinstance(line, int) else None)
    return reply


class RestrictedScriptEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow's script environment, sandboxed. Holds no per-call state: one per process."""

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict | None = None) -> Any:
        """The value of ``expression`` over the task data (and e.g. data objects); changes nothing."""
        reply = _call({"op": "evaluate", "source": expression, "context": _outbound(context, "task data"),
                       "external": _outbound(external_context, "context")})
        return wire.decode(reply.get("value"))

    def execute(self, script: str, context: dict[str, Any], external_context: dict | None = None) -> bool:
        """Runs ``script`` with the task data as its globals, so its assignments become task data;
        functions and generators it leaves are dropped, any other value that cannot be stored is
        refused naming its variable, and the task data is left as it was."""
        if not script or not script.strip():
            return True
        reply = _call({"op": "execute", "source": script, "context": _outbound(context, "task data"),
                       "external": _outbound(external_context, "context")})
        result = wire.decode(reply.get("context"))
        if not isinstance(result, dict):
            raise ScriptError("Script refused: the sandbox answered without task data")
        context.clear()
        context.update(result)
        return True

    def render_instructions(self, template: str, context: dict[str, Any]) -> str:
        """A task's ``instructionsForEndUser`` as safe HTML over its data (engine.sandbox.instructions)."""
        reply = _call({"op": "render", "source": template, "context": _outbound(context, "task data")})
        value = reply.get("value")
        return value if isinstance(value, str) else ""

    def call_service(self, context: dict[str, Any], operation_name: str = "",
                     operation_params: dict | None = None, **_: Any) -> str:
        """Service tasks request engine effects (see engine.effects); the JSON answer becomes the
        task's result variable."""
        params = {name: spec.get("value") for name, spec in (operation_params or {}).items()}
        return json.dumps(effects.request(operation_name, params))


def check_source(source: str, mode: str) -> None:
    """Raise the ScriptError the sandbox would raise compiling ``source`` (mode "eval", "exec", or
    "jinja" for a task's instructions), so a definition can be refused when it is published rather
    than mid-case. Compiled in a sandbox process too: a hostile source can make the compiler
    itself recurse or grow."""
    _call({"op": "compile", "source": source, "mode": mode})


def make_script_engine(processes: int | None = None) -> PythonScriptEngine:
    """The engine every workflow of this process uses; thread-safe, so one instance is enough.
    ``processes`` caps the sandbox processes this server process runs at once."""
    if processes is not None:
        pool.configure(processes)
    return PythonScriptEngine(environment=RestrictedScriptEnvironment())


def script_error_of(exc: BaseException) -> ScriptError | None:
    """The ScriptError behind ``exc``: SpiffWorkflow wraps it in a WorkflowTaskException
    raised while handling it, so it is found through ``__cause__``/``__context__``."""
    pending: list[Any] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        if isinstance(current, ScriptError):
            return current
        seen.add(id(current))
        pending += [current.__cause__, current.__context__, getattr(current, "exception", None)]
    return None
