// The `loadwit:scenario` imports as componentize-js (SpiderMonkey) binds
// them: one ES module per interface, its functions as named exports.
// `loadwit.js` imports this file as `loadwit-host`, whichever engine.

import * as http from "loadwit:scenario/http@0.2.0";
import * as checks from "loadwit:scenario/checks@0.2.0";
import * as runtime from "loadwit:scenario/runtime@0.2.0";
import * as metrics from "loadwit:scenario/metrics@0.2.0";
import * as groups from "loadwit:scenario/groups@0.2.0";
import * as control from "loadwit:scenario/control@0.2.0";

export { checks, control, groups, http, metrics, runtime };

/** componentize-js reseeds `Math.random` per instance itself. */
export function reseed() {}
