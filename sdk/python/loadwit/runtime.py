"""What a virtual user knows about its place in the run."""

from wit_world.imports import runtime as _host
from wit_world.imports.types import LogLevel

_LEVELS = {
    "debug": LogLevel.DEBUG,
    "info": LogLevel.INFO,
    "warn": LogLevel.WARN,
    "error": LogLevel.ERROR,
}


def sleep(seconds):
    """Pauses this VU for ``seconds``; the host runs others meanwhile."""
    _host.sleep(float(seconds))


def env(key, default=None):
    """The variable ``key`` from ``-e KEY=VALUE`` or the options' ``env``.

    Never the host's own environment. ``default`` when it is not set.
    """
    value = _host.env(key)
    return default if value is None else value


def env_all():
    """Every variable ``env`` knows, as a dict: k6's ``__ENV``."""
    return dict(_host.env_all())


def vu_id():
    """This VU's number, from 1, unique within the run."""
    return _host.vu_id()


def iteration():
    """How many iterations this VU started before this one, from 0."""
    return _host.iteration()


def scenario():
    """The name of the scenario this VU is running."""
    return _host.scenario()


def log(message, level="info"):
    """Writes one line to the host's log (``LOADWIT_LOG``), tagged with the VU."""
    _host.log(_LEVELS[level], str(message))
