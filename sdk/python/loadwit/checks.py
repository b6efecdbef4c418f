"""Named pass/fail assertions, counted in the ``checks`` metric.

A failed check never stops the iteration; it is counted and shown in
the summary.
"""

from wit_world.imports import checks as _host


def check(value, checks, tags=None):
    """Records one check per entry of ``checks``, as k6's ``check`` does.

    ``checks`` maps a check's name to a predicate called with ``value``
    (a predicate that raises fails its check), or to a plain ``bool``.
    Returns whether every check passed.
    """
    tags = _tags(tags)
    passed = True
    for name, predicate in checks.items():
        passed = _host.check(name, _outcome(predicate, value), tags) and passed
    return passed


def check_status(res, name, expected=200, tags=None):
    """Checks that ``res`` came with status ``expected``.

    A request that got no response (status 0) fails the check.
    """
    return _host.check(name, res.status == expected, _tags(tags))


def _outcome(predicate, value):
    if not callable(predicate):
        return bool(predicate)
    try:
        return bool(predicate(value))
    except Exception:
        return False


def _tags(tags):
    return [(str(k), str(v)) for k, v in (tags or {}).items()]
