"""Console script ``permiso-reference``: ``serve`` the reference Permiso, list its ``faults`` and
``profiles``, and print its API description (``openapi``).

Unknown fault or profile names exit with status 2 and one clear line: a typo must never silently give a
healthy server to a sensitivity run. ``--profile`` (or ``PERMISO_REFERENCE_PROFILE``) picks a named set
of behaviours (``permiso_reference.profiles``); ``--faults`` adds to it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from permiso_reference.config import ReferenceSettings
from permiso_reference.faults import BEHAVIOURS, kind_of, parse_faults
from permiso_reference.hashing import HASHINGS
from permiso_reference.profiles import PROFILES, get_profile, profile_names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="permiso-reference",
                                     description="Embedded reference Permiso identity service")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the reference server (Ctrl-C stops it)")
    d = ReferenceSettings()
    serve.add_argument("--host", default=d.host)
    serve.add_argument("--port", type=int, default=d.port, help="0 picks a free port")
    serve.add_argument("--tls", action="store_true", help="HTTPS with a fresh self-signed certificate")
    serve.add_argument("--http-port", type=int, default=None,
                       help="plain HTTP port answering 301 to HTTPS (with --tls)")
    serve.add_argument("--db", dest="db_path", default=None, help="keep the SQLite database in this file")
    serve.add_argument("--faults", default="", help="comma-separated fault names (see `faults`)")
    serve.add_argument("--profile", default=os.environ.get("PERMISO_REFERENCE_PROFILE") or d.profile,
                       help="named set of behaviours (see `profiles`; env PERMISO_REFERENCE_PROFILE); "
                            "--faults adds to it")
    # Secrets may also come from the environment (PERMISO_REFERENCE_JWT_SECRET, ..._ADMIN_PASSWORD,
    # ..._USER_PASSWORD, ..._CLIENT_SECRET): a command line is visible to every user in `ps`.
    serve.add_argument("--jwt-secret", default=os.environ.get("PERMISO_REFERENCE_JWT_SECRET"))
    serve.add_argument("--environment", default=d.environment)
    serve.add_argument("--access-seconds", type=int, default=d.access_token_seconds)
    serve.add_argument("--refresh-seconds", type=int, default=d.refresh_token_seconds)
    serve.add_argument("--service-seconds", type=int, default=None)
    serve.add_argument("--session-seconds", type=int, default=d.session_seconds)
    serve.add_argument("--lockout-threshold", type=int, default=d.lockout_threshold)
    serve.add_argument("--lockout-seconds", type=float, default=d.lockout_seconds)
    serve.add_argument("--registration-limit", type=int, default=d.registration_limit_per_hour)
    serve.add_argument("--auth-rate-limit", type=float, default=None,
                       help="requests/s per client IP on /auth/* (burst 2x; 503 HTML beyond)")
    serve.add_argument("--bcrypt-rounds", type=int, default=d.bcrypt_rounds)
    serve.add_argument("--hashing", choices=sorted(HASHINGS),
                       default=os.environ.get("PERMISO_REFERENCE_HASHING") or d.hashing,
                       help="password hashing (env PERMISO_REFERENCE_HASHING): "
                            + "; ".join(f"{k}: {v}" for k, v in HASHINGS.items()))
    for who in ("admin", "user"):
        for what in ("username", "password", "email"):
            env_name = f"PERMISO_REFERENCE_{who.upper()}_{what.upper()}"
            serve.add_argument(f"--{who}-{what}", default=os.environ.get(env_name, getattr(d, f"{who}_{what}")))
    serve.add_argument("--client-id", default=d.client_id)
    serve.add_argument("--client-secret", default=os.environ.get("PERMISO_REFERENCE_CLIENT_SECRET", d.client_secret))
    serve.add_argument("--quiet", action="store_true", help="print only the listening line")
    sub.add_parser("faults", help="list the injectable faults and acceptable variants (name, kind, description)")
    sub.add_parser("profiles", help="list the profiles (name, summary)")
    openapi = sub.add_parser("openapi", help="print the API description (/openapi.json) without serving; "
                                             "refreshes the suite's copy: --output support/data/permiso-openapi.json")
    openapi.add_argument("--output", default=None, help="write it to this file instead of printing it")
    sub.add_parser("front", add_help=False, help="serve behind a real nginx front (permiso_reference/front.py)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    rest = list(sys.argv[1:] if argv is None else argv)
    if rest[:1] == ["front"]:  # front.py owns its options
        from permiso_reference.front import main as front_main

        return front_main(rest[1:])
    args = _parser().parse_args(argv)
    if args.command == "faults":
        width = max(len(n) for n in BEHAVIOURS)
        for name in sorted(BEHAVIOURS):
            print(f"{name:<{width}}  {kind_of(name):<7}  {BEHAVIOURS[name]}")
        return 0
    if args.command == "openapi":
        return _print_openapi(args.output)
    if args.command == "profiles":
        width = max(len(n) for n in PROFILES)
        for name in profile_names():
            print(f"{name:<{width}}  {PROFILES[name].summary}")
        return 0
    try:
        profile = get_profile(args.profile).name
        faults = parse_faults(args.faults) | parse_faults(os.environ.get("PERMISO_REFERENCE_FAULTS"))
    except ValueError as exc:
        print(f"permiso-reference: {exc}", file=sys.stderr)
        return 2
    if args.http_port is not None and not args.tls:
        print("permiso-reference: --http-port needs --tls", file=sys.stderr)
        return 2
    import logging

    logging.basicConfig(level=logging.ERROR if args.quiet else logging.WARNING)
    settings = ReferenceSettings(
        host=args.host, port=args.port, tls=args.tls, http_port=args.http_port, db_path=args.db_path,
        faults=faults, profile=profile, jwt_secret=args.jwt_secret, environment=args.environment,
        access_token_seconds=args.access_seconds, refresh_token_seconds=args.refresh_seconds,
        service_token_seconds=args.service_seconds, session_seconds=args.session_seconds,
        lockout_threshold=args.lockout_threshold, lockout_seconds=args.lockout_seconds,
        registration_limit_per_hour=args.registration_limit, auth_rate_limit=args.auth_rate_limit,
        admin_username=args.admin_username, admin_password=args.admin_password,
        admin_email=args.admin_email, user_username=args.user_username,
        user_password=args.user_password, user_email=args.user_email, client_id=args.client_id,
        client_secret=args.client_secret, bcrypt_rounds=args.bcrypt_rounds, hashing=args.hashing)
    from permiso_reference.server import run

    run(settings, quiet=args.quiet)
    return 0


def _print_openapi(output: str | None) -> int:
    """The contract profile's API description, as a deployment that publishes it would serve it.

    Built from the app itself (a throwaway in-memory database, nothing listens): the suite fuzzes a
    deployment that hides its description from this copy, so refreshing it needs no running server.
    """
    import json

    from permiso_reference.app import create_app

    app = create_app(ReferenceSettings())
    try:
        text = json.dumps(app.openapi(), indent=1, sort_keys=True) + "\n"
    finally:
        app.state.db.close()  # removes its temporary database file
    if output is None:
        sys.stdout.write(text)
    else:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
