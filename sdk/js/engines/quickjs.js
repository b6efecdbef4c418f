// The `loadwit:scenario` imports as componentize-qjs (QuickJS) binds
// them: one ES module per interface, its functions on the default export.
// `loadwit.js` imports this file as `loadwit-host`, whichever engine.

import http from "loadwit:scenario/http@0.2.0";
import checks from "loadwit:scenario/checks@0.2.0";
import runtime from "loadwit:scenario/runtime@0.2.0";
import metrics from "loadwit:scenario/metrics@0.2.0";
import groups from "loadwit:scenario/groups@0.2.0";
import control from "loadwit:scenario/control@0.2.0";

export { checks, control, groups, http, metrics, runtime };

/**
 * Gives this VU its own `Math.random`.
 *
 * componentize-qjs snapshots the engine after the module's top level ran,
 * generator state included, so every VU would draw the same numbers.
 * This swaps in xorshift128+ seeded from the VU's id and the clock; it
 * runs once, on the first call into the component after the build.
 */
export function reseed() {
  let s0 = mix(BigInt(runtime.vuId()) ^ (BigInt(Date.now()) << 20n));
  let s1 = mix(s0 ^ 0x9e3779b97f4a7c15n);
  Math.random = () => {
    let x = s0;
    const y = s1;
    s0 = y;
    x ^= (x << 23n) & MASK;
    s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return Number(((s1 + y) & MASK) >> 11n) / 2 ** 53;
  };
}

const MASK = (1n << 64n) - 1n;

/** splitmix64's finaliser, so nearby seeds give unrelated states. */
function mix(z) {
  z = (z + 0x9e3779b97f4a7c15n) & MASK;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return (z ^ (z >> 31n)) || 1n;
}
