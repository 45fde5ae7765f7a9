"""Arguments after ``--`` replace the configured ones; they never add to them.

Servers disagree on a repeated option: Uvicorn and Granian keep the last ``--port``, but
Gunicorn's ``--bind`` and Waitress's ``--listen`` accumulate, so appending
``-- --bind=127.0.0.1:9000`` to ``"bind": "127.0.0.1:8000"`` would listen on both. Here an
option given after ``--`` removes every configured occurrence of the same option first,
whatever its spelling (long name, short alias, ``--no-`` twin, ``--opt value`` or
``--opt=value``), as the server's own parser says (:meth:`ArgParser.option_table
<django_prodserver.backends.parsers.ArgParser.option_table>`). Repeats after ``--`` are all
kept: that is how one asks Gunicorn for two listeners in one run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django_prodserver.backends.parsers import OptionTable


@dataclass(frozen=True)
class Option:
    """One option as written on a command line: what it sets (``None``: a positional word)."""

    key: str | None
    words: tuple[str, ...]


def split_options(args: Sequence[str], table: OptionTable) -> list[Option]:
    """Group ``args`` into options, each with its value word when the value is separate."""
    options: list[Option] = []
    index = 0
    while index < len(args):
        word = args[index]
        key: str | None = None
        takes_value, attached = False, False
        if word.startswith("--") and len(word) > 2:
            name, equals, _ = word.partition("=")
            key, takes_value = table.get(name, (name, False))
            attached = bool(equals)
        elif word.startswith("-") and len(word) > 1 and not word[1].isdigit():
            key, takes_value = table.get(word[:2], (word[:2], False))
            attached = len(word) > 2  # -b127.0.0.1:8000
        width = 2 if takes_value and not attached and index + 1 < len(args) else 1
        options.append(Option(key, tuple(args[index : index + width])))
        index += width
    return options


def replace_options(
    configured: Sequence[str], overrides: Sequence[str], table: OptionTable
) -> tuple[list[str], list[str]]:
    """``configured`` without the options that ``overrides`` sets, and what was removed."""
    given = {option.key for option in split_options(overrides, table) if option.key}
    kept: list[str] = []
    replaced: list[str] = []
    for option in split_options(configured, table):
        if option.key in given:
            replaced.append(" ".join(option.words))
        else:
            kept.extend(option.words)
    return kept, replaced
