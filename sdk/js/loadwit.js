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
// the `loadwit:scenario` world, with SpiderMonkey (componentize-js) or
// QuickJS (componentize-qjs). This file is a thin layer over the world's
// imports and runs unchanged on both: it needs no `TextEncoder` (QuickJS
// has none), since bodies and setup data cross as strings, and it reads
// an absent optional value as `== null` (SpiderMonkey gives `undefined`,
// QuickJS `null`). `loadwit-host` is the engine's view of the imports
// (`engines/*.js`).

import {
  checks as hostChecks,
  control,
  groups,
  http as host,
  metrics,
  reseed,
  runtime,
} from "loadwit-host";

/** Pauses this VU for `seconds`; the host runs others meanwhile. */
export function sleep(seconds) {
  runtime.sleep(Number(seconds));
}

/** The variable `key` from `-e KEY=VALUE` or the options' `env`, else `fallback`. */
export function env(key, fallback) {
  const value = runtime.env(key);
  return value == null ? fallback : value;
}

let allEnv;

/** Every variable from `-e KEY=VALUE` and the options' `env`, asked once. */
function envObject() {
  if (allEnv === undefined) allEnv = Object.fromEntries(runtime.envAll());
  return allEnv;
}

/**
 * k6's `__ENV`: an object of the variables from `-e KEY=VALUE` and the
 * options' `env`, fetched from the host on first use (the module's top
 * level runs at build time, before any host exists).
 */
export const __ENV = new Proxy(
  {},
  {
    get: (_, key) => envObject()[key],
    has: (_, key) => key in envObject(),
    ownKeys: () => Reflect.ownKeys(envObject()),
    getOwnPropertyDescriptor: (_, key) => Reflect.getOwnPropertyDescriptor(envObject(), key),
  },
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
      return runtime.iteration();
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
    passed = hostChecks.check(name, outcome(predicate, value), tagList) && passed;
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
 *
 * `body` is as k6 gives it: a string, a `Uint8Array` with
 * `responseType: "binary"`, `null` with `"none"` or no response.
 */
export class Response {
  constructor(status, headers, body, timings, error) {
    this.status = status;
    this.headers = headers;
    this.body = body;
    this.timings = timings;
    this.error = error;
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
 * `timeout` (milliseconds), `redirects` and `responseType` (`"text"`, the
 * default; `"binary"` for bytes as sent; `"none"` to read the body
 * without keeping it); plus `name` (the `name` tag that groups the
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

  try {
    const res = host.send({
      method,
      url,
      headers,
      body: bodyOf(body),
      tags: Object.entries(params.tags || {}).map(([k, v]) => [k, String(v)]),
      name: params.name,
      timeoutMs: params.timeout,
      maxRedirects: params.redirects,
      bodyMode: BODY_MODES[params.responseType],
    });
    const received = res.body == null ? null : bodyValue(res.body);
    return new Response(res.status, res.headers, received, res.timings, undefined);
  } catch (err) {
    // SpiderMonkey wraps the `http-error` in an error's `payload`;
    // QuickJS throws the record itself.
    const payload = err && err.payload !== undefined ? err.payload : err;
    const message = payload && payload.message !== undefined ? payload.message : String(err);
    return new Response(0, [], null, undefined, {
      kind: (payload && payload.kind) || "other",
      message,
    });
  }
}

/**
 * A response body's value: a string, or bytes as a `Uint8Array` of this
 * script's own realm (SpiderMonkey hands over one from another, which
 * fails `instanceof Uint8Array`); the view is new, the bytes are not
 * copied.
 */
function bodyValue(body) {
  if (body.tag === "text") return body.val;
  const bytes = body.val;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** k6's `responseType` names for the WIT's body modes. */
const BODY_MODES = { text: "text", binary: "binary", none: "discard" };

/** A request body: a string goes as text, bytes as bytes. */
function bodyOf(body) {
  if (body == null || body === "") return undefined;
  if (typeof body === "string") return { tag: "text", val: body };
  if (body instanceof ArrayBuffer) return { tag: "binary", val: new Uint8Array(body) };
  if (ArrayBuffer.isView(body)) {
    return { tag: "binary", val: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) };
  }
  return { tag: "text", val: String(body) };
}

/** k6's `http` module: `http.get(url, params)`, `http.post(url, body, params)`, ... */
export const http = {
  request: (method, url, body, params) => request(String(method), url, body, params),
  get: (url, params) => request("GET", url, undefined, params),
  head: (url, params) => request("HEAD", url, undefined, params),
  post: (url, body, params) => request("POST", url, body, params),
  put: (url, body, params) => request("PUT", url, body, params),
  patch: (url, body, params) => request("PATCH", url, body, params),
  del: (url, body, params) => request("DELETE", url, body, params),
};

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
  control.abort(String(reason));
}

const NOT_READ = Symbol("not read");
let setupValue = NOT_READ;

/**
 * What `setup` returned, decoded once per VU and kept: it cannot change
 * during a run. `undefined` when there is no `setup`.
 */
export function setupData() {
  if (setupValue === NOT_READ) {
    const text = runtime.setupData();
    setupValue = text ? JSON.parse(text) : undefined;
  }
  return setupValue;
}

/**
 * The component's exports for the scenario module `script`; the build's
 * entry file re-exports them. Exceptions become the iteration's error.
 */
export function wire(script) {
  return {
    options() {
      wake();
      let options = script.options;
      if (typeof options === "function") options = options();
      if (options === undefined) return "";
      return typeof options === "string" ? options : JSON.stringify(options);
    },
    setup() {
      wake();
      if (typeof script.setup !== "function") return "";
      return guard(() => JSON.stringify(script.setup() ?? null));
    },
    run(name) {
      wake();
      const fn = name === "default" ? script.default : script[name];
      if (typeof fn !== "function") throw `the scenario has no function \`${name}\``;
      guard(() => fn(setupData()));
    },
    teardown() {
      wake();
      if (typeof script.teardown === "function") guard(() => script.teardown(setupData()));
    },
  };
}

let awake = false;

/**
 * Readies this instance on its first call: the module's top level ran at
 * build time, in a snapshot every VU starts from, so what must differ
 * per VU (the engine's random state) is set here.
 */
function wake() {
  if (awake) return;
  awake = true;
  reseed();
}

function guard(call) {
  try {
    return call();
  } catch (err) {
    throw err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
}
