"""Custom metrics, groups and aborting the test.

Metrics are declared lazily, on their first value: componentize-py runs
a module's top level at build time, when no host is there to declare
them with. So a scenario creates them at the top of the module::

    orders = Counter("orders_placed")
    cart = Trend("cart_time", time=True)

    def default(data):
        with group("checkout"):
            orders.add(1, {"kind": "guest"})
            cart.add(12.5)  # milliseconds for a time trend
"""

from contextlib import contextmanager

from componentize_py_types import Err
from wit_world.imports import control as _control
from wit_world.imports import groups as _groups
from wit_world.imports import metrics as _host


class _Metric:
    """A metric of one kind, declared with the host on first use."""

    def __init__(self, name, kind, time=False):
        self.name = name
        self._kind = kind
        self._time = time
        self._id = None

    def add(self, value, tags=None):
        """Records ``value`` with optional ``tags`` (a dict)."""
        if self._id is None:
            try:
                self._id = _host.declare(self.name, self._kind, self._time)
            except Err as err:
                raise ValueError(err.value) from None
        pairs = [(str(k), str(v)) for k, v in (tags or {}).items()]
        _host.add(self._id, float(value), pairs)


class Counter(_Metric):
    """Adds up values, like k6's ``Counter``."""

    def __init__(self, name):
        super().__init__(name, _host.MetricKind.COUNTER)


class Gauge(_Metric):
    """Keeps the last value and its extremes, like k6's ``Gauge``."""

    def __init__(self, name):
        super().__init__(name, _host.MetricKind.GAUGE)


class Rate(_Metric):
    """Counts how many values are true (non-zero), like k6's ``Rate``."""

    def __init__(self, name):
        super().__init__(name, _host.MetricKind.RATE)

    def add(self, value, tags=None):
        super().add(1.0 if value else 0.0, tags)


class Trend(_Metric):
    """Keeps a distribution; ``time=True`` for milliseconds, like k6's
    ``Trend(name, true)``."""

    def __init__(self, name, time=False):
        super().__init__(name, _host.MetricKind.TREND, time)


@contextmanager
def group(name):
    """Tags what runs inside with ``group`` and records ``group_duration``."""
    _groups.begin(name)
    try:
        yield
    finally:
        _groups.end()


def abort(reason):
    """Ends the whole test after this iteration, with exit code 108."""
    _control.abort(reason)
