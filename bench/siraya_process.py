"""The image-API emulator in a process of its own: ``python -m bench.siraya_process KEY [LATENCY]``.

In the burst benchmark the emulated provider renders hundreds of real PNGs. Left in the
same process as the Discord emulator, that work would delay the Discord emulator's
answers and be counted against the bot's acknowledgements; in production the rendering
happens on the provider's GPUs, far from Discord. ``LATENCY`` (seconds, default 0) is how
long each generation takes. The base URL is printed on stdout.
"""

from __future__ import annotations

import asyncio
import sys

from tests.emulators.siraya import SirayaEmulator


async def serve(api_key: str, latency: float) -> None:
    emulator = SirayaEmulator(api_key=api_key, latency=latency)
    print(await emulator.start(), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.0))
