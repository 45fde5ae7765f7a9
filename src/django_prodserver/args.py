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
    """ARGS (or one of its values) has a type the rule cannot translate.

    ``detail`` reads on directly after the name of the setting (``["workers"] must be ...``,
    `` key "--workers" must ...``), so the settings validation can say exactly where the
    problem is: ``PRODUCTION_PROCESSES["web"]["ARGS"]["workers"] must be ...``.

    When one entry's value is wrong, ``key`` names the entry and ``without_value`` is the same
    detail without the value, for an entry whose value is secret (see
    :mod:`django_prodserver.masking`).
    """

    def __init__(
        self, detail: str, *, key: str | None = None, without_value: str | None = None
    ) -> None:
        super().__init__(f"ARGS{detail}")
        self.detail = detail
        self.key = key
        self.without_value = without_value if without_value is not None else detail


def option_name(key: str) -> str:
    """Return the long option for an ARGS key: ``max_requests`` -> ``--max-requests``."""
    return "--" + key.replace("_", "-")


def _scalar(key: str, value: object, *, in_list: bool = False) -> str:
    # bool is an int subclass: a True inside a list is a mistake, not the number 1.
    if isinstance(value, bool) or not isinstance(value, (str, int, float, os.PathLike)):
        expected = (
            "must hold only strings, numbers or paths"
            if in_list
            else "must be a string, a number, a path, True/False/None or a list of those"
        )
        detail = f'["{key}"] {expected}, not {type(value).__name__}'
        raise ArgsTypeError(f"{detail} {value!r}", key=key, without_value=detail)
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)


def _check_key(key: object) -> str:
    """Return ``key`` if it is usable as a long option name; explain the fix if not."""
    if not isinstance(key, str):
        raise ArgsTypeError(
            f' key {key!r} must be a string naming an option, e.g. "workers" for --workers'
        )
    stripped = key.lstrip("-")
    if key.startswith("-") and stripped:
        raise ArgsTypeError(
            f' key "{key}" must be written without the leading dashes: "{stripped}"'
        )
    if not stripped or key.startswith("_") or any(c == "=" or c.isspace() for c in key):
        raise ArgsTypeError(
            f" key {key!r} is not an option name; write the long option without its "
            'dashes, e.g. "workers" for --workers or "max_requests" for --max-requests'
        )
    return key


def translate_args(args: ArgsSetting | None) -> list[str]:
    """Translate an ARGS setting into command-line arguments, following the ARGS rule."""
    if args is None:
        return []
    if isinstance(args, Mapping):
        return _translate_mapping(args)
    if isinstance(args, (str, bytes, bytearray)) or not isinstance(args, Sequence):
        raise ArgsTypeError(
            " must be a dict of option names to values or a list of strings, "
            f"not {type(args).__name__} {args!r}"
        )
    for item in args:
        if not isinstance(item, str):
            raise ArgsTypeError(
                f" given as a list must hold only strings, found {type(item).__name__} {item!r}"
            )
    return list(args)


def _translate_mapping(args: Mapping[str, ArgValue]) -> list[str]:
    result: list[str] = []
    for raw_key, value in args.items():
        key = _check_key(raw_key)
        flag = option_name(key)
        if value is True or value is None:
            result.append(flag)
        elif value is False:
            continue
        elif isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
            # An empty list repeats the flag zero times: nothing, like False.
            result.extend(f"{flag}={_scalar(key, item, in_list=True)}" for item in value)
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
