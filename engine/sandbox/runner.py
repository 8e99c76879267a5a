"""Running one script or expression inside a sandbox process, and turning whatever happens into
the reply the server reads (engine.sandbox.child runs this; the server never does).

Task data names beginning with ``_`` never enter a script's namespace: scripts cannot name them
(RestrictedPython refuses such names) and the guards live under such names, so start data such as
``{"_mul_": "x"}`` would otherwise replace a guard. They are kept in the data untouched.
"""

from __future__ import annotations

import builtins
import signal
from types import GeneratorType, TracebackType
from typing import Any

from engine.errors import ScriptError
from engine.sandbox import instructions, wire
from engine.sandbox.compiler import compile_source
from engine.sandbox.guards import (
    BUILTINS,
    CATCHABLE,
    MAX_CALL_DEPTH,
    MAX_MEMORY_GROWTH,
    MAX_VALUE_SIZE,
    SCRIPT_FILENAME,
    TIME_LIMIT_S,
    Stop,
    refuse,
    weight,
)


def _cpu_exceeded(signum: int, frame: Any) -> None:
    raise Stop(f"it used more than {TIME_LIMIT_S:g} s of CPU time")


def _script_line(tb: TracebackType | None) -> int | None:
    line = None
    while tb is not None:
        line = tb.tb_lineno if tb.tb_frame.f_code.co_filename == SCRIPT_FILENAME else line
        tb = tb.tb_next
    return line


def _namespace(context: dict[str, Any], external: dict[str, Any]) -> dict[str, Any]:
    namespace = {k: v for k, v in external.items() if not k.startswith("_")}
    namespace.update((k, v) for k, v in context.items() if not k.startswith("_"))
    namespace["__builtins__"] = BUILTINS
    return namespace


def _left_behind(name: str, value: Any, external: dict[str, Any]) -> bool:
    """A script's helpers (functions, lambdas, generators, a builtin it named) are not data."""
    return name.startswith("_") or name in external or callable(value) or isinstance(value, GeneratorType)


def evaluate(source: str, context: dict[str, Any], external: dict[str, Any]) -> Any:
    """The value of ``source`` over the task data; changes nothing."""
    return eval(compile_source(source, "eval"), _namespace(context, external))  # restricted code


def execute(script: str, context: dict[str, Any], external: dict[str, Any]) -> dict[str, Any]:
    """The task data after running ``script`` with it as its globals."""
    code = compile_source(script, "exec")
    clash = (CATCHABLE | {k for k in external if not k.startswith("_")}).intersection(context)
    if clash:
        raise refuse(f"task data variables {sorted(clash)} clash with built-in or external names")
    namespace = _namespace(context, external)
    exec(code, namespace)  # restricted code, restricted namespace
    result = {k: v for k, v in namespace.items() if not _left_behind(k, v, external)}
    result.update((k, v) for k, v in context.items() if k.startswith("_"))
    if weight(result) > MAX_VALUE_SIZE:
        raise refuse(f"the task data it produced is larger than {MAX_VALUE_SIZE:,} items or characters")
    return result


def _error(exc: BaseException, with_line: bool) -> dict[str, Any]:
    """The reply for a failed run. Builtin exception types travel by name so SpiffWorkflow reports
    them as it would a local error; every resource stop becomes a ScriptError naming the bound."""
    line = _script_line(exc.__traceback__)
    if isinstance(exc, ScriptError | Stop | RecursionError | MemoryError | wire.Unstorable):
        if isinstance(exc, ScriptError):
            message = exc.message
        elif isinstance(exc, Stop):
            message = f"Script stopped: {exc}"
        elif isinstance(exc, RecursionError):
            message = f"Script stopped: it nested calls or values deeper than {MAX_CALL_DEPTH}"
        elif isinstance(exc, MemoryError):
            message = f"Script stopped: it needed more than {MAX_MEMORY_GROWTH >> 20} MB of memory"
        else:
            message = f"Script refused: {exc}"
        if with_line and line is not None and not message.endswith(")"):
            message = f"{message} (line {line})"
        return {"error": "script", "message": wire.printable(message), "line": line,
                "retire": isinstance(exc, MemoryError)}
    name = type(exc).__name__
    if getattr(builtins, name, None) is not type(exc):
        name, text = "RuntimeError", f"{type(exc).__name__}: {exc}"
    else:
        text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return {"error": "python", "type": name, "message": wire.printable(text), "line": line}


def run(request: dict[str, Any]) -> dict[str, Any]:
    """One request: ``compile`` (check a source), ``evaluate``, ``execute`` or ``render`` (a
    task's instructions, engine.sandbox.instructions). CPU time is bounded
    by a profiling timer whose signal stops Python code; C code that ignores it meets the
    process's CPU rlimit instead (engine.sandbox.child)."""
    op, source = request.get("op"), str(request.get("source", ""))
    if op == "compile":
        try:
            if request.get("mode") == "jinja":
                instructions.check(source)
            else:
                compile_source(source, str(request.get("mode")))
            return {"ok": True}
        except ScriptError as exc:
            return {"error": "script", "message": wire.printable(exc.message), "line": None}
    signal.setitimer(signal.ITIMER_PROF, TIME_LIMIT_S)
    try:
        context = wire.decode(request.get("context") or {})
        external = wire.decode(request.get("external") or {})
        if op == "evaluate":
            return {"ok": True, "value": wire.encode(evaluate(source, context, external), "the expression's value")}
        if op == "render":
            return {"ok": True, "value": instructions.render(source, context)}
        return {"ok": True, "context": wire.encode_variables(execute(source, context, external))}
    except BaseException as exc:  # noqa: BLE001 - every outcome of untrusted code becomes a reply
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return _error(exc, with_line=op == "execute")
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


def install() -> None:
    """Set up the process for ``run``: the CPU timer's handler and the recursion limit."""
    import sys

    signal.signal(signal.SIGPROF, _cpu_exceeded)
    sys.setrecursionlimit(MAX_CALL_DEPTH)
