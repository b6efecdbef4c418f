// Load-tests the demo shop like its users do: most iterations browse
// the catalog, one in five signs in and looks at orders.
//
// The JavaScript twin of `guest-examples/rust/shop-stress`: the same
// requests, names, checks and variables. Every iteration sends exactly
// three requests, on either path.
//
// Variables (`-e KEY=VALUE`), all optional: `BASE_URL`
// (`http://127.0.0.1:3000`), `AUTH_SHARE` (0.2), `THINK_MIN` and
// `THINK_MAX` (0.1, 0.3 seconds), and `PRODUCTS_PATH`,
// `CATEGORIES_PATH`, `SEARCH_PATH`, `LOGIN_PATH`, `ORDERS_PATH`,
// `ME_PATH` for the shop's routes. A request's `name` is the path it
// used, so a wrong path shows up under its own name in the summary.

import { check, env, http, sleep } from "loadwit";

const SEARCH_TERMS = ["shoe", "lamp", "coffee", "book", "phone", "desk"];

export const options = {
  vus: 20,
  duration: "30s",
  thresholds: {
    http_req_duration: ["p(95)<500"],
    http_req_failed: ["rate<0.01"],
  },
};

export default function () {
  if (Math.random() < Number(env("AUTH_SHARE", "0.2"))) {
    signInAndLookAround();
  } else {
    browse();
  }

  const min = Number(env("THINK_MIN", "0.1"));
  const max = Math.max(Number(env("THINK_MAX", "0.3")), min);
  sleep(min + Math.random() * (max - min));
}

const ok = (name) => ({ [name]: (r) => r.status === 200 });

function browse() {
  let path = env("PRODUCTS_PATH", "/api/catalog/products");
  check(http.get(url(path), { name: path, query: { limit: 20 } }), ok("products ok"));

  path = env("CATEGORIES_PATH", "/api/catalog/categories");
  check(http.get(url(path), { name: path }), ok("categories ok"));

  path = env("SEARCH_PATH", "/api/search");
  const q = SEARCH_TERMS[Math.floor(Math.random() * SEARCH_TERMS.length)];
  check(http.get(url(path), { name: path, query: { q } }), ok("search ok"));
}

function signInAndLookAround() {
  const username = `user${1 + Math.floor(Math.random() * 100)}`;
  let path = env("LOGIN_PATH", "/api/auth/login");
  const login = http.post(url(path), undefined, {
    name: path,
    json: { username, password: "password" },
  });
  check(login, ok("login ok"));

  // A failed login leaves the token empty, and the next two requests
  // still go out (and fail their checks with a 401): every iteration
  // sends three requests, whatever happens.
  let token = "";
  try {
    if (login.status === 200) token = login.json().token || "";
  } catch {
    token = "";
  }

  path = env("ORDERS_PATH", "/api/orders");
  check(http.get(url(path), { name: path, bearer: token }), ok("orders ok"));

  path = env("ME_PATH", "/api/auth/me");
  check(http.get(url(path), { name: path, bearer: token }), ok("me ok"));
}

function url(path) {
  return env("BASE_URL", "http://127.0.0.1:3000").replace(/\/+$/, "") + path;
}
