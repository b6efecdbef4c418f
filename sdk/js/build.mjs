// Builds a JavaScript scenario into a loadwit component:
//
//     node build.mjs SCRIPT.js OUT.wasm [WIT_DIR] [--engine spidermonkey|quickjs]
//
// Bundles the script with this SDK (rolldown), then componentizes the
// bundle for the `loadwit:scenario` world with one of two engines:
//
// - spidermonkey (componentize-js): the most complete JavaScript, ~2 MiB
//   of memory per VU, a 12 MB component.
// - quickjs (componentize-qjs): ~380 KiB per VU, a 1.7 MB component and
//   cheaper iterations, fewer built-ins; for many VUs per machine.
//
// Either way the engine reaches the network only through the host's API:
// SpiderMonkey's own `wasi:http` and `fetch` are left out, and QuickJS
// imports no `wasi:http`. QuickJS keeps its other WASI imports (clocks,
// random, environment), which the host links with a context that grants
// nothing else: with componentize-qjs's `stubWasi` they would trap, and
// `Date.now()` with them.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { rolldown } from "rolldown";

const here = dirname(fileURLToPath(import.meta.url));
const ENGINES = { spidermonkey: spidermonkey, quickjs: quickjs };

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { engine: { type: "string", default: "spidermonkey" } },
});
const [script, out, wit = join(here, "../../wit")] = positionals;
if (!script || !out) {
  console.error("usage: node build.mjs SCRIPT.js OUT.wasm [WIT_DIR] [--engine spidermonkey|quickjs]");
  process.exit(2);
}
const componentize = ENGINES[values.engine];
if (!componentize) {
  console.error(`unknown engine \`${values.engine}\`; use spidermonkey or quickjs`);
  process.exit(2);
}

const work = await mkdtemp(join(tmpdir(), "loadwit-js-"));
try {
  const bundled = await bundle(resolve(script), values.engine, work);
  await writeFile(out, await componentize(bundled, resolve(wit)));
} finally {
  await rm(work, { recursive: true, force: true });
}

/** The script, this SDK and the engine's import shim as one ES module. */
async function bundle(script, engine, work) {
  const entry = join(work, "entry.js");
  await writeFile(
    entry,
    `import * as script from ${JSON.stringify(script)};\n` +
      `import { wire } from "loadwit";\n` +
      `export const { options, setup, run, teardown } = wire(script);\n`,
  );
  const bundle = await rolldown({
    input: entry,
    platform: "neutral",
    external: [/^loadwit:scenario\//],
    resolve: {
      alias: {
        loadwit: join(here, "loadwit.js"),
        "loadwit-host": join(here, "engines", `${engine}.js`),
      },
    },
    logLevel: "warn",
  });
  const bundled = join(work, "bundle.js");
  await bundle.write({ file: bundled, format: "esm" });
  await bundle.close();
  return bundled;
}

async function spidermonkey(bundled, wit) {
  const { componentize } = await import("@bytecodealliance/componentize-js");
  const { component } = await componentize({
    sourcePath: bundled,
    witPath: wit,
    worldName: "scenario",
    disableFeatures: ["http", "fetch-event"],
  });
  return component;
}

async function quickjs(bundled, wit) {
  const { readFile } = await import("node:fs/promises");
  const { componentize } = await import("componentize-qjs");
  const { component } = await componentize({
    jsSource: await readFile(bundled, "utf8"),
    jsPath: bundled,
    witPath: wit,
    world: "scenario",
    // The host runs synchronous-ABI guests only; without this the
    // runtime exports the component-model async ABI.
    sync: true,
    stubWasi: false,
  });
  return component;
}
