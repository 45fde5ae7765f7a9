"""The one exception type users see.

Every problem a user can fix (a bad setting, an unknown process, a flag the server rejects)
is raised as :class:`ProdserverError`. It is a Django ``CommandError``, so ``manage.py``
prints it as a single line, exits with status 1 and shows a traceback only with
``--traceback``.
"""

from django.core.management import CommandError


class ProdserverError(CommandError):
    """A configuration or command-line problem, described in one line with its fix."""


class ArgsRejected(Exception):
    """The backend's own argument parser refused the translated command line.

    Carries the parser's message; the caller adds which process and setting it came from.
    """
