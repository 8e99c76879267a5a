"""The sandbox every condition, script and DMN cell runs in: what it allows, what it refuses,
how it stops runaway code in its own process without touching other threads, and that
SpiffWorkflow runs on it."""

from __future__ import annotations

import os
import signal
import threading
from datetime import date, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.errors import ScriptError
from engine.sandbox import pool
from engine.sandbox.environment import (
    RestrictedScriptEnvironment,
    check_source,
    make_script_engine,
    script_error_of,
)
from engine.sandbox.guards import TIME_LIMIT_S

DATA = Path(__file__).resolve().parent / "data"
env = RestrictedScriptEnvironment()


def run(script: str, data: dict | None = None) -> dict:
    context = dict(data or {})
    assert env.execute(script, context) is True
    return context


def refusal(source: str, data: dict | None = None, mode: str = "exec") -> str:
    with pytest.raises(ScriptError) as caught:
        if mode == "exec":
            env.execute(source, dict(data or {}))
        else:
            env.evaluate(source, dict(data or {}))
    return caught.value.message


# --- what scripts and expressions can do ---------------------------------------------------


def test_expressions_evaluate_over_task_data_and_external_context():
    data = {"category": "quality", "count": 4, "customer": {"tier": "gold"}}
    assert env.evaluate('category == "quality"', data) is True
    assert env.evaluate('count > 3 and customer.get("tier") == "gold"', data) is True
    assert env.evaluate("[c for c in ('a', 'b') if c != skip]", data, {"skip": "a"}) == ["b"]
    assert env.evaluate("count + bonus", data, {"bonus": 1}) == 5


def test_an_expression_does_not_change_task_data():
    data = {"count": 1}
    assert env.evaluate("(total := count + 1) * 2", data) == 4
    assert data == {"count": 1}


def test_script_assignments_become_task_data_and_helpers_do_not():
    script = (
        "def tidy(text):\n"
        "    return text.strip().lower()\n"
        "shout = lambda text: text.upper()\n"
        "pending = (n for n in range(3))\n"
        "today = date\n"
        "category = tidy(raw)\n"
        "label = shout(category)\n"
        "units = len([u for u in serials if u])\n"
    )
    data = run(script, {"raw": " Quality ", "serials": ["a", "", "b"]})
    assert data == {"raw": " Quality ", "serials": ["a", "", "b"], "category": "quality",
                    "label": "QUALITY", "units": 2}


def test_external_context_is_visible_to_a_script_but_not_left_in_task_data():
    context = {"count": 1}
    env.execute("count = count + step", context, {"step": 2})
    assert context == {"count": 3}


def test_scripts_can_update_nested_data_in_place():
    data = run('counts[kind] += 2\ncounts["new"] = 1\norder["lines"].append(3)\nn = 1\nn <<= 3',
               {"counts": {"a": 1}, "kind": "a", "order": {"lines": [1]}})
    assert data["counts"] == {"a": 3, "new": 1}
    assert data["order"] == {"lines": [1, 3]}
    assert data["n"] == 8


def test_the_curated_builtins_work():
    data = run(
        "due = str(date(2024, 1, 31) + timedelta(days=1))\n"
        "ranked = sorted(scores, key=lambda s: -s)\n"
        "top = max(scores, key=lambda s: s % 5)\n"
        "doubled = list(map(lambda s: s * 2, filter(None, scores)))\n"
        "total = sum(scores) + abs(-1) + round(2.6) + math.floor(1.5)\n"
        "pairs = dict(zip(['a', 'b'], reversed(range(2))))\n"
        "line = ', '.join(str(s) for s in scores)\n",
        {"scores": [3, 0, 9]},
    )
    assert data["due"] == str(date(2024, 2, 1))
    assert data["ranked"] == [9, 3, 0]
    assert data["top"] == 9
    assert data["doubled"] == [6, 18]
    assert data["total"] == 12 + 1 + 3 + 1
    assert data["pairs"] == {"a": 1, "b": 0}
    assert data["line"] == "3, 0, 9"


def test_catching_named_builtin_exceptions_is_allowed():
    data = run("try:\n    n = int(text)\nexcept (ValueError, TypeError):\n    n = 0", {"text": "x"})
    assert data["n"] == 0


def test_catching_module_exceptions_and_exceptions_the_script_defines_is_allowed():
    data = run(
        "class Rejected(ValueError):\n    pass\n"
        "try:\n    json.loads(text)\nexcept json.JSONDecodeError:\n    parsed = 'not json'\n"
        "try:\n    decimal.Decimal(text)\nexcept decimal.InvalidOperation:\n    amount = 'not a number'\n"
        "try:\n    raise Rejected('too late')\nexcept Rejected as exc:\n    reason = str(exc)\n",
        {"text": "{oops"})
    assert (data["parsed"], data["amount"], data["reason"]) == ("not json", "not a number", "too late")


def test_the_globals_spiff_arena_offers_work_in_scripts():
    data = run(
        "now = datetime.datetime.now()\nsame_day = datetime.now().date() == datetime.date.today()\n"
        "later = now + timedelta(days=1) > now\nstamp = time.time() > 0\n"
        "total = str(decimal.Decimal('0.10') + decimal.Decimal('0.20'))\n"
        "parsed = json.loads(json.dumps({'a': [1, 2]}))\nwords = re.findall(r'[a-z]+', 'ab 12 cd')\n"
        "random.seed(7)\npick = random.choice(['x', 'y'])\nid_text = str(uuid.uuid4())\nid_value = uuid.uuid4()\n"
        "days = calendar.monthrange(2024, 2)[1]\n", {})
    assert data["same_day"] is True and data["later"] is True and data["stamp"] is True
    assert isinstance(data["now"], datetime)
    assert data["total"] == "0.30" and data["parsed"] == {"a": [1, 2]} and data["words"] == ["ab", "cd"]
    assert data["pick"] in ("x", "y") and data["days"] == 29
    assert len(data["id_text"]) == 36 and str(UUID(data["id_value"])) == data["id_value"]  # a UUID is kept as text


def test_ordinary_errors_keep_their_python_type_for_spiffworkflow_to_report():
    with pytest.raises(NameError):
        env.evaluate("missing == 1", {})
    with pytest.raises(ZeroDivisionError):
        env.execute("x = 1 / 0", {})


def test_compiled_code_is_cached_by_source_text():
    from engine.sandbox.compiler import compile_source

    before = compile_source.cache_info().hits
    first = compile_source('category == "cached-check"', "eval")
    for _ in range(50):
        assert compile_source('category == "cached-check"', "eval") is first
    assert compile_source.cache_info().hits >= before + 50


# --- what is refused --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("().__class__.__base__.__subclasses__()",
         '"__class__" is an invalid attribute name because it starts with "_"'),
        ("__import__('os')", '"__import__" is an invalid variable name'),
        ("open('/etc/passwd')", "open() is not available"),
        ("getattr(count, '__globals__')", 'attribute "__globals__" is not allowed'),
        ("getattr(tidy, 'f_globals')", 'attribute "f_globals" is not allowed'),
        ("type(count)", "type() is not available"),
        ("eval('1')", "Eval calls are not allowed"),
        ("exec('1')", "Exec calls are not allowed"),
        ("'{0.__class__}'.format(1)", 'attribute "format" is not allowed'),
        ("int.mro()", 'attribute "mro" is not allowed'),
        ("str.ljust('x', 10)", "call ljust() on a value"),
        ("f'{count:>{count}}'", "f-string format specs must be literal"),
    ],
)
def test_escapes_are_refused_with_a_clear_error(source, expected):
    message = refusal(source, {"count": 1, "tidy": "text"}, mode="eval")
    assert message.startswith("Script refused: ")
    assert expected in message


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("import os", "Import statements are not allowed (line 1)"),
        ("x = 1\nfrom os import path", "ImportFrom statements are not allowed (line 2)"),
        ("with thing:\n    pass", "With statements are not allowed"),
        ("try:\n    x = 1\nfinally:\n    pass", "'finally' blocks are not allowed"),
        ("try:\n    x = 1\nexcept:\n    pass", "'except' must name the exceptions it catches"),
        ("try:\n    x = 1\nexcept BaseException:\n    pass", "'except' cannot catch BaseException"),
        ("ValueError = 3", '"ValueError" is a built-in exception and cannot be reassigned'),
        ("x = ().__class__", '"__class__" is an invalid attribute name because it starts with "_" (line 1)'),
    ],
)
def test_unsafe_statements_are_refused_before_running(script, expected):
    message = refusal(script)
    assert expected in message
    with pytest.raises(ScriptError) as at_publish:
        check_source(script, "exec")
    assert expected in at_publish.value.message


@pytest.mark.parametrize(("source", "mode"), [
    ('category in ("a", "b")', "eval"),
    ("total = sum(x for x in range(3))", "exec"),
    ("due = datetime.strptime(text, '%Y-%m-%d')", "exec"),
])
def test_check_source_accepts_what_the_sandbox_runs(source, mode):
    assert check_source(source, mode) is None
    data = {"category": "a", "text": "2024-01-02"}
    if mode == "eval":
        assert env.evaluate(source, data) is True
    else:
        assert env.execute(source, data) is True and len(data) == 3


# --- resource limits ----------------------------------------------------------------------------


def test_an_infinite_loop_is_stopped_by_its_cpu_bound_and_the_next_script_runs():
    message = refusal("x = 1\nwhile True:\n    pass")
    assert message == f"Script stopped: it used more than {TIME_LIMIT_S:g} s of CPU time (line 2)"
    assert run("y = 2 * 21") == {"y": 42}


def test_a_stop_cannot_be_caught_by_the_script():
    script = (
        "while True:\n"
        "    try:\n"
        "        while True:\n"
        "            pass\n"
        "    except Exception:\n"
        "        pass\n"
    )
    assert refusal(script).startswith(f"Script stopped: it used more than {TIME_LIMIT_S:g} s of CPU time")


@pytest.mark.parametrize(
    "script",
    [
        'x = "a" * 10**9',
        "x = [0] * 10**9",
        'for i in range(10):\n    x = "a" * 10 ** 8',
        "x = 2 ** 10**8",
        "x = pow(7, 10**8)",
        "x = 1 << 10**9",
        "x = list(range(10**9))",
        'x = "x".ljust(10**9)',
        'x = "ab".replace("", "c" * 9000000)',
        'x = "".join(["a" * 1000000] * 100)',
        'x = "%0999999999d" % 1',
        "x = [[0] * 1000] * 1000 * 1000",
        "x = sum([[1]] * 10, [])",
        's = "a"\nwhile True:\n    s = s + s',
        's = "a"\nwhile True:\n    s += s',
    ],
)
def test_huge_values_are_refused_before_they_are_built(script):
    message = refusal(script)
    assert message.startswith("Script refused: ")
    assert "(line " in message


def test_task_data_that_would_serialise_huge_is_refused_and_rolled_back():
    script = "a = [0] * 1000\nb = [a] * 1000\nc = []\nfor i in range(20):\n    c.append(b)"
    context = {"keep": 1}
    with pytest.raises(ScriptError, match="task data it produced is larger"):
        env.execute(script, context)
    assert context == {"keep": 1}


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("def f(n):\n    return f(n + 1)\nf(0)", "it nested calls or values deeper than"),
        ("x = sum(map(sum, [range(10**6)] * 10**6))", f"it used more than {TIME_LIMIT_S:g} s of CPU time"),
        ("x = max([range(10**6)] * 10**6, key=sum)", f"it used more than {TIME_LIMIT_S:g} s of CPU time"),
        ("x = pow(7, 10**7000, 10**7000 + 1)", f"it used more than {TIME_LIMIT_S:g} s of CPU time"),
        ("x = pow(7, 10**20000, 10**20000 + 1)", f"it used more than {TIME_LIMIT_S:g} s of CPU time"),
        ("x = 10**1000000 // (10**500000 + 1)", f"it used more than {TIME_LIMIT_S:g} s of CPU time"),
        ('x = []\nwhile True:\n    x.append("a" * 9000000 + "b")', "it needed more than 256 MB of memory"),
        ("s = 'x' * 9000000\nn = len([*s, *s, *s, *s, *s, *s, *s, *s, *s, *s, *s, *s])",
         "it needed more than 256 MB of memory"),
        ("a = list(range(10**6))\na.extend(a)\na.extend(a)\na.extend(a)\na.extend(a)\na.extend(a)",
         "it needed more than 256 MB of memory"),
    ],
)
def test_runaway_work_is_stopped_naming_the_bound(script, reason):
    assert refusal(script).startswith(f"Script stopped: {reason}")


def _sandbox_children() -> list[int]:
    """The pids of this test process's sandbox processes."""
    import os
    from pathlib import Path

    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"engine.sandbox.child" in cmdline:
            found.append(int(entry.name))
    return found


def _limits(pid: int) -> dict[str, str]:
    from pathlib import Path

    lines = Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]
    return {line[:26].strip(): line[26:47].strip() for line in lines}


def test_sandbox_processes_run_under_the_kernels_cpu_address_space_and_file_limits():
    """C code that never returns to the interpreter for the CPU timer's signal meets the kernel's
    limits instead: each request gets a CPU rlimit a second past the timer, and the process's
    address space, file size and core dumps are capped for its whole life."""
    assert run("y = 1") == {"y": 1}
    for pid in _sandbox_children():
        limits = _limits(pid)
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        used = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        assert int(limits["Max cpu time"]) <= used + TIME_LIMIT_S + 3
        assert int(limits["Max address space"]) < 2**31
        assert limits["Max file size"] == "0"
        assert limits["Max core file size"] == "0"


def test_a_sandbox_process_the_kernel_kills_for_cpu_is_reported_and_replaced():
    outcome: dict[str, str] = {}
    before = set(_sandbox_children())

    def stuck() -> None:
        try:
            env.execute("while True:\n    pass", {})
        except ScriptError as exc:
            outcome["message"] = exc.message

    worker = threading.Thread(target=stuck)
    worker.start()
    while pool.pool().busy() < 1:
        pass
    busy = [pid for pid in _sandbox_children() if _state(pid) == "R"]
    assert busy, "the stuck script's process is running"
    os.kill(busy[0], signal.SIGXCPU)  # what the kernel sends at the CPU rlimit
    worker.join(timeout=30)
    assert outcome["message"] == f"Script stopped: it used more than {TIME_LIMIT_S:g} s of CPU time"
    assert run("y = 1 + 1") == {"y": 2}
    assert busy[0] not in _sandbox_children()
    assert set(_sandbox_children()) - before  # a fresh process took its place


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def test_a_stuck_script_does_not_hold_up_another_thread():
    outcome: dict[str, object] = {}
    stuck_started = threading.Event()

    def stuck() -> None:
        stuck_started.set()
        try:
            env.execute("while True:\n    pass", {})
        except ScriptError as exc:
            outcome["message"] = exc.message

    worker = threading.Thread(target=stuck)
    worker.start()
    stuck_started.wait()
    results, during = [], 0
    while "message" not in outcome and len(results) < 20_000:
        results.append(env.evaluate('category == "quality"', {"category": "quality"}))
        during += "message" not in outcome and pool.pool().busy() >= 1  # the stuck one still runs
    context = {"n": 1}
    env.execute("for i in range(1000):\n    n = n + i", context)
    worker.join(timeout=30)

    assert worker.is_alive() is False
    assert results and all(results)
    assert during > 10
    assert context["n"] == 1 + sum(range(1000))
    assert str(outcome["message"]).startswith("Script stopped: it used more than")


# --- through SpiffWorkflow -------------------------------------------------------------------------


def _routing_workflow(**data: object) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(DATA / "sandbox_routing.bpmn"))
    parser.add_dmn_file(str(DATA / "sandbox_routing.dmn"))
    workflow = BpmnWorkflow(parser.get_spec("sandbox_routing"), parser.get_subprocess_specs("sandbox_routing"),
                            script_engine=make_script_engine())
    workflow.get_tasks()[0].data.update(data)
    return workflow


@pytest.mark.parametrize(
    ("raw_category", "serials", "route", "end"),
    [
        (" Quality ", [], "capa", "EndEvent_Capa"),
        ("repair", ["a", "b", "c", "d"], "onsite_priority", "EndEvent_Onsite"),
        ("Repair", ["a", ""], "onsite", "EndEvent_Onsite"),
        ("calibration", [], "onsite", "EndEvent_Onsite"),
        ("other", ["a"], "complaint", "EndEvent_Other"),
    ],
)
def test_a_workflow_runs_its_script_task_dmn_table_and_gateway_in_the_sandbox(raw_category, serials, route, end):
    # The DMN's `in [...]` cell starts with a space: SpiffWorkflow 3.2 joins input expression and
    # cell text without one, so `in` would otherwise glue onto the input's name.
    workflow = _routing_workflow(raw_category=raw_category, serials=serials, width=3)
    workflow.do_engine_steps()
    assert workflow.is_completed()
    reached = [t.task_spec.name for t in workflow.get_tasks(state=TaskState.COMPLETED)]
    assert end in reached
    data = workflow.last_task.data
    assert data["route"] == route
    assert data["banner"] == "---"
    assert "tidy" not in data


def test_a_script_error_inside_a_workflow_is_reachable_from_spiffworkflows_exception():
    workflow = _routing_workflow(raw_category="x", serials=[], width=10**9)
    with pytest.raises(WorkflowException) as caught:
        workflow.do_engine_steps()
    found = script_error_of(caught.value)
    assert isinstance(found, ScriptError)
    assert found.message.startswith("Script refused: the value would have more than")
    assert found.message.endswith("(line 6)")
    assert caught.value.line_number == 6


def test_script_error_of_finds_nothing_in_unrelated_errors():
    assert script_error_of(ValueError("x")) is None
    try:
        try:
            raise ScriptError("Script refused: inner")
        except ScriptError as inner:
            raise RuntimeError("outer") from inner
    except RuntimeError as outer:
        assert script_error_of(outer).message == "Script refused: inner"


def test_one_engine_serves_concurrent_evaluations():
    engine = make_script_engine()
    errors: list[BaseException] = []

    def evaluate_many(value: int) -> None:
        try:
            for _ in range(2000):
                assert engine.environment.evaluate("value * 2 + offset", {"value": value}, {"offset": 1}) \
                    == value * 2 + 1
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=evaluate_many, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_timer_style_expressions_evaluate():
    assert env.evaluate("timedelta(hours=hours)", {"hours": 2}) == timedelta(hours=2)
    assert env.evaluate('"PT%dH" % hours', {"hours": 2}) == "PT2H"
    assert env.evaluate("datetime(2024, 1, 2, 9)", {}) == datetime(2024, 1, 2, 9)
