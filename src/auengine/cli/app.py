"""`auengine serve`, `auengine users add|token|delete`, `auengine models add`: the review service (thin layer)."""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

DEFAULT_DATA = "auengine_data"


def _database(args):
    from ..store.db import open_database

    return open_database(args.data, args.db)


def _password(args) -> str:
    from ..errors import InputError

    if args.password_file:
        return Path(args.password_file).read_text().strip()
    if not sys.stdin.isatty():
        raise InputError("no terminal to ask for a password: give --password-file FILE")
    first = getpass.getpass(f"password for {args.name}: ")
    if first != getpass.getpass("again: "):
        raise InputError("the two passwords differ")
    return first


def cmd_users_add(args: argparse.Namespace) -> int:
    from ..store import accounts

    db = _database(args)
    with db.session() as session:
        user = accounts.add_user(session, args.name, args.role, _password(args))
        accounts.audit(session, None, "create", f"user:{user.id}", name=user.name, role=user.role, via="cli")
        session.commit()
    print(f"auengine users: added {args.name} ({args.role})", file=sys.stderr)
    return 0


def _existing_user(session, db, name: str):
    """The user called ``name``, or an InputError naming the database."""
    from ..errors import InputError
    from ..store import accounts

    user = accounts.find_user(session, name)
    if user is None:
        raise InputError(f"no user {name!r} in {db.url}; add one with `auengine users add`")
    return user


def cmd_users_token(args: argparse.Namespace) -> int:
    from ..store import accounts

    db = _database(args)
    with db.session() as session:
        user = _existing_user(session, db, args.name)
        token = accounts.new_token(session, user)
        accounts.audit(session, user, "token", f"user:{user.id}", via="cli")
        session.commit()
    print(token)
    return 0


def cmd_users_delete(args: argparse.Namespace) -> int:
    from ..store import accounts

    db = _database(args)
    with db.session() as session:
        user = _existing_user(session, db, args.name)
        accounts.delete_user(session, user)
        accounts.audit(session, None, "delete", f"user:{user.id}", name=user.name, via="cli")
        session.commit()
    print(f"auengine users: deleted {args.name} (sessions and tokens revoked)", file=sys.stderr)
    return 0


def cmd_models_add(args: argparse.Namespace) -> int:
    from ..store import accounts, records
    from ..store.layout import DataLayout

    db = _database(args)
    layout = DataLayout(Path(args.data))
    layout.create()
    with db.session() as session:
        model = records.register_model(session, layout, args.bundle, args.name)
        accounts.audit(session, None, "create", f"model:{model.id}", name=model.name, sha256=model.sha256, via="cli")
        session.commit()
        print(f"auengine models: registered {model.name} (scale {model.scale}"
              f"{', synthetic training data' if model.synthetic else ''})", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import faulthandler
    import signal

    import uvicorn

    from ..app.factory import AppSettings, create_app
    from ..jobs.pool import WorkerPool
    from ..jobs.worker import WorkerSettings
    from ..store import records
    from ..store.layout import DataLayout

    settings = AppSettings(Path(args.data).resolve(), args.db, int(args.max_upload_mb * 1024 ** 2),
                           secure_cookies=args.secure_cookies, researcher_media=args.researcher_media)
    app = create_app(settings)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 PID`: every thread's stack to stderr
    with app.state.db.session() as session:                 # leftovers of a crash: never listed, removed now
        removed = DataLayout(settings.data).clean_partial(records.all_folders(session))
    if removed:
        print(f"auengine serve: removed {len(removed)} unfinished upload/work folder(s)", file=sys.stderr)
    workers = args.workers if args.workers is not None else max(1, (os.cpu_count() or 2) // 2)
    threads = max(1, (os.cpu_count() or 1) // workers)
    worker_settings = WorkerSettings(str(settings.data), args.db, lease_s=args.lease,
                                     min_confidence=args.min_confidence, ray_address=args.ray_address, threads=threads)
    pool = WorkerPool(worker_settings, workers).start()
    print(f"auengine serve: http://{args.host}:{args.port}/ (data {settings.data}, {workers} scoring worker(s)"
          f"{', Ray ' + args.ray_address if args.ray_address else ''}, pids {pool.pids()})", file=sys.stderr)
    try:
        server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                                               access_log=False))
        app.state.stopping = lambda: server.should_exit     # live streams (/beds/{bed}/stream) end on shutdown
        server.run()
    finally:
        pool.stop()
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Register `serve`, `users` and `models` on the subcommand parser."""
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--data", default=DEFAULT_DATA, help=f"data folder (default ./{DEFAULT_DATA})")
    data.add_argument("--db", help="database URL (default: SQLite DATA/auengine.db; or postgresql+psycopg://...)")

    sv = sub.add_parser("serve", parents=[common, data], help="the review web app with background scoring")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--workers", type=int, help="scoring worker processes (default: half the CPUs, at least 1)")
    sv.add_argument("--ray-address", help="send scoring to this Ray cluster ('local': a local Ray per worker)")
    sv.add_argument("--max-upload-mb", type=float, default=2048, help="largest upload accepted (default 2048 MB)")
    sv.add_argument("--min-confidence", type=float, default=0.35, help="epochs below this mean confidence go to review")
    sv.add_argument("--lease", type=float, default=30.0,
                    help="seconds without a heartbeat before a job of a dead worker is taken over (default 30)")
    sv.add_argument("--secure-cookies", action="store_true", help="behind HTTPS: send cookies over HTTPS only")
    sv.add_argument("--researcher-media", choices=["blur", "mask", "phantom"], default="blur",
                    help="faces in the images researcher accounts receive: blurred (default), masked or replaced by "
                         "a phantom infant")
    sv.set_defaults(func=cmd_serve)

    users = sub.add_parser("users", parents=[common], help="accounts of the review app")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", parents=[common, data], help="add a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["admin", "clinician", "researcher"])
    add.add_argument("--password-file", help="file holding the password (else: asked on the terminal)")
    add.set_defaults(func=cmd_users_add)
    token = users_sub.add_parser("token", parents=[common, data], help="print a new API token (nothing else)")
    token.add_argument("name")
    token.set_defaults(func=cmd_users_token)
    delete = users_sub.add_parser("delete", parents=[common, data], help="delete a user (revokes sessions, tokens)")
    delete.add_argument("name")
    delete.set_defaults(func=cmd_users_delete)

    models = sub.add_parser("models", parents=[common], help="models registered in the review app")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    madd = models_sub.add_parser("add", parents=[common, data], help="register a bundle (hash-checked, copied)")
    madd.add_argument("bundle", help="bundle folder (auengine fit / train-regressor / demo)")
    madd.add_argument("--name", required=True, help="name shown in the app")
    madd.set_defaults(func=cmd_models_add)
