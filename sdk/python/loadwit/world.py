"""Wires a scenario module to the component's exports."""

import json
import random
import sys

from componentize_py_types import Err
from wit_world.imports import runtime as _runtime


def export(module_name):
    """The ``WitWorld`` class componentize-py exports, for the module
    ``module_name`` (pass ``__name__``).

    The module may define ``options`` (a dict, a JSON string, or a
    function returning either), ``setup()`` returning any JSON value,
    ``teardown(data)``, and one function per ``exec`` name, ``default``
    for scenarios without one. Each receives ``setup``'s value, decoded
    once per VU. Exceptions become the iteration's error.
    """

    def module():
        return sys.modules[module_name]

    class WitWorld:
        def options(self):
            options = getattr(module(), "options", "")
            if callable(options):
                options = options()
            return options if isinstance(options, str) else json.dumps(options)

        def setup(self):
            setup = getattr(module(), "setup", None)
            if setup is None:
                return ""
            return _guard(lambda: json.dumps(setup()))

        def run(self, exec):
            _reseed()
            function = getattr(module(), exec, None)
            if not callable(function):
                raise Err(f"the scenario has no function `{exec}`")
            _guard(lambda: function(setup_data()))

        def teardown(self):
            teardown = getattr(module(), "teardown", None)
            if teardown is not None:
                _guard(lambda: teardown(setup_data()))

    return WitWorld


_seeded = False


def _reseed():
    # componentize-py snapshots the module after its top level ran, so
    # every instance would start from the same `random` state.
    global _seeded
    if not _seeded:
        random.seed()
        _seeded = True


_NOT_READ = object()
_setup_value = _NOT_READ


def setup_data():
    """What ``setup`` returned, decoded once per VU and kept: it cannot
    change during a run. ``None`` when there is no ``setup``."""
    global _setup_value
    if _setup_value is _NOT_READ:
        data = _runtime.setup_data()
        _setup_value = json.loads(data) if data else None
    return _setup_value


def _guard(call):
    try:
        return call()
    except Err:
        raise
    except Exception as error:
        raise Err(f"{type(error).__name__}: {error}") from error
