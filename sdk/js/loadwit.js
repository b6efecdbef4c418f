// Write loadwit load-test scenarios in JavaScript, in k6's style.
//
// A scenario is an ES module with k6's shape: `options`, a default
// function run once per iteration, optional `setup` and `teardown`, and
// one named function per `exec`:
//
//     import { check, env, http, sleep } from "loadwit";
//
//     export const options = { vus: 10, duration: "30s" };
//
//     export default function () {
//       const res = http.get(`${env("BASE_URL")}/health`);
//       check(res, { "health ok": (r) => r.status === 200 });
//       sleep(0.5);
//     }
//
// `loadwit build` bundles it with this module and componentizes it for
// the `loadwit:scenario` world. This file is a thin layer over the
// world's imports; reach for `loadwit:scenario/*` for anything it does
// not wrap.

import { send } from "loadwit:scenario/http@0.1.0";
import { check as hostCheck } from "loadwit:scenario/checks@0.1.0";
import * as runtime from "loadwit:scenario/runtime@0.1.0";
import * as metrics from "loadwit:scenario/metrics@0.1.0";
import * as groups from "loadwit:scenario/groups@0.1.0";
import { abort as hostAbort } from "loadwit:scenario/control@0.1.0";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Pauses this VU for `seconds`; the host runs others meanwhile. */
export function sleep(seconds) {
  runtime.sleep(Number(seconds));
}

/** The variable `key` from `-e KEY=VALUE` or the options' `env`, else `fallback`. */
export function env(key, fallback) {
  const value = runtime.env(key);
  return value === undefined ? fallback : value;
}

/** k6's `__ENV`: variables from `-e KEY=VALUE`, read when used. */
export const __ENV = new Proxy(
  {},
  { get: (_, key) => (typeof key === "string" ? runtime.env(key) : undefined) },
);

/**
 * k6's `exec` module, in part: `exec.vu.idInTest` (from 1),
 * `exec.vu.iterationInScenario` (from 0) and `exec.scenario.name`.
 */
export const exec = {
  vu: {
    get idInTest() {
      return runtime.vuId();
    },
    get iterationInScenario() {
      return Number(runtime.iteration());
    },
  },
  scenario: {
    get name() {
      return runtime.scenario();
    },
  },
};

/** Writes one line to the host's log (`LOADWIT_LOG`), tagged with the VU. */
export function log(message, level = "info") {
  runtime.log(level, String(message));
}

/**
 * Records one check per entry of `checks`, as k6's `check` does: each
 * maps a name to a predicate called with `value` (one that throws fails)
 * or to a boolean. Returns whether all passed.
 */
export function check(value, checks, tags = {}) {
  const tagList = Object.entries(tags).map(([k, v]) => [k, String(v)]);
  let passed = true;
  for (const [name, predicate] of Object.entries(checks)) {
    passed = hostCheck(name, outcome(predicate, value), tagList) && passed;
  }
  return passed;
}

function outcome(predicate, value) {
  if (typeof predicate !== "function") return Boolean(predicate);
  try {
    return Boolean(predicate(value));
  } catch {
    return false;
  }
}

/**
 * A response, or the absence of one: then `status` is 0 and `error`
 * holds `{ kind, message }` (`kind` as `"timeout"`, `"dns"`, ...).
 */
export class Response {
  constructor(status, headers, body, timings, error) {
    this.status = status;
    this.headers = headers;
    this.bodyBytes = body;
    this.timings = timings;
    this.error = error;
  }

  /** The body as text (UTF-8). */
  get body() {
    return decoder.decode(this.bodyBytes);
  }

  /** The body parsed as JSON; throws when it is not. */
  json() {
    return JSON.parse(this.body);
  }

  /** The first value of header `name` (any case), or undefined. */
  header(name) {
    const wanted = name.toLowerCase();
    const found = this.headers.find(([key]) => key.toLowerCase() === wanted);
    return found && found[1];
  }
}

/**
 * Sends one request and waits for its whole response.
 *
 * `params` takes k6's names where they apply: `headers`, `tags`,
 * `timeout` (milliseconds), `redirects` and `responseType: "none"` (read
 * the body without keeping it); plus `name` (the `name` tag that groups the
 * request in the summary), `query` (an object added to the URL),
 * `json` (a value sent as a JSON body) and `bearer` (a token).
 */
function request(method, url, body, params = {}) {
  const headers = Object.entries(params.headers || {}).map(([k, v]) => [k, String(v)]);
  if (params.json !== undefined) {
    body = JSON.stringify(params.json);
    headers.push(["content-type", "application/json"]);
  }
  if (params.bearer !== undefined) headers.push(["authorization", `Bearer ${params.bearer}`]);
  if (params.query) {
    const query = Object.entries(params.query)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .join("&");
    url += (url.includes("?") ? "&" : "?") + query;
  }
  if (typeof body === "string") body = encoder.encode(body);

  try {
    const res = send({
      method: methodOf(method),
      url,
      headers,
      body: body || new Uint8Array(0),
      tags: Object.entries(params.tags || {}).map(([k, v]) => [k, String(v)]),
      name: params.name,
      timeoutMs: params.timeout,
      maxRedirects: params.redirects,
      bodyMode: params.responseType === "none" ? "discard" : undefined,
    });
    return new Response(res.status, res.headers, res.body, res.timings, undefined);
  } catch (err) {
    const payload = err && err.payload !== undefined ? err.payload : err;
    const message = payload && payload.message !== undefined ? payload.message : String(err);
    return new Response(0, [], new Uint8Array(0), undefined, {
      kind: (payload && payload.kind) || "other",
      message,
    });
  }
}

const METHODS = ["get", "head", "post", "put", "patch", "delete", "options"];

function methodOf(method) {
  const lower = method.toLowerCase();
  return METHODS.includes(lower) ? { tag: lower } : { tag: "other", val: method };
}

/** k6's `http` module: `http.get(url, params)`, `http.post(url, body, params)`, ... */
export const http = {
  request: (method, url, body, params) => request(method, url, body, params),
  get: (url, params) => request("GET", url, undefined, params),
  head: (url, params) => request("HEAD", url, undefined, params),
  post: (url, body, params) => request("POST", url, body, params),
  put: (url, body, params) => request("PUT", url, body, params),
  patch: (url, body, params) => request("PATCH", url, body, params),
  del: (url, body, params) => request("DELETE", url, body, params),
};

/**
 * The component's exports for the scenario module `script`; the build's
 * entry file re-exports them. Exceptions become the iteration's error.
 */
/**
 * A custom metric, declared with the host on its first value, as k6's
 * `Counter`, `Gauge`, `Rate` and `Trend` (`new Trend(name, true)` for
 * milliseconds).
 */
class Metric {
  constructor(name, kind, isTime = false) {
    this.name = name;
    this.kind = kind;
    this.isTime = isTime;
    this.id = undefined;
  }

  add(value, tags = {}) {
    if (this.id === undefined) this.id = metrics.declare(this.name, this.kind, this.isTime);
    const pairs = Object.entries(tags).map(([k, v]) => [k, String(v)]);
    metrics.add(this.id, Number(value), pairs);
  }
}

export class Counter extends Metric {
  constructor(name) {
    super(name, "counter");
  }
}

export class Gauge extends Metric {
  constructor(name) {
    super(name, "gauge");
  }
}

export class Rate extends Metric {
  constructor(name) {
    super(name, "rate");
  }

  add(value, tags = {}) {
    super.add(value ? 1 : 0, tags);
  }
}

export class Trend extends Metric {
  constructor(name, isTime = false) {
    super(name, "trend", isTime);
  }
}

/** Runs `fn` inside group `name`, as k6's `group`; returns its result. */
export function group(name, fn) {
  groups.begin(name);
  try {
    return fn();
  } finally {
    groups.end();
  }
}

/** Ends the whole test after this iteration, with exit code 108. */
export function abort(reason) {
  hostAbort(String(reason));
}

export function wire(script) {
  const decode = (data) => (data.length ? JSON.parse(decoder.decode(data)) : undefined);
  return {
    options() {
      let options = script.options;
      if (typeof options === "function") options = options();
      if (options === undefined) return "";
      return typeof options === "string" ? options : JSON.stringify(options);
    },
    setup() {
      if (typeof script.setup !== "function") return new Uint8Array(0);
      return guard(() => encoder.encode(JSON.stringify(script.setup() ?? null)));
    },
    run(name, data) {
      const fn = name === "default" ? script.default : script[name];
      if (typeof fn !== "function") throw `the scenario has no function \`${name}\``;
      guard(() => fn(decode(data)));
    },
    teardown(data) {
      if (typeof script.teardown === "function") guard(() => script.teardown(decode(data)));
    },
  };
}

function guard(call) {
  try {
    return call();
  } catch (err) {
    throw err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
}
