"""Load-tests the demo shop like its users do: most iterations browse
the catalog, one in five signs in and looks at orders.

The Python twin of ``guest-examples/rust/shop-stress``: the same
requests, names, checks and variables. Every iteration sends exactly
three requests, on either path.

Variables (``-e KEY=VALUE``), all optional: ``BASE_URL``
(``http://127.0.0.1:3000``), ``AUTH_SHARE`` (0.2), ``THINK_MIN`` and
``THINK_MAX`` (0.1, 0.3 seconds), and ``PRODUCTS_PATH``,
``CATEGORIES_PATH``, ``SEARCH_PATH``, ``LOGIN_PATH``, ``ORDERS_PATH``,
``ME_PATH`` for the shop's routes. A request's ``name`` is the path it
used, so a wrong path shows up under its own name in the summary.
"""

import random

import loadwit
from loadwit import check_status, env, http, sleep

SEARCH_TERMS = ["shoe", "lamp", "coffee", "book", "phone", "desk"]

options = {
    "vus": 20,
    "duration": "30s",
    "thresholds": {
        "http_req_duration": ["p(95)<500"],
        "http_req_failed": ["rate<0.01"],
    },
}


def default(data):
    if random.random() < float(env("AUTH_SHARE", "0.2")):
        sign_in_and_look_around()
    else:
        browse()

    low = float(env("THINK_MIN", "0.1"))
    high = max(float(env("THINK_MAX", "0.3")), low)
    sleep(random.uniform(low, high))


def browse():
    path = env("PRODUCTS_PATH", "/api/catalog/products")
    res = http.get(url(path), params={"limit": 20}, name=path)
    check_status(res, "products ok", 200)

    path = env("CATEGORIES_PATH", "/api/catalog/categories")
    res = http.get(url(path), name=path)
    check_status(res, "categories ok", 200)

    path = env("SEARCH_PATH", "/api/search")
    res = http.get(url(path), params={"q": random.choice(SEARCH_TERMS)}, name=path)
    check_status(res, "search ok", 200)


def sign_in_and_look_around():
    user = f"user{random.randint(1, 100)}"
    path = env("LOGIN_PATH", "/api/auth/login")
    login = http.post(url(path), json={"username": user, "password": "password"}, name=path)
    check_status(login, "login ok", 200)

    # A failed login leaves the token empty, and the next two requests
    # still go out (and fail their checks with a 401): every iteration
    # sends three requests, whatever happens.
    try:
        token = login.json()["token"] if login.status == 200 else ""
    except (ValueError, KeyError):
        token = ""

    path = env("ORDERS_PATH", "/api/orders")
    check_status(http.get(url(path), bearer=token, name=path), "orders ok", 200)

    path = env("ME_PATH", "/api/auth/me")
    check_status(http.get(url(path), bearer=token, name=path), "me ok", 200)


def url(path):
    return env("BASE_URL", "http://127.0.0.1:3000").rstrip("/") + path


WitWorld = loadwit.export(__name__)
