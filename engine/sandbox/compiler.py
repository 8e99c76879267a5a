"""Compiling a script or expression for the sandbox: RestrictedPython's rules plus ServiceFlow's.

Why a policy of its own: RestrictedPython refuses unsafe syntax (dunder attributes, imports,
exec); on top of that ServiceFlow refuses constructs that could swallow a stop or hide a builtin
exception, checks what every ``except`` names when it runs, and rewrites ``+ * ** << %`` into
size-guarded calls (engine.sandbox.guards).
"""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import re
import textwrap
from collections.abc import Iterator
from types import CodeType
from typing import Any

from RestrictedPython import compile_restricted
from RestrictedPython.transformer import IOPERATOR_TO_STR, RestrictingNodeTransformer

from engine.sandbox.guards import BINOP_GUARDS, CATCHABLE, SCRIPT_FILENAME, refuse

MAX_SOURCE_LENGTH = 100_000


def _policy_problems(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """Constructs that could swallow a stop, hide a builtin exception or escape the guards."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Try | ast.TryStar) and node.finalbody:
            yield node, "'finally' blocks are not allowed"
        elif isinstance(node, ast.ExceptHandler) and node.type is None:
            yield node, "'except' must name the exceptions it catches, such as 'except ValueError:'"
        elif isinstance(node, ast.ExceptHandler) and (stop := _uncatchable(node.type)):
            yield node, f"'except' cannot catch {stop}; name exceptions, such as 'except ValueError:'"
        elif isinstance(node, ast.With | ast.Import | ast.ImportFrom):
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


_UNCATCHABLE = frozenset(n for n, v in vars(builtins).items()
                         if isinstance(v, type) and issubclass(v, BaseException) and not issubclass(v, Exception))


def _uncatchable(node: ast.expr | None) -> str | None:
    """A builtin that is not an ``Exception`` (``BaseException``, ``SystemExit``), named where the
    publish check can see it; anything else an ``except`` names is checked when it runs."""
    names = node.elts if isinstance(node, ast.Tuple) else [node]
    return next((n.id for n in names if isinstance(n, ast.Name) and n.id in _UNCATCHABLE), None)


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

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        """``except X`` as ``except _catchable_(X)``: a name such as ``json.JSONDecodeError`` or a
        class the script defined is only known to be an exception when the handler is reached."""
        node = super().visit_ExceptHandler(node)
        if node.type is not None:
            call = ast.Call(func=ast.Name("_catchable_", ast.Load()), args=[node.type], keywords=[])
            node.type = ast.fix_missing_locations(ast.copy_location(call, node.type))
        return node

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
def compile_source(source: str, mode: str) -> CodeType:
    """Cached by source text: a gateway condition is evaluated thousands of times. Scripts are
    dedented and expressions stripped first: BPMN editors indent the text inside XML elements."""
    if len(source) > MAX_SOURCE_LENGTH:
        raise refuse(f"the source is longer than {MAX_SOURCE_LENGTH:,} characters")
    source = textwrap.dedent(source).strip("\n") if mode == "exec" else source.strip()
    try:
        return compile_restricted(source, SCRIPT_FILENAME, mode, policy=_Policy)
    except SyntaxError as exc:
        errors = exc.args[0] if isinstance(exc.args[0], tuple) else (str(exc),)
    except (RecursionError, MemoryError):
        raise refuse("the source is nested too deeply to compile") from None
    found = [(re.match(r"Line (\d+): (.*?)\.?$", e), e) for e in errors]
    parts = [(f"{m[2]} (line {m[1]})" if mode == "exec" else m[2]) if m else e for m, e in found]
    raise refuse("; ".join(dict.fromkeys(parts)))
