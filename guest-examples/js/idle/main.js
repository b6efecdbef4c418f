// The trivial scenario `scripts/bench-languages` measures the host's
// cost with: an iteration sleeps `PAUSE` seconds (default 0) and does
// nothing else.

import { env, sleep } from "loadwit";

export default function () {
  const pause = Number(env("PAUSE", "0"));
  if (pause > 0) sleep(pause);
}
