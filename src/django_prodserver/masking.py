"""Masking secrets in everything ``prodserver`` prints.

The start line, ``--list``, ``--dry-run``, error messages and system check messages end up in
the logs of systemd, Docker, Kubernetes and every log shipper, so they never show a secret
that a process's ARGS hold. The rule, applied to each word of a command line:

* **URL passwords.** In every ``scheme://user:password@host``, wherever it appears (a whole
  word, the value of ``--opt=URL``, a ``NAME=URL`` pair, an item of list ARGS), the password
  becomes ``***``: ``postgres://app:***@db/app``. As for Python's own URL parser, the
  password runs to the last ``@`` before the host, so an unencoded ``@`` inside it is masked
  too. A user name without a password is shown (it is not a secret).
* **Secret options.** The value of a long option whose name says it is secret becomes
  ``***``, in both forms: ``--ssl-keyfile-password=***`` and ``--ssl-keyfile-password ***``
  (the next word, unless it starts with ``-``). A name says it is secret when one of its
  parts (split at ``-``, ``_`` and ``.``, ignoring case) ends with one of
  ``SECRET_WORDS`` (``password``, ``passwd``, ``passphrase``, ``secret``, ``token``,
  ``auth``, ``credential``, ``key``, or their plural): ``ssl_keyfile_password``,
  ``basic_auth``, ``api_key``, ``apikey``, ``auth``. A name whose **last** part ends with
  ``file``, ``path`` or ``dir`` names a file, not a secret, and is shown: ``keyfile``,
  ``certfile``, ``ssl-keyfile``, ``key-file``, ``secret_path``.
* **Secret pairs.** A ``NAME=value`` word, or option value, whose NAME says it is secret by
  the same rule has its value masked: Gunicorn's ``--env=SECRET_KEY=***``.
* **Declared options.** A backend lists further option names in
  :attr:`~django_prodserver.backends.base.BaseServerBackend.secret_options`; their values are
  masked like those of the options whose name says secret.

Short options (``-p VALUE``) are not recognised; a URL password in their value still is.
Messages (errors, checks) get the same rule through :func:`mask_text`, which also masks a
quoted ``'NAME': 'value'`` pair as Python prints it in a dict.

An empty value and an already masked one (only ``*``) are left as they are, so masking twice
changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

#: What a secret is replaced with.
MASK = "***"

#: Name parts ending with one of these (or its plural) say that a value is secret.
SECRET_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "auth",
    "credential",
    "key",
)
_SECRET_ENDINGS = tuple(word + plural for word in SECRET_WORDS for plural in ("", "s"))

#: A name whose last part ends with one of these names a file or directory: not a secret.
PATH_ENDINGS = ("file", "path", "dir")

# The password of scheme://user:password@host. The password is greedy up to the last "@"
# before the end of the authority ("/", "?", "#" or whitespace), as urllib reads it.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]*:)(?P<password>[^/?#\s]*)(?=@)"
)
# NAME=value, where NAME could be an environment variable or a setting.
_PAIR = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)=(?P<value>.*)", re.DOTALL)
# 'NAME': 'value' or ('NAME', 'value') as Python's repr() writes them inside a message.
_REPR_PAIR = re.compile(
    r"""(?P<q>['"])(?P<name>[A-Za-z_][\w.\-]*)(?P=q)(?P<sep>\s*[:,]\s*)"""
    r"""(?P<open>b?(?P<vq>['"]))(?P<value>(?:\\.|(?!(?P=vq)).)*)(?P=vq)"""
)
# Quotes and brackets around a word of a message, and punctuation after it.
_WORD_EDGES = re.compile(
    r"""(?P<lead>(?:b?['"]|[(\[{])*)(?P<core>.*?)(?P<trail>['")\]},.;:!?]*)""", re.DOTALL
)


def _name_parts(name: str) -> list[str]:
    return [part for part in re.split(r"[-_.]+", name.lower()) if part]


def _normal(name: str) -> str:
    """``--Basic_Auth`` and ``basic-auth`` are the same option: ``basic-auth``."""
    return name.lstrip("-").lower().replace("_", "-")


def says_secret(name: str) -> bool:
    """Whether an option or variable name says its value is secret (see the module rule)."""
    parts = _name_parts(name)
    if not parts or parts[-1].endswith(PATH_ENDINGS):
        return False
    return any(part.endswith(_SECRET_ENDINGS) for part in parts)


def is_secret_option(name: str, secret_options: Collection[str] = ()) -> bool:
    """Whether the value of option ``name`` (``--x``, ``x`` or an ARGS key) is masked."""
    return _normal(name) in {_normal(option) for option in secret_options} or says_secret(name)


def _hidden(value: str) -> bool:
    """Nothing to hide: empty, or masked already."""
    return not value.strip("*")


def mask_value(value: str) -> str:
    """Mask one value: the password of every URL in it, and a secret ``NAME=value`` pair."""
    pair = _PAIR.fullmatch(value)
    if pair and says_secret(pair["name"]) and not _hidden(pair["value"]):
        return f"{pair['name']}={MASK}"

    def password(match: re.Match[str]) -> str:
        return match["head"] + (match["password"] if _hidden(match["password"]) else MASK)

    return _URL_PASSWORD.sub(password, value)


def mask_command(words: Sequence[str], secret_options: Collection[str] = ()) -> list[str]:
    """Return the command line ``words`` with every secret replaced by ``***``.

    ``secret_options`` are option names (with or without dashes) whose values are secret
    besides those whose name says so.
    """
    masked: list[str] = []
    value_is_secret = False  # the previous word was a secret option without "="
    for word in words:
        if value_is_secret and not word.startswith("-"):
            value_is_secret = False
            masked.append(word if _hidden(word) else MASK)
            continue
        value_is_secret = False
        if word.startswith("--") and len(word) > 2:
            name, equals, value = word.partition("=")
            if is_secret_option(name, secret_options):
                value_is_secret = not equals
                masked.append(word if _hidden(value) else f"{name}={MASK}")
            else:
                masked.append(f"{name}{equals}{mask_value(value)}")
        else:
            masked.append(mask_value(word))
    return masked


def mask_text(text: str, secret_options: Collection[str] = ()) -> str:
    """Return a message (an error, a parser's complaint, a check) with its secrets masked.

    The message is read as words, so an option and its value keep the rule of
    :func:`mask_command` even inside a sentence or in quotes. A parser that names a secret
    option and then quotes a value (``Invalid value for '--api-token': 'abc'``,
    ``argument --api-token: invalid int value: 'abc'``) has that quoted value masked too.
    """

    def repr_pair(match: re.Match[str]) -> str:
        if not is_secret_option(match["name"], secret_options) or _hidden(match["value"]):
            return match[0]
        value = match["open"] + MASK + match["vq"]
        return f"{match['q']}{match['name']}{match['q']}{match['sep']}{value}"

    pieces = re.split(r"(\s+)", _REPR_PAIR.sub(repr_pair, text))
    words = [_edges(word) for word in pieces[::2]]
    masked: list[str] = []
    clause: list[str] = []
    quoted_value_is_secret = False  # a secret option was named as "--x:" or "'--x':"
    for lead, core, trail in words:
        if quoted_value_is_secret and ("'" in lead or '"' in lead):
            quoted_value_is_secret = False
            core = core if _hidden(core) else MASK
        clause.append(core)
        # "--password:" or "'--password'" ends a clause: the next word is not its value.
        if trail:
            masked += mask_command(clause, secret_options)
            clause = []
        if ":" in trail and "=" not in core and is_secret_option(core, secret_options):
            quoted_value_is_secret = True
    masked += mask_command(clause, secret_options)
    for index, ((lead, _, trail), core) in enumerate(zip(words, masked, strict=True)):
        pieces[index * 2] = lead + core + trail
    return "".join(pieces)


def _edges(word: str) -> tuple[str, str, str]:
    """Split a word of a message into its leading quotes, the word itself and what follows."""
    match = _WORD_EDGES.fullmatch(word)
    assert match is not None  # every part of the pattern may be empty
    return match["lead"], match["core"], match["trail"]
