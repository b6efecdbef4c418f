"""The trivial scenario ``scripts/bench-languages`` measures the host's
cost with: an iteration sleeps ``PAUSE`` seconds (default 0) and does
nothing else."""

import loadwit
from loadwit import env, sleep


def default(data):
    pause = float(env("PAUSE", "0"))
    if pause > 0:
        sleep(pause)


WitWorld = loadwit.export(__name__)
