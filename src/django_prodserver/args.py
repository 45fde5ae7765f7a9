"""The ARGS rule: one translation from a settings dict to command-line flags, for every backend.

ARGS keys are the server's own long option names, so ``gunicorn --help`` is the reference:

* ``"workers": 4`` becomes ``--workers=4`` (underscores become dashes: ``max_requests``
  becomes ``--max-requests``);
* ``True`` or ``None`` becomes the bare flag, ``False`` leaves the flag out;
* a list repeats the flag once per item;
* ARGS given as a list of strings is passed through verbatim.

Keeping this in one place means a backend module never formats a flag itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

Scalar = str | int | float | os.PathLike[str]
ArgValue = Scalar | bool | None | Sequence[Scalar]
ArgsSetting = Mapping[str, ArgValue] | Sequence[str]


class ArgsTypeError(TypeError):
    """ARGS (or one of its values) has a type the rule cannot translate."""


def option_name(key: str) -> str:
    """Return the long option for an ARGS key: ``max_requests`` -> ``--max-requests``."""
    return "--" + key.replace("_", "-")


def _scalar(key: str, value: object) -> str:
    # bool is an int subclass: a True inside a list is a mistake, not the number 1.
    if isinstance(value, bool) or not isinstance(value, (str, int, float, os.PathLike)):
        raise ArgsTypeError(
            f'value of "{key}" must be a string, a number, True/False/None or a list of '
            f"strings or numbers, not {type(value).__name__}"
        )
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)


def translate_args(args: ArgsSetting | None) -> list[str]:
    """Translate an ARGS setting into command-line arguments, following the ARGS rule."""
    if args is None:
        return []
    if isinstance(args, Mapping):
        return _translate_mapping(args)
    if isinstance(args, (str, bytes)) or not isinstance(args, Sequence):
        raise ArgsTypeError(
            f"ARGS must be a dict of option names or a list of strings, not {type(args).__name__}"
        )
    for item in args:
        if not isinstance(item, str):
            raise ArgsTypeError(
                f"every item of a list ARGS must be a string, found {type(item).__name__} {item!r}"
            )
    return list(args)


def _translate_mapping(args: Mapping[str, ArgValue]) -> list[str]:
    result: list[str] = []
    for key, value in args.items():
        if not isinstance(key, str) or not key or key.startswith("-"):
            raise ArgsTypeError(
                f"ARGS key {key!r} must be an option name without leading dashes, "
                'e.g. "workers" for --workers'
            )
        flag = option_name(key)
        if value is True or value is None:
            result.append(flag)
        elif value is False:
            continue
        elif isinstance(value, Sequence) and not isinstance(value, str):
            result.extend(f"{flag}={_scalar(key, item)}" for item in value)
        else:
            result.append(f"{flag}={_scalar(key, value)}")
    return result


def mentions_option(args: Sequence[str], key: str) -> bool:
    """Say whether ``args`` already sets the option ``key`` (or its ``--no-`` twin).

    Backends use this to drop a default the user overrode, so that ``--lifespan=on`` in ARGS
    replaces the default ``--lifespan=off`` instead of fighting it.
    """
    name = key.replace("_", "-")
    names = {name, f"no-{name}"}
    if name.startswith("no-"):
        names.add(name[3:])
    return any(arg.startswith("--") and arg[2:].split("=", 1)[0] in names for arg in args)
