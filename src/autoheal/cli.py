"""The `autoheal` command: `serve` runs the service, `config` prints the effective settings, `demo` shows it at work."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from autoheal import __version__
from autoheal.config import ConfigError, Settings, explicit_document, parse_settings
from autoheal.docker.adapter import api_version
from autoheal.logs import FORMATS
from autoheal.logs import configure as configure_logging
from autoheal.notify.settings import notify_settings
from autoheal.portable import file_choices

LOG_LEVELS = ("debug", "info", "warning", "error")


def default_data_dir(environ: Mapping[str, str]) -> str:
    """/data in the container image, else the per-user data directory."""
    if Path("/.dockerenv").exists() and Path("/data").is_dir():
        return "/data"
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "autoheal")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 65535")
    return value


def is_loopback(host: str) -> bool:
    """Whether a bind address is reachable from this machine only."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(bind_host: str, listed: str | None) -> list[str] | None:
    """The host names the API answers to besides the loopback names; None: any (no Host check).

    listed is AUTOHEAL_ALLOWED_HOSTS, a comma list ("*" allows any). Without it, a loopback bind
    allows only the loopback names and the bind address; any other bind allows every name, since
    autoheal cannot know under which names the machine or container is reached.
    """
    names = [name.strip() for name in (listed or "").split(",") if name.strip()]
    specific = bool(bind_host.strip()) and bind_host.strip() not in ("0.0.0.0", "::", "[::]")
    if names:
        return [bind_host.strip(), *names] if specific else names
    if is_loopback(bind_host):
        return [bind_host.strip()]
    return None


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    env = environ.get
    parser = argparse.ArgumentParser(prog="autoheal", description="Keeps Docker containers alive.")
    parser.add_argument("--version", action="version", version=f"autoheal {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{serve,config,demo}")
    for name, help_text in (("serve", "run the service"), ("config", "print the effective configuration and exit")):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--config", default=env("AUTOHEAL_CONFIG") or None, help="JSON settings file [AUTOHEAL_CONFIG]")
        if name == "serve":
            cmd.add_argument("--host", default=env("AUTOHEAL_HOST") or "127.0.0.1", help="address of the web UI/API [AUTOHEAL_HOST, 127.0.0.1]")
            cmd.add_argument("--port", type=_port, default=env("AUTOHEAL_PORT") or "8080", help="port of the web UI/API [AUTOHEAL_PORT, 8080]")
            cmd.add_argument("--metrics-port", type=_port, default=env("AUTOHEAL_METRICS_PORT") or "9090", help="separate Prometheus port, 0 to disable [AUTOHEAL_METRICS_PORT, 9090]")
            cmd.add_argument("--data-dir", default=env("AUTOHEAL_DATA_DIR") or default_data_dir(environ), help="state directory [AUTOHEAL_DATA_DIR]")
            cmd.add_argument("--state", choices=("sqlite", "memory"), default=(env("AUTOHEAL_STATE") or "sqlite").lower(), help="sqlite in the data directory, or memory only [AUTOHEAL_STATE, sqlite]")
            cmd.add_argument("--log-level", choices=LOG_LEVELS, default=(env("AUTOHEAL_LOG_LEVEL") or "info").lower(), help="[AUTOHEAL_LOG_LEVEL, info]")
            cmd.add_argument("--log-format", choices=FORMATS, default=(env("AUTOHEAL_LOG_FORMAT") or "text").lower(), help="text, or one JSON object per line [AUTOHEAL_LOG_FORMAT, text]")
            cmd.add_argument("--allowed-hosts", default=env("AUTOHEAL_ALLOWED_HOSTS") or None, help="comma list of host names the API answers to besides localhost, 127.0.0.1 and [::1]; * for any [AUTOHEAL_ALLOWED_HOSTS; any name when --host is not a loopback address]")
    sub.add_parser("demo", add_help=False, help="break the samples of docker-compose.test.yml and show what autoheal does")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["demo"]:
        from autoheal.demo import main as demo_main

        return demo_main(argv[1:], environ)
    parser = build_parser(environ)
    args = parser.parse_args(argv)
    try:
        config_file = Path(args.config) if args.config else None
        explicit = explicit_document(config_file, environ)
        choices = file_choices(config_file)
        settings = parse_settings(explicit)
        api_version(environ)
        notify_settings(environ)
        if args.command == "serve":
            # argparse checks choices only for values given on the command line, not for defaults
            # taken from the environment.
            if args.log_level not in LOG_LEVELS:
                raise ConfigError(f"AUTOHEAL_LOG_LEVEL: {args.log_level!r} is not one of {', '.join(LOG_LEVELS)}")
            if args.log_format not in FORMATS:
                raise ConfigError(f"AUTOHEAL_LOG_FORMAT: {args.log_format!r} is not one of {', '.join(FORMATS)}")
    except (ConfigError, ValueError) as exc:
        print(f"autoheal: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "config":
        print(json.dumps(settings.model_dump(mode="json"), indent=2))
        return 0
    return serve(args, settings, explicit, choices, environ)


def serve(
    args: argparse.Namespace, settings: Settings, explicit: dict, choices: dict[str, bool], environ: Mapping[str, str]
) -> int:
    from autoheal.api.app import create_app
    from autoheal.api.security import load_token
    from autoheal.engine.service import Service
    from autoheal.serving import serve as run_server

    configure_logging(args.log_level, args.log_format)
    data_dir: Path | None = None
    if args.state == "sqlite":
        data_dir = Path(args.data_dir).expanduser()
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"autoheal: cannot create data directory {data_dir}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    try:
        service = Service(settings, environ, data_dir=data_dir, explicit=explicit, explicit_choices=choices)
    except (ConfigError, ValueError) as exc:  # a notification channel that cannot be set up
        print(f"autoheal: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        token = load_token(environ.get("AUTOHEAL_API_TOKEN"), environ.get("AUTOHEAL_API_TOKEN_FILE"))
    except ValueError as exc:
        print(f"autoheal: {exc}", file=sys.stderr)
        return 2
    if token is None and not is_loopback(args.host):
        logging.getLogger("autoheal").warning(
            "the API on %s has no token: anyone who can reach it can restart containers; set AUTOHEAL_API_TOKEN",
            args.host,
        )
    hosts = allowed_hosts(args.host, args.allowed_hosts)
    if hosts is None:
        logging.getLogger("autoheal").info(
            "the API on %s answers to any Host name; set AUTOHEAL_ALLOWED_HOSTS to the names it is reached by",
            args.host,
        )
    app = create_app(
        service, token=token, metrics_host=args.host, metrics_port=args.metrics_port, allowed_hosts=hosts
    )
    # uvicorn shuts down gracefully, then re-raises the signal to the handler it found: make
    # that a clean exit, so `docker stop` and systemd see success.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        return run_server(
            app,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            log_config=None,  # logging is configured above (text or JSON); uvicorn's loggers use it
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    except KeyboardInterrupt:
        return 130


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
