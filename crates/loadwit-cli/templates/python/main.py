"""A loadwit scenario: browses the demo shop's catalog.

Build it with ``loadwit build .``, run it with
``loadwit run {{crate}}.wasm -e BASE_URL=http://127.0.0.1:3000``.
"""

import loadwit
from loadwit import check, env, http, sleep

options = {
    "vus": 5,
    "duration": "10s",
    "thresholds": {"http_req_failed": ["rate<0.01"]},
}


def default(data):
    base = env("BASE_URL", "http://127.0.0.1:3000")
    res = http.get(f"{base}/api/catalog/products", params={"limit": 20},
                   name="/api/catalog/products")
    check(res, {"products ok": lambda r: r.status == 200})

    res = http.get(f"{base}/api/catalog/categories", name="/api/catalog/categories")
    check(res, {"categories ok": lambda r: r.status == 200})

    sleep(0.5)


# The class componentize-py exports: `options`, `setup`, `teardown` and
# one function per `exec` name, looked up in this module.
WitWorld = loadwit.export(__name__)
