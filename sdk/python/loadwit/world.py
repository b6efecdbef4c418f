"""Wires a scenario module to the component's exports."""

import json
import random
import sys

from componentize_py_types import Err


def export(module_name):
    """The ``WitWorld`` class componentize-py exports, for the module
    ``module_name`` (pass ``__name__``).

    The module may define ``options`` (a dict, a JSON string, or a
    function returning either), ``setup()`` returning any JSON value,
    ``teardown(data)``, and one function per ``exec`` name, ``default``
    for scenarios without one. Each receives ``setup``'s value.
    Exceptions become the iteration's error.
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
                return b""
            return _guard(lambda: json.dumps(setup()).encode())

        def run(self, exec, data):
            _reseed()
            function = getattr(module(), exec, None)
            if not callable(function):
                raise Err(f"the scenario has no function `{exec}`")
            _guard(lambda: function(_decode(data)))

        def teardown(self, data):
            teardown = getattr(module(), "teardown", None)
            if teardown is not None:
                _guard(lambda: teardown(_decode(data)))

    return WitWorld


_seeded = False


def _reseed():
    # componentize-py snapshots the module after its top level ran, so
    # every instance would start from the same `random` state.
    global _seeded
    if not _seeded:
        random.seed()
        _seeded = True


def _decode(data):
    return json.loads(data) if data else None


def _guard(call):
    try:
        return call()
    except Err:
        raise
    except Exception as error:
        raise Err(f"{type(error).__name__}: {error}") from error
