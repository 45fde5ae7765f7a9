"""Flower: ``celery --app=<APP> flower ARGS``, the web dashboard of a Celery cluster.

Flower is a ``celery`` subcommand added by the flower package, with the same ``APP`` rule as
the Celery backends, and it runs Celery's command line in this process, as they do. Its own
options are Tornado options (``--name=value``), which the ``flower`` program reads from the
command line, from ``FLOWER_*`` environment variables and from its configuration file
(``--conf``, ``flowerconfig.py`` by default). Two things are stricter than the native command:

* Flower silently drops an option it does not know, so a typo such as ``basic_auht`` starts a
  dashboard without a password. Here an unknown option is an error (``prodserver.E012``).
* Flower can revoke and terminate tasks and shut workers down, and by default it listens on
  every interface without authentication. A process that would listen beyond the loopback
  interface with no authentication configured is an error (``prodserver.E023``), in
  ``manage.py check --deploy`` and at start, unless the process names its own authentication
  handler with Flower's ``auth_provider`` option: the explicit, documented way to say that
  authentication happens elsewhere (for example in an authenticating proxy).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any

from django.core import checks

from django_prodserver.backends.celery import _CeleryCommand
from django_prodserver.backends.parsers import ParsedArgs, TornadoOptionsParser

#: Prefix of the environment variables the ``flower`` program reads as options.
ENV_PREFIX = "FLOWER_"
#: The options that configure authentication; any one set counts as configured.
AUTH_OPTIONS = ("basic_auth", "auth", "auth_provider")


def _flower_options() -> Any:
    """Flower's option registry (importing ``flower.options`` defines every option)."""
    import flower.options  # noqa: F401 - defines the options on tornado's registry
    from tornado.options import options

    return options


def is_loopback(address: str) -> bool:
    """Whether ``address`` (Flower's ``--address``) reaches only this machine."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


class FlowerParser(TornadoOptionsParser):
    """Flower's options, with what the ``flower`` program also reads: its environment
    variables and its configuration file, applied in the same order (file, then command line).
    """

    def parse(self, args: Any) -> ParsedArgs:
        parsed = super().parse(args)
        values = dict(parsed.values)
        given = set(parsed.given)
        for name in list(values):
            raw = os.environ.get(ENV_PREFIX + name.upper())
            if raw is not None and name not in given:
                values[name] = raw.split(",") if isinstance(values[name], list) else raw
                given.add(name)
        conf = values.get("conf")
        if conf and os.path.isfile(conf):
            from_file = self._copy()
            from_file.parse_config_file(os.path.abspath(conf), final=False)
            for name, option in from_file._options.items():
                key = name.replace("-", "_")
                if key not in given and option.value() != option.default:
                    values[key] = option.value()
                    given.add(key)
        return ParsedArgs(values, frozenset(given))


class CeleryFlower(_CeleryCommand):
    """Run Flower, Celery's monitoring dashboard: ``celery --app=<APP> flower ARGS``.

    SIGTERM and SIGINT stop it at once with status 0, as ``celery flower`` does: Flower's own
    SIGTERM handler exits from inside its event loop, so a request in progress (a dashboard
    page, an API call waiting for the workers' answers) is cut off; unlike a web server's, these
    requests are short and a browser repeats them.
    """

    #: How messages name the program (``celery flower --help`` lists Flower's options).
    program = "celery flower"
    package = "flower"
    extra = "flower"
    subcommand = "flower"
    #: Flower's passwords and signing key, whose names do not say they are secret.
    secret_options = frozenset({"basic_auth", "auth", "oauth2_secret", "cookie_secret"})

    def native_prefix(self) -> list[str]:
        return ["celery", f"--app={self.config.app}", self.subcommand]

    def arg_parser(self) -> FlowerParser:  # type: ignore[override]
        return FlowerParser(_flower_options, "flower")

    def check_args(self) -> list[checks.CheckMessage]:
        messages = super().check_args()
        if messages or self.parsed_args is None:
            return messages
        exposed = unauthenticated_exposure(self.parsed_args.values)
        if exposed:
            messages.append(
                self.message(
                    "prodserver.E023",
                    f"{self.config.setting}: Flower would listen on {exposed} with no "
                    "authentication, and anyone who reaches it can revoke tasks and shut "
                    "workers down.",
                    'Set "basic_auth" in ARGS to a user and password (or Flower\'s OAuth "auth"), '
                    'or listen on "address": "127.0.0.1"; an "auth_provider" of your own '
                    "says authentication happens elsewhere.",
                )
            )
        return messages


def unauthenticated_exposure(values: Mapping[str, Any]) -> str | None:
    """Where Flower would listen beyond loopback with no authentication, or ``None``.

    A Unix socket, a loopback address or any of :data:`AUTH_OPTIONS` set is fine. Flower's
    default address (empty) is every interface.
    """
    if values.get("unix_socket") or any(values.get(name) for name in AUTH_OPTIONS):
        return None
    address = str(values.get("address") or "")
    if address and is_loopback(address):
        return None
    port = values.get("port")
    return f"{address}:{port}" if address else f"every interface (port {port})"
