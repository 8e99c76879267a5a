"""The sandbox every expression and script of a process definition runs in.

Why: gateway conditions, script tasks, pre/post scripts, timer expressions and DMN cells come
from uploaded diagrams and run inside the web server's threads. RestrictedPython refuses unsafe
syntax (dunder attributes, imports, exec) at compile time; the guards (engine.sandbox.guards) refuse single C-level
operations that would build a huge value; a tracer installed on the running thread only stops
code that runs too long, recurses too deep or makes the process grow too much. ``signal.alarm``
is not an option because waitress runs requests outside the main thread.
"""

from __future__ import annotations

import ast
import copy
import functools
import json
import re
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from types import CodeType, FrameType, GeneratorType, ModuleType, TracebackType
from typing import Any

from RestrictedPython import compile_restricted
from RestrictedPython.transformer import IOPERATOR_TO_STR, RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine import effects
from engine.errors import ScriptError
from engine.sandbox.guards import (
    BINOP_GUARDS,
    BUILTINS,
    CATCHABLE,
    MAX_CALL_DEPTH,
    MAX_MEMORY_GROWTH,
    MAX_VALUE_SIZE,
    MEMORY_CHECK_INTERVAL_S,
    PAGE_SIZE,
    SCRIPT_FILENAME,
    TIME_LIMIT_S,
    Stop,
    refuse,
    weight,
)


def _policy_problems(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """Constructs that could swallow a stop, hide a builtin exception or escape the guards."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Try | ast.TryStar) and node.finalbody:
            yield node, "'finally' blocks are not allowed"
        elif isinstance(node, ast.ExceptHandler) and not _names_builtin_exceptions(node.type):
            yield node, "'except' must name built-in exceptions, such as 'except ValueError:'"
        elif isinstance(node, ast.With | ast.Import | ast.ImportFrom | ast.ClassDef):
            yield node, f"{type(node).__name__} statements are not allowed"
        elif isinstance(node, ast.FormattedValue) and node.format_spec and (
                re.search(r"\d{8}", ast.unparse(node.format_spec))
                or any(isinstance(n, ast.FormattedValue) for n in ast.walk(node.format_spec))):
            yield node, "f-string format specs must be literal and narrower than 10,000,000"
        name = getattr(node, "arg", None) if isinstance(node, ast.arg) else getattr(node, "name", None)
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            name = node.id
        if isinstance(name, str) and name in CATCHABLE:
            yield node, f'"{name}" is a built-in exception and cannot be reassigned'


def _names_builtin_exceptions(node: ast.expr | None) -> bool:
    names = node.elts if isinstance(node, ast.Tuple) else [node]
    return all(isinstance(n, ast.Name) and n.id in CATCHABLE for n in names)


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's rules, plus ours and size-guarded ``+ * ** << %``."""

    def visit_Module(self, node: ast.Module) -> Any:
        self._check_policy(node)
        return super().visit_Module(node)

    def visit_Expression(self, node: ast.Expression) -> Any:
        self._check_policy(node)
        return super().visit_Expression(node)

    def _check_policy(self, tree: ast.AST) -> None:
        for bad, message in _policy_problems(tree):
            self.error(bad, message)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = BINOP_GUARDS.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.copy_location(ast.Name(guard, ast.Load()), node),
                        args=[node.left, node.right], keywords=[])
        return ast.copy_location(call, node)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        """``counts[key] += 1`` (RestrictedPython refuses it) as ``counts[key] = counts[key] + 1``."""
        if not isinstance(node.target, ast.Subscript):
            return super().visit_AugAssign(node)
        current = ast.copy_location(ast.Subscript(
            copy.deepcopy(node.target.value), copy.deepcopy(node.target.slice), ast.Load()), node.target)
        args = [ast.Constant(IOPERATOR_TO_STR[type(node.op)]), self.visit(current), self.visit(node.value)]
        value = ast.Call(ast.Name("_inplacevar_", ast.Load()), args, [])
        return ast.fix_missing_locations(ast.copy_location(ast.Assign([self.visit(node.target)], value), node))


@functools.lru_cache(maxsize=4096)
def _compile(source: str, mode: str) -> CodeType:
    """Cached by source text: a gateway condition is evaluated thousands of times. Scripts are
    dedented and expressions stripped first: BPMN editors indent the text inside XML elements."""
    source = textwrap.dedent(source).strip("\n") if mode == "exec" else source.strip()
    try:
        return compile_restricted(source, SCRIPT_FILENAME, mode, policy=_Policy)
    except SyntaxError as exc:
        errors = exc.args[0] if isinstance(exc.args[0], tuple) else (str(exc),)
    found = [(re.match(r"Line (\d+): (.*?)\.?$", e), e) for e in errors]
    parts = [(f"{m[2]} (line {m[1]})" if mode == "exec" else m[2]) if m else e for m, e in found]
    raise refuse("; ".join(dict.fromkeys(parts)))


def _rss() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE
    except OSError:  # not Linux: the memory check is skipped
        return 0


def _make_tracer(deadline: float) -> Callable[[FrameType, str, Any], Any]:
    """A trace function that stops the code once it is past ``deadline``, too deep, or the
    process has grown by ``MAX_MEMORY_GROWTH``. All its state is its own: thread-safe.
    Frames of the guards (this module) are only checked on entry, which keeps them cheap."""
    state = [time.monotonic(), 0, 0]  # last memory check, RSS baseline (read lazily), call depth

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        script = frame.f_code.co_filename == SCRIPT_FILENAME
        try:
            now = time.monotonic()
            state[2] += script and (event == "call") - (event == "return")
            if now > deadline:
                reason = f"it ran longer than {TIME_LIMIT_S} s"
            elif state[2] > MAX_CALL_DEPTH:
                reason = f"it nested calls deeper than {MAX_CALL_DEPTH}"
            elif now - state[0] > MEMORY_CHECK_INTERVAL_S:
                state[0], rss = now, _rss()
                state[1] = state[1] or rss
                reason = f"it grew the server by more than {MAX_MEMORY_GROWTH >> 20} MB" \
                    if rss - state[1] > MAX_MEMORY_GROWTH else None
            else:
                reason = None
        except Exception as exc:  # a tracer that raises anything else is silently removed
            reason = f"its resource check failed ({type(exc).__name__})"
        if reason:
            raise Stop(reason)
        return tracer if script else None
    return tracer


def _traced(code: CodeType, namespace: dict[str, Any]) -> Any:
    tracer = _make_tracer(time.monotonic() + TIME_LIMIT_S)
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = eval(code, namespace)  # restricted code, restricted namespace
        if sys.gettrace() is not tracer:  # the tracer raised and something swallowed it
            raise Stop("it ran out of its budget")
        return result
    finally:
        sys.settrace(previous)


def _script_line(tb: TracebackType | None) -> int | None:
    line = None
    while tb is not None:
        line = tb.tb_lineno if tb.tb_frame.f_code.co_filename == SCRIPT_FILENAME else line
        tb = tb.tb_next
    return line


def _run(code: CodeType, namespace: dict[str, Any], with_line: bool) -> Any:
    try:
        return _traced(code, namespace)
    except (Stop, ScriptError, MemoryError) as exc:
        message = exc.message if isinstance(exc, ScriptError) else \
            f"Script stopped: {exc if isinstance(exc, Stop) else 'it ran out of memory'}"
        line = _script_line(exc.__traceback__)
        if with_line and line is not None:
            message = f"{message} (line {line})"
        raise ScriptError(message).with_traceback(exc.__traceback__) from None


class RestrictedScriptEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow's script environment, sandboxed. Holds no per-call state: one per process."""

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict | None = None) -> Any:
        """The value of ``expression`` over the task data (and e.g. data objects); changes nothing."""
        namespace = {**external_context, **context} if external_context else dict(context)
        namespace["__builtins__"] = BUILTINS
        return _run(_compile(expression, "eval"), namespace, with_line=False)

    def execute(self, script: str, context: dict[str, Any], external_context: dict | None = None) -> bool:
        """Runs ``script`` with the task data as its globals, so its assignments become task data;
        functions, modules, generators and the external context are removed afterwards."""
        if not script or not script.strip():
            return True
        code = _compile(script, "exec")
        external = external_context or {}
        hidden = (CATCHABLE | set(external)).intersection(context)
        if hidden:
            raise refuse(f"task data variables {sorted(hidden)} clash with built-in or external names")
        before = dict(context)
        context.update(external, __builtins__=BUILTINS)
        try:
            _run(code, context, with_line=True)
        finally:
            for key in [k for k, v in context.items() if k == "__builtins__" or k in external or callable(v)
                        or isinstance(v, ModuleType | GeneratorType)]:
                del context[key]
        if weight(context) > MAX_VALUE_SIZE:
            context.clear()
            context.update(before)
            raise refuse(f"the task data it produced is larger than {MAX_VALUE_SIZE:,} items or characters")
        return True

    def call_service(self, context: dict[str, Any], operation_name: str = "",
                     operation_params: dict | None = None, **_: Any) -> str:
        """Service tasks request engine effects (see engine.effects); the JSON answer becomes the
        task's result variable."""
        params = {name: spec.get("value") for name, spec in (operation_params or {}).items()}
        return json.dumps(effects.request(operation_name, params))


def check_source(source: str, mode: str) -> None:
    """Raise the ScriptError the sandbox would raise compiling ``source`` (mode "eval" or "exec"),
    so a definition can be refused when it is published rather than mid-case."""
    _compile(source, mode)


def make_script_engine() -> PythonScriptEngine:
    """The engine every workflow of this process uses; thread-safe, so one instance is enough."""
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
