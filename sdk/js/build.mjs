// Builds a JavaScript scenario into a loadwit component:
//
//     node build.mjs SCRIPT.js OUT.wasm [WIT_DIR]
//
// Bundles the script with this SDK (rolldown), then componentizes the
// bundle for the `loadwit:scenario` world with componentize-js
// (SpiderMonkey). The engine's own `wasi:http` and `fetch` support is
// left out: scenarios reach the network only through the host's API.

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { componentize } from "@bytecodealliance/componentize-js";
import { rolldown } from "rolldown";

const here = dirname(fileURLToPath(import.meta.url));
const [script, out, wit = join(here, "../../wit")] = process.argv.slice(2);
if (!script || !out) {
  console.error("usage: node build.mjs SCRIPT.js OUT.wasm [WIT_DIR]");
  process.exit(2);
}

const work = await mkdtemp(join(tmpdir(), "loadwit-js-"));
try {
  const entry = join(work, "entry.js");
  await writeFile(
    entry,
    `import * as script from ${JSON.stringify(resolve(script))};\n` +
      `import { wire } from "loadwit";\n` +
      `export const { options, setup, run, teardown } = wire(script);\n`,
  );

  const bundle = await rolldown({
    input: entry,
    platform: "neutral",
    external: [/^loadwit:scenario\//],
    resolve: { alias: { loadwit: join(here, "loadwit.js") } },
    logLevel: "warn",
  });
  const bundled = join(work, "bundle.js");
  await bundle.write({ file: bundled, format: "esm" });
  await bundle.close();

  const { component } = await componentize({
    sourcePath: bundled,
    witPath: resolve(wit),
    worldName: "scenario",
    disableFeatures: ["http", "fetch-event"],
  });
  await writeFile(out, component);
} finally {
  await rm(work, { recursive: true, force: true });
}
