"""Where a partner webhook may be sent: public addresses only, unless the deployment allows
private ones (`PARTNER_WEBHOOKS_ALLOW_PRIVATE_URLS`, for development and tests).

Checked twice: when an endpoint is registered (a literal IP or `localhost` in its URL), and
when the worker connects (every address its host resolves to, so a name that resolves, or
rebinds, to 127.0.0.1 or a cloud metadata address is refused too; the connection then goes to
the checked address, never to a second lookup)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses to connect to, in order (a test's stand-in for DNS)
Resolver = Callable[[str, int], list[str]]


class RefusedAddress(Exception):
    """The host is, or resolves to, an address webhooks may not reach. The message (kept in
    the delivery's log, which the organisation reads) names the host and the kind of address;
    the address itself is only for the service's own log."""

    def __init__(self, message: str, *, host: str, address: str) -> None:
        super().__init__(message)
        self.host = host
        self.address = address


def non_public_kind(address: IPAddress) -> str | None:
    """What makes ``address`` unfit for a webhook ("loopback", "private", ...); None when it is
    a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),  # 169.254.169.254: cloud metadata
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),  # before private, which also holds 240.0.0.0/4
        ("private", address.is_private),
        ("non-global", not address.is_global),  # e.g. 100.64.0.0/10, shared address space
    )
    return next((kind for kind, holds in checks if holds), None)


def literal_address(host: str) -> IPAddress | None:
    """The IP address ``host`` spells, if it is one: dotted, IPv6, or the short and numeric
    IPv4 forms that resolvers accept too (``127.1``, ``2130706433``, ``0x7f.0.0.1``)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefx." for c in host.lower()):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def host_problem(host: str) -> str | None:
    """Why a URL's ``host`` may not be registered, in words for the `url` field; None if it may
    (a name is checked again, resolved, at each delivery)."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return "must not point at localhost: webhooks are sent to public addresses only"
    address = literal_address(name)
    kind = non_public_kind(address) if address is not None else None
    if kind is not None:
        return (
            f"must not point at a {kind} address ({host}): webhooks are sent to public "
            "addresses only"
        )
    return None


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system's resolver), in its order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def permitted_addresses(
    host: str, port: int, *, resolve: Resolver, allow_private: bool
) -> list[str]:
    """The addresses to connect to for ``host``; RefusedAddress when any of them is not public
    (one private answer among public ones is enough: the connection could be steered to it)."""
    addresses = resolve(host, port)
    if not addresses:
        raise OSError(f"{host} resolves to no address")
    if allow_private:
        return addresses
    for text in addresses:
        kind = non_public_kind(ipaddress.ip_address(text.split("%", 1)[0]))
        if kind is not None:
            raise RefusedAddress(
                f"refused: {host} resolves to a {kind} address; webhooks are sent to public "
                "addresses only",
                host=host,
                address=text,
            )
    return addresses
