"""Point discord.py at a Discord API base other than discord.com.

discord.py builds every REST call, interaction callbacks and webhooks included,
from one class attribute, ``discord.http.Route.BASE``. Rate-limit proxies such as
nirn-proxy and the project's local emulator both rely on changing it; keeping that
in one function means there is exactly one place that knows this detail of
discord.py's internals.
"""

from __future__ import annotations

import discord.http
import yarl
from discord.gateway import DiscordWebSocket

DISCORD_DEFAULT_API_BASE = "https://discord.com/api/v10"


def use_discord_api_base(base_url: str) -> None:
    """Send all of discord.py's HTTP traffic to ``base_url`` (e.g. ``http://127.0.0.1:8080/api/v10``).

    The gateway URL then comes from ``GET {base}/gateway/bot``, which
    ``AutoShardedClient`` asks before it connects.
    """
    discord.http.Route.BASE = base_url.rstrip("/")


def use_gateway(url: str) -> None:
    """Connect shards to ``url`` even when discord.py does not ask ``/gateway/bot`` itself.

    ``AutoShardedClient`` asks for the gateway only when it picks the shard count; with a
    fixed SHARD_COUNT it would go straight to ``DiscordWebSocket.DEFAULT_GATEWAY``
    (gateway.discord.gg), past a proxy or emulator configured in DISCORD_API_BASE_URL.
    """
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
