"""Who a client is, as far as limits go: its address, seen through the
site's own reverse proxies (``WAGTAIL_LIVECHAT_TRUSTED_PROXIES``).

Behind a proxy every request comes from the proxy's address, so limits keyed
on ``REMOTE_ADDR`` would give all visitors one budget. Only a proxy listed
as trusted may say whom it forwards (``X-Forwarded-For``): read from the
right, the first address that is not a trusted proxy is the client, so a
client cannot pass itself off as someone else by sending the header.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from .conf import conf


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]):
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(remote: str | None, forwarded_for: str | None = None) -> str:
    """The client's address for limits: ``remote`` (the peer), or the address
    a trusted proxy forwarded for."""
    networks = _networks(tuple(conf.TRUSTED_PROXIES or ()))
    address = _address(remote or "")
    if address is None:
        return remote or ""

    def trusted(a):
        return any(a in network for network in networks)

    if not forwarded_for or not trusted(address):
        return str(address)
    for hop in reversed(forwarded_for.split(",")):
        hop_address = _address(hop)
        if hop_address is None:  # garbage from the client's side of the chain
            break
        address = hop_address
        if not trusted(address):
            break
    return str(address)
