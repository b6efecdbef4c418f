"""Write loadwit load-test scenarios in Python.

A scenario is a module with k6's shape: an ``options`` value, a
``default`` function run once per iteration, and optional ``setup`` and
``teardown``. Its last line hands the module to the host::

    import loadwit
    from loadwit import check, env, http, sleep

    options = {"vus": 10, "duration": "30s"}

    def default(data):
        res = http.get(env("BASE_URL", "http://127.0.0.1:3000") + "/health")
        check(res, {"health ok": lambda r: r.status == 200})
        sleep(0.5)

    WitWorld = loadwit.export(__name__)

Build it with ``loadwit build`` (which runs componentize-py against the
``loadwit:scenario`` world). The package is a thin layer over the
bindings componentize-py generates (``wit_world``); reach for those for
anything it does not wrap.
"""

from .checks import check, check_status
from .http import HttpError, Response
from .metrics import Counter, Gauge, Rate, Trend, abort, group
from .runtime import env, env_all, iteration, log, scenario, sleep, vu_id
from .world import export, setup_data
from . import http

__all__ = [
    "HttpError",
    "Response",
    "check",
    "check_status",
    "env",
    "env_all",
    "export",
    "http",
    "iteration",
    "log",
    "scenario",
    "setup_data",
    "sleep",
    "vu_id",
]
