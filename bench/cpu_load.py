"""A steady competing CPU load: ``python -m bench.cpu_load DUTY``, spinning DUTY of every 10 ms.

The side-by-side benchmark starts these before the first bot of a scenario and stops them
after the last, so both bots meet the same busy shared host instead of whatever the other
programs on the machine happened to do during each one's turn. It exits by itself when its
parent goes away (stdin closes), so an interrupted benchmark leaves nothing spinning.
"""

from __future__ import annotations

import sys
import threading
import time

PERIOD = 0.010


def spin(duty: float) -> None:
    while True:
        start = time.perf_counter()
        while time.perf_counter() - start < PERIOD * duty:
            pass
        rest = PERIOD * (1 - duty)
        if rest > 0:
            time.sleep(rest)


def main() -> None:
    duty = min(1.0, max(0.0, float(sys.argv[1])))
    threading.Thread(target=spin, args=(duty,), daemon=True).start()
    sys.stdin.read()  # returns when the benchmark closes the pipe or dies


if __name__ == "__main__":
    main()
