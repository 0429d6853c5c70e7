"""A channel layer for one process: Channels' in-memory layer, lighter.

Channels' ``InMemoryChannelLayer`` walks every channel and every group
membership to sweep expired entries on *every* send and receive, and deep-
copies each message once per recipient. With hundreds of sockets viewing
conversations, that sweep was most of the cost of fanning out a message. Here
the sweep runs at most once a second (expiry is measured in seconds and
minutes anyway) and an event is shared by its recipients, which only read it:
events are built once, after commit, and never changed.

For several processes use channels-redis; this layer, like Channels' own,
reaches only the sockets of its process.
"""

import asyncio
import time

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

SWEEP_EVERY = 1.0


class LocalChannelLayer(InMemoryChannelLayer):
    _next_sweep = 0.0

    def _clean_expired(self):
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY
            super()._clean_expired()

    async def send(self, channel, message):
        assert isinstance(message, dict), "message is not a dict"  # noqa: S101 (Channels' own check)
        self.require_valid_channel_name(channel)
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        try:
            queue.put_nowait((time.time() + self.expiry, message))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"  # noqa: S101
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            try:
                await self.send(channel, message)
            except ChannelFull:  # as Channels does: a full socket misses it (and repairs)
                pass


# redis-py 8 changed two defaults that channels-redis 4.3 relies on: reads
# time out after 5 s (channels-redis waits for events with a blocking read of
# 5 s, so a socket idle that long dies with 1011), and a process holds at most
# 100 connections (past that, sockets joining their groups get
# MaxConnectionsError and die). These are redis-py 7's defaults.
REDIS_HOST_OPTIONS = {
    "socket_timeout": None,
    "socket_connect_timeout": None,
    "max_connections": 2**31,
}


def redis_channel_layer(*urls: str, **config) -> dict:
    """``CHANNEL_LAYERS["default"]`` for channels-redis on ``urls``, with the
    connection options it needs and a capacity for bursts (an event dropped
    for a full socket costs a repair read)::

        CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL)}
    """
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "capacity": 1000,
            **config,
            "hosts": [{**REDIS_HOST_OPTIONS, "address": url} for url in urls],
        },
    }
