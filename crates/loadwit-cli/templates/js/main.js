// A loadwit scenario: browses the demo shop's catalog.
//
// Build it with `loadwit build .`, run it with
// `loadwit run {{crate}}.wasm -e BASE_URL=http://127.0.0.1:3000`.
// `package.json` picks the engine: "spidermonkey", or "quickjs" for a
// smaller component and less memory per VU (`--js-engine` overrides it).

import { check, env, http, sleep } from "loadwit";

export const options = {
  vus: 5,
  duration: "10s",
  thresholds: { http_req_failed: ["rate<0.01"] },
};

export default function () {
  const base = env("BASE_URL", "http://127.0.0.1:3000");
  let res = http.get(`${base}/api/catalog/products`, {
    name: "/api/catalog/products",
    query: { limit: 20 },
  });
  check(res, { "products ok": (r) => r.status === 200 });

  res = http.get(`${base}/api/catalog/categories`, { name: "/api/catalog/categories" });
  check(res, { "categories ok": (r) => r.status === 200 });

  sleep(0.5);
}
