"""Strict readers for settings taken from the environment.

A value that is set but cannot be understood stops start-up with an
``ImproperlyConfigured`` naming the variable; nothing is silently coerced.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    value = (environ if environ is not None else os.environ).get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str = "", environ: Mapping[str, str] | None = None) -> str:
    value = _raw(name, environ)
    return default if value is None else value


def env_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean; use one of true/false, 1/0, yes/no, on/off"
    )


def env_int(
    name: str,
    default: int,
    environ: Mapping[str, str] | None = None,
    *,
    minimum: int | None = None,
) -> int:
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number


def env_list(name: str, default: list[str] | None = None, environ: Mapping[str, str] | None = None) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


# --------------------------------------------------------------------------- the local env file

ENV_FILE_VARIABLE = "PRICEHUB_ENV_FILE"
_NO_FILE = {"none", "off", "false", "0"}


def env_file_path(base_dir, environ: Mapping[str, str] | None = None):
    """Where the local environment file is: ``<project>/.env`` unless ``PRICEHUB_ENV_FILE`` says
    otherwise (a path, relative paths taken from the project folder, or ``none`` for no file).

    Never the current directory: a command run from elsewhere reads the project's file only.
    """
    from pathlib import Path

    value = _raw(ENV_FILE_VARIABLE, environ)
    if value is None:
        return Path(base_dir) / ".env"
    if value.lower() in _NO_FILE:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(base_dir) / path


def parse_env_file(text: str, source: str = ".env") -> dict[str, str]:
    """``KEY=VALUE`` lines as a dict: blank lines and ``#`` comments skipped, an optional
    ``export`` prefix, values optionally in single or double quotes (unquoted, `` #`` starts a
    comment). A line that is none of these is an ``ImproperlyConfigured`` naming the file and line.
    """
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export "):].lstrip()
        key, sep, value = stripped.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key.replace("_", "a").isalnum() or key[0].isdigit():
            raise ImproperlyConfigured(f"{source} line {number} is not KEY=VALUE: {line.strip()[:80]!r}")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def load_env_file(path, environ=None) -> dict[str, str]:
    """Put the variables of the local environment file ``path`` into ``environ`` (default
    ``os.environ``) where they are not set already: real environment variables win.

    A missing file (production) is no error and sets nothing. Returns what the file set.
    """
    target = os.environ if environ is None else environ
    if path is None or not path.is_file():
        return {}
    loaded = {}
    for key, value in parse_env_file(path.read_text(encoding="utf-8"), str(path)).items():
        if key not in target:
            target[key] = loaded[key] = value
    return loaded


LOCAL_ENV_TEMPLATE = """\
# PriceHub local development settings, written once by `make run` (git-ignored, never committed).
# Every setting in README.md's configuration table may go here. Variables set in the real
# environment win over this file. Production has no such file: set variables there instead.
DEBUG=true
SECRET_KEY={secret_key}
"""


def write_local_env_file(path) -> bool:
    """Write a local development env file (``DEBUG=true`` and a freshly generated ``SECRET_KEY``)
    at ``path`` unless one exists; returns whether it was written. Readable by its owner only."""
    import secrets
    from pathlib import Path

    path = Path(path)
    try:
        handle = open(path, "x", encoding="utf-8")
    except FileExistsError:
        return False
    with handle:
        path.chmod(0o600)
        handle.write(LOCAL_ENV_TEMPLATE.format(secret_key=secrets.token_urlsafe(50)))
    return True


if __name__ == "__main__":  # python -m pricehub.env PATH: what `make run` does once
    import sys

    target = sys.argv[1] if len(sys.argv) > 1 else ".env"
    if write_local_env_file(target):
        print(f"Wrote {target}: local settings (DEBUG=true, a generated SECRET_KEY). Edit it to change them.")
