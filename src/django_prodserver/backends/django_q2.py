"""Django-Q2: ``manage.py qcluster ARGS``, a foreground process that stops cleanly.

``qcluster`` takes only ``--run-once`` and ``-n/--name``; everything else (workers, timeout,
broker) is the ``Q_CLUSTER`` setting. ``call_command("qcluster")`` returns as soon as the
cluster is up: the work happens in a forked sentinel and its workers, and the main process
lives on only because :mod:`multiprocessing` joins the sentinel in an exit hook. That leaves
the process's lifetime to a side effect and reports a crashed cluster as a clean exit, so this
backend drives :class:`django_q.cluster.Cluster` itself, the way ``qcluster`` does, and stays
in the foreground until a stop signal:

* SIGTERM or SIGINT only sets a flag; the main loop then calls ``Cluster.stop()`` in ordinary
  code, not inside the signal handler as ``qcluster`` does. The sentinel stops fetching, lets
  the workers finish every task already fetched, saves the results and exits; then this
  process exits 0 with no child left. A task never fetched stays queued for the next start.
  Further signals while stopping are ignored (a stop waits for the running tasks).
* If the sentinel dies on its own (killed, out of memory), the process says so and exits 1, so
  a supervisor restarts it. Django-Q2 cannot stop the sentinel's children in that case.

``--name`` (multi-queue setups) is honoured by giving the cluster a broker for that queue.
``qcluster`` itself only sets ``Q_CLUSTER_NAME`` after Django-Q2 has read its configuration,
which on Linux (fork) has no effect; to select an ``ALT_CLUSTERS`` entry, set the
``Q_CLUSTER_NAME`` environment variable before starting, as Django-Q2 documents.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from django.core import checks

from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.backends.parsers import ManagementCommandParser

if TYPE_CHECKING:
    from django_q.cluster import Cluster

APP = "django_q"
COMMAND = "qcluster"
#: How often the main process checks for a stop request or a dead sentinel, in seconds.
POLL_SECONDS = 0.2


class DjangoQ2Worker(BaseServerBackend):
    """Run a Django-Q2 cluster (sentinel, workers, pusher, monitor) in the foreground."""

    program = "qcluster"
    package = APP
    extra = "django-q2"

    def native_prefix(self) -> list[str]:
        return ["python", "manage.py", COMMAND]

    def arg_parser(self) -> ManagementCommandParser:
        return ManagementCommandParser(
            APP,
            COMMAND,
            hint=" (qcluster takes only --run-once and --name; workers, timeout and the broker "
            "are set in the Q_CLUSTER setting)",
        )

    def check_settings(self) -> list[checks.CheckMessage]:
        messages = super().check_settings()
        if messages:
            return messages
        from django.apps import apps

        if not apps.is_installed(APP):
            return [
                self.message(
                    "prodserver.E017",
                    f'{self.config.setting} uses {type(self).__name__}, but "{APP}" is not in '
                    "INSTALLED_APPS.",
                    f'Add "{APP}" to INSTALLED_APPS and run manage.py migrate.',
                )
            ]
        return []

    def start_server(self, *args: str) -> None:
        from django.conf import settings
        from django_q.brokers import get_broker
        from django_q.cluster import Cluster

        options = self.parsed_args or self.arg_parser().parse(args)
        settings.SECRET_KEY  # noqa: B018 - tasks are signed: fail now, as qcluster does
        cluster_name = options.value("cluster_name")
        broker = get_broker(cluster_name) if cluster_name else None
        stop_requested = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop_requested.set()

        cluster = Cluster(broker)
        # Replace the handlers Cluster() installed: they stop (and join) the cluster inside
        # the signal handler; here the main loop does it in ordinary code.
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        try:
            cluster.start()
        except RuntimeError:
            sentinel = getattr(cluster, "sentinel", None)
            if sentinel is not None and sentinel.exitcode not in (None, 0):
                _sentinel_died(sentinel.pid, sentinel.exitcode)  # killed while starting
            raise SystemExit(1) from None  # the sentinel's own log says why
        if not options.value("run_once"):
            while not stop_requested.wait(POLL_SECONDS):
                if not cluster.sentinel.is_alive():
                    _sentinel_died(cluster.sentinel.pid, cluster.sentinel.exitcode)
        _stop(cluster)


def _stop(cluster: Cluster) -> None:
    """Stop the cluster gracefully, without hanging if its sentinel was killed meanwhile.

    A SIGTERM sent to the whole process group (systemd's default KillMode, Heroku, some
    Procfile runners) also reaches the sentinel, which dies at once. ``Cluster.stop()`` then
    blocks forever in ``stop_event.set()``: the dead sentinel was waiting on that event. So
    the stop runs in a helper thread, and this process gives up on it when the sentinel has
    died without finishing its shutdown.
    """
    stopper = threading.Thread(target=cluster.stop, name="qcluster-stop", daemon=True)
    stopper.start()
    while stopper.is_alive():
        stopper.join(POLL_SECONDS)
        # Exit code 0: the sentinel finished its shutdown and the stopper returns next.
        if stopper.is_alive() and cluster.sentinel.exitcode not in (None, 0):
            break
    if cluster.sentinel.exitcode != 0:
        _sentinel_died(cluster.sentinel.pid, cluster.sentinel.exitcode)


def _sentinel_died(pid: int | None, exitcode: int | None) -> NoReturn:
    """Exit 1 so a supervisor restarts the cluster; say what happened (nothing else will)."""
    how = f"exited on its own with code {exitcode}"
    if exitcode is not None and exitcode < 0:
        how = f"was killed by signal {-exitcode}"
        if exitcode == -signal.SIGTERM:
            how = (
                "was killed by SIGTERM (sent to the whole process group? Send the stop signal "
                "to this process only, e.g. systemd KillMode=mixed, so running tasks can finish)"
            )
    sys.stderr.write(
        f"prodserver: the Django-Q2 sentinel (pid {pid}) {how}; running tasks may have been "
        "cut short, and its worker, pusher and monitor processes may still be running.\n"
    )
    raise SystemExit(1)
