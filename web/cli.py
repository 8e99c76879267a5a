"""The ``serviceflow`` command: setup, serve, the timer worker, API tokens and service accounts."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from engine.context import build_context
from engine.errors import ServiceFlowError

if TYPE_CHECKING:
    from cryptography.x509 import Certificate


def _setup(args: argparse.Namespace) -> int:
    from engine.services.setup import setup

    report = setup(build_context(), demo=args.demo)
    for p in report.published:
        print(f"published {p.id} v{p.version} ({p.content_hash[:12]})")
    for p in report.unchanged:
        print(f"unchanged {p.id} v{p.version}")
    if report.departments_added:
        print(f"added {report.departments_added} departments")
    if report.users_added:
        print(f"added demo users: {', '.join(report.users_added)} (password: demo)")
    if report.customers_added:
        print(f"added demo customers: {', '.join(report.customers_added)}")
    for problem in report.problems:
        if not problem.blocks:
            print(f"warning: {problem.file}: {problem.message}")
    for path, message in report.failed:
        reason = " ".join(message.removeprefix(f"{path}: ").split())  # one line per file
        print(f"serviceflow: not published: {path}: {reason}", file=sys.stderr)
    return 1 if report.failed else 0


SANDBOX_WARM = 2


def _serve(args: argparse.Namespace) -> int:
    """One process (waitress, threads) by default; ``--workers N`` pre-forks N processes (gunicorn)
    so that requests use every core: each process has its own engine caches, keyed by the
    database's lock versions, so they never serve each other stale state."""
    print(f"ServiceFlow on http://{args.host}:{args.port}/", flush=True)
    if args.workers > 1:
        from web.multiprocess import serve_forked

        serve_forked(args.host, args.port, args.workers, args.threads)
        return 0
    from waitress import serve

    from engine.sandbox import pool
    from web import create_app

    app = create_app()
    pool.pool().warm(SANDBOX_WARM)  # the first requests need not wait for sandbox processes to start
    serve(app, host=args.host, port=args.port, threads=args.threads, ident="ServiceFlow")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from web.worker import main as run

    return run(args.poll, args.batch)


def _new_migration(args: argparse.Namespace) -> int:
    from engine.persistence import schema

    schema.autogenerate(build_context().database, args.message)
    return 0


def _token(args: argparse.Namespace) -> int:
    from engine.services.api_tokens import create_api_token, parse_expiry

    print(create_api_token(build_context(), args.username, label=args.name, expires_at=parse_expiry(args.expires)))
    return 0


def _service_account(args: argparse.Namespace) -> int:
    from engine.services.users import create_service_account

    print(create_service_account(build_context(), args.name, args.integration, args.display_name))
    return 0


def _models_import(args: argparse.Namespace) -> int:
    """A bundle as a new draft, as the API's POST /models: prints its id and every problem;
    exit status 1 when it has errors (it cannot be submitted until they are fixed)."""
    from engine.errors import InvalidDefinition
    from engine.services.models import import_bundle
    from engine.services.users import find_actor

    ctx = build_context()
    try:
        view = import_bundle(ctx, find_actor(ctx, args.as_user), args.zip.read_bytes(), args.note)
    except InvalidDefinition as exc:
        print(f"serviceflow: {exc.message}", file=sys.stderr)
        for problem in (exc.details or {}).get("problems", []):
            print(f"error: {problem['file']}: {problem['message']}", file=sys.stderr)
        return 1
    print(f"draft {view.id} of {view.process_id}")
    for problem in view.problems:
        print(f"{problem.severity}: {problem.file}: {problem.message}")
    return 1 if view.has_errors else 0


def _audit_export(args: argparse.Namespace) -> int:
    """The event log as XES or OCEL 2.0 JSON, written as it is read (any number of cases)."""
    from engine.audit.event_log import LogFilter
    from engine.audit.exports import ocel_export, xes_export
    from engine.services.actors import Actor

    ctx = build_context()
    flt = LogFilter.parse(args.process, args.since)
    # Whoever runs the command holds the database already: they read as an auditor does.
    who = Actor(id=0, username="command line", display_name="command line", departments=frozenset(),
                is_auditor=True)
    chunks = xes_export(ctx, who, flt) if args.xes else ocel_export(ctx, who, flt)
    out: Path = args.xes or args.ocel
    with out.open("wb") as stream:
        for chunk in chunks:
            stream.write(chunk)
    print(f"wrote {out}")
    return 0


def _audit_checkpoint(args: argparse.Namespace) -> int:
    from engine.services.checkpoints import make_checkpoint

    made = make_checkpoint(build_context())
    print(f"checkpoint {made.number}: {made.tree_size} case(s), root {made.root_hash}")
    if made.file is not None:
        print(f"written to {made.file}")
    if made.stamp is not None:
        print(f"timestamped at {made.stamp.time.isoformat()} by the TSA {made.stamp.tsa or '(unnamed)'} (RFC 3161)")
        if made.stamp_file is not None:
            print(f"timestamp written to {made.stamp_file}")
    elif made.stamp_error:
        # The checkpoint itself is made and kept: a TSA's fault is a warning, not a failure.
        print(f"warning: checkpoint {made.number} is not timestamped: {made.stamp_error} "
              "(the next checkpoint asks the TSA again)", file=sys.stderr)
    return 0


def _audit_key(args: argparse.Namespace) -> int:
    """The public key auditors keep, with its fingerprint (checkpoints name it as key_id)."""
    from engine.audit.signing import fingerprint, load_public_key
    from engine.services.checkpoints import public_key_pem

    pem = public_key_pem(build_context())
    if args.out is not None:
        args.out.write_text(pem)
    print(pem, end="")
    print(f"fingerprint (key_id): {fingerprint(load_public_key(pem.encode(), 'the signing key'))}", file=sys.stderr)
    return 0


def _audit_pack(args: argparse.Namespace) -> int:
    from engine.services.users import find_actor
    from web import create_app
    from web.cases.pack import audit_pack

    ctx = build_context()
    who = find_actor(ctx, args.as_user)
    with create_app(context=ctx).test_request_context():
        data = audit_pack(who, args.case)
    args.out.write_bytes(data)
    print(f"audit pack of case #{args.case} written to {args.out} ({len(data)} bytes)")
    return 0


def _tsa_ca(args: argparse.Namespace) -> list[Certificate] | None:
    """The certificates of ``--tsa-ca`` (ValueError naming the option), None when not given."""
    from engine.audit.timestamps import load_roots

    return load_roots(args.tsa_ca, "--tsa-ca") if args.tsa_ca is not None else None


def _audit_verify_pack(args: argparse.Namespace) -> int:
    """Offline: only the pack and, ideally, the public key the auditor keeps (and the TSA's CA
    certificates, to trust a timestamp's time); no database, no settings."""
    from engine.audit.pack import verify_pack
    from engine.audit.signing import load_public_key

    try:
        pack = args.pack.read_bytes()
        key = load_public_key(args.public_key.read_bytes(), str(args.public_key)) if args.public_key else None
        roots = _tsa_ca(args)
    except (OSError, ValueError) as exc:
        print(f"serviceflow: {exc}", file=sys.stderr)
        return 2
    report = verify_pack(pack, key, roots)
    for note in report.notes:
        print(f"note: {note}")
    for problem in report.problems:
        print(f"FAILED: {problem}")
    case = f"case #{report.case_id}" if report.case_id is not None else str(args.pack)
    print(f"{case}: {'verified' if report.ok else 'does NOT verify'} ({report.events} events)")
    return 0 if report.ok else 1


def _audit_verify(args: argparse.Namespace) -> int:
    """Every case (or those named): prints each failing case's first broken event and why, and
    exits 1 when any fails; with ``--pack``, an audit pack offline instead."""
    if args.pack is not None:
        return _audit_verify_pack(args)
    from engine.services.checkpoints import verify_timestamps
    from engine.services.integrity import verify_all

    try:
        roots = _tsa_ca(args)
    except ValueError as exc:
        print(f"serviceflow: {exc}", file=sys.stderr)
        return 2
    ctx = build_context()
    run = verify_all(ctx, args.cases or None, processes=args.jobs,
                     on_failure=lambda v: print(f"case {v.case_id}: event {v.broken_seq}: {v.reason}", flush=True))
    print(f"verified {run.checked} case(s): {len(run.failures) or 'none'} failed")
    stamps = verify_timestamps(ctx, roots)
    for problem in stamps.problems:
        print(problem)
    if stamps.latest is not None:
        latest = stamps.latest
        trust = "its signature checked against the TSA's CA certificates" if stamps.trusted else \
            "its signature not checked: set SERVICEFLOW_TSA_CA_FILE or pass --tsa-ca FILE"
        print(f"checkpoint {latest.number} was timestamped at {latest.stamp.time.isoformat()} by the TSA "
              f"{latest.stamp.tsa or '(unnamed)'} (RFC 3161; {trust})")
    if stamps.stamped or stamps.problems:
        print(f"timestamps: {stamps.stamped} checkpoint(s) stamped and covered, {len(stamps.problems) or 'none'} "
              f"failed, {stamps.unstamped} unstamped")
    return 1 if run.failures or stamps.problems else 0


def _audit_replay(args: argparse.Namespace) -> int:
    """Replay CASE (or every case) and print each verdict; exit status 1 on any divergence or an
    unknown case."""
    from engine.services.replay import replay_all, replay_one

    ctx = build_context()
    if args.all == (args.case is not None):
        print("serviceflow: give a case id or --all", file=sys.stderr)
        return 2
    reports = replay_all(ctx) if args.all else [replay_one(ctx, args.case)]
    failed = False
    for report in reports:
        if report is None:
            print(f"case {args.case}: no such case", file=sys.stderr)
            failed = True
        elif report.identical:
            print(f"case {report.case_id}: identical ({report.steps} steps)")
        else:
            failed = True
            d = report.divergence
            print(f"case {report.case_id}: DIVERGES at step {d.step} (event {d.seq}): {d.what}: "
                  f"recorded {d.recorded!r}, replayed {d.replayed!r}")
    return 1 if failed else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="serviceflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    setup = sub.add_parser("setup", help="create or migrate the database and publish workflows/")
    setup.add_argument("--demo", action="store_true", help="also add the demo users")
    setup.set_defaults(func=_setup)
    serve = sub.add_parser("serve", help="serve the web app and API")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    serve.add_argument("--threads", type=int, default=int(os.environ.get("SERVICEFLOW_THREADS", "8")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("SERVICEFLOW_WORKERS", "1")),
                       help="processes to serve with (more than 1 uses gunicorn)")
    serve.set_defaults(func=_serve)
    worker = sub.add_parser("worker", help="fire due timers until stopped (SIGTERM/SIGINT)")
    worker.add_argument("--poll", type=float, default=float(os.environ.get("SERVICEFLOW_WORKER_POLL", "5")),
                        help="seconds between looks for newly scheduled timers")
    worker.add_argument("--batch", type=int, default=50, help="cases per round")
    worker.set_defaults(func=_worker)
    migration = sub.add_parser("new-migration", help="developers: write a migration for changed models")
    migration.add_argument("message")
    migration.set_defaults(func=_new_migration)
    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="print a new API token for USERNAME")
    create.add_argument("username")
    create.add_argument("--name", "--label", dest="name", default="cli", help="where the token is used")
    create.add_argument("--expires", default="90d", help="days from now (90d) or a date (2027-03-31); default 90d")
    create.set_defaults(func=_token)
    account = sub.add_parser("service-account", help="another system's API identity")
    account_sub = account.add_subparsers(dest="account_command", required=True)
    create_account = account_sub.add_parser(
        "create", help="create service account NAME for an integration and print its API token")
    create_account.add_argument("name")
    create_account.add_argument("--integration", required=True, help="the integration it speaks for "
                                "(allowedSenders integration:NAME), e.g. centre_system, customer_portal")
    create_account.add_argument("--display-name", default="")
    create_account.set_defaults(func=_service_account)
    models = sub.add_parser("models", help="process models under document control")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    import_model = models_sub.add_parser("import", help="upload a bundle (zip) as a new draft")
    import_model.add_argument("zip", type=Path)
    import_model.add_argument("--as", dest="as_user", default="owner1", help="the process owner preparing it")
    import_model.add_argument("--note", default="", help="the change note")
    import_model.set_defaults(func=_models_import)
    audit = sub.add_parser("audit", help="auditors: tamper evidence, packs and exports of the case histories")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    checkpoint = audit_sub.add_parser("checkpoint", help="sign the head of every case's history now")
    checkpoint.set_defaults(func=_audit_checkpoint)
    key = audit_sub.add_parser("key", help="print the public key that verifies checkpoints (auditors keep it); "
                               "on a development instance the signing key is created when missing")
    key.add_argument("--out", type=Path, help="also write it to this file")
    key.set_defaults(func=_audit_key)
    pack = audit_sub.add_parser("pack", help="write a case's audit pack (zip), verifiable offline")
    pack.add_argument("case", type=int)
    pack.add_argument("out", type=Path)
    pack.add_argument("--as", dest="as_user", default="auditor1", help="who packs it (must be allowed to read it)")
    pack.set_defaults(func=_audit_pack)
    verify = audit_sub.add_parser("verify", help="verify case histories (all, or the CASE ids given) and the "
                                  "checkpoints' RFC 3161 timestamps, or an audit pack offline with only the public "
                                  "key (--pack)")
    verify.add_argument("cases", metavar="CASE", type=int, nargs="*")
    verify.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="processes that verify all cases side by side (default: one per core)")
    verify.add_argument("--pack", type=Path, help="the audit pack (zip) to check, offline")
    verify.add_argument("--public-key", type=Path, help="the public key you keep (PEM); without it the key "
                        "inside the pack is used and its fingerprint printed for you to compare")
    verify.add_argument("--tsa-ca", type=Path, metavar="FILE", help="the RFC 3161 timestamp authority's CA "
                        "certificates (PEM) that checkpoint timestamps must verify against (default for the database: "
                        "SERVICEFLOW_TSA_CA_FILE); without them only what a timestamp covers is checked")
    verify.set_defaults(func=_audit_verify)
    export = audit_sub.add_parser("export", help="the event log for process mining (XES or OCEL 2.0 JSON)")
    target = export.add_mutually_exclusive_group(required=True)
    target.add_argument("--xes", type=Path, metavar="OUT.xes", help="write XES (IEEE 1849)")
    target.add_argument("--ocel", type=Path, metavar="OUT.json", help="write OCEL 2.0 JSON")
    export.add_argument("--process", help="only cases of this process")
    export.add_argument("--since", help="only events from this date on (YYYY-MM-DD)")
    export.set_defaults(func=_audit_export)
    replay = audit_sub.add_parser("replay", help="rebuild cases from their recorded inputs and compare; "
                                  "exit status 1 on any divergence")
    replay.add_argument("case", type=int, nargs="?")
    replay.add_argument("--all", action="store_true", help="every case")
    replay.set_defaults(func=_audit_replay)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except ServiceFlowError as exc:
        print(f"serviceflow: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
