"""Which hosts may see the bot token, and how a URL is named in logs.

Slack serves ``url_private_download`` from ``files.slack.com`` and may redirect it to
``slack-files.com`` or a ``*.slack-edge.com`` CDN host. Slack registered
each of these domains, so a domain and every subdomain under it count; a narrower list (bare
``slack-files.com`` only, say) would add no safety, only a way to break when Slack moves a file.
Matching is on whole labels, so ``evil-slack.com`` and ``slack.com.evil.io`` are not Slack.

The host of ``SLACK_API_URL`` counts too, so a proxy or the loopback emulator works. Ports are
ignored for every rule: credentials are scoped to a host, not a port (cookies work the same
way), and the emulator serves its file CDN on a second port of the API host.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import httpx

#: Domains Slack owns; each one and its subdomains are Slack hosts.
SLACK_DOMAINS = ("slack.com", "slack-files.com", "slack-edge.com")


def is_slack_host(host: str, *, api_url: str) -> bool:
    """Whether ``host`` (a URL's host, with or without ``:port``) belongs to Slack or ``api_url``."""
    name = _hostname(host)
    if not name:
        return False
    if any(name == domain or name.endswith("." + domain) for domain in SLACK_DOMAINS):
        return True
    return name == _api_hostname(api_url)


def token_allowed(url: httpx.URL, *, api_url: str) -> bool:
    """Whether a request to ``url`` may carry the bot token.

    A Slack host over https; plain http only to the ``SLACK_API_URL`` host, and only when that is
    an http URL on this machine (the emulator). A URL with a user name or password never does:
    Slack's URLs have none, and ``https://files.slack.com@elsewhere/`` is a classic disguise.
    """
    if url.userinfo or not is_slack_host(url.host, api_url=api_url):
        return False
    if url.scheme == "https":
        return True
    api = urlsplit(api_url)
    api_host = _api_hostname(api_url)
    return url.scheme == "http" and api.scheme == "http" and _is_loopback(api_host) and _hostname(url.host) == api_host


def describe(url: httpx.URL) -> str:
    """Host and path of ``url`` for logs and error details: never the query, which may be a signature.

    The path stays percent-encoded as it came, so an encoded line break or direction mark can't
    reach a log line as the real character.
    """
    if not url.host:
        return "a URL without a host"
    path = url.raw_path.split(b"?", 1)[0].decode("ascii", "backslashreplace")
    return f"{url.raw_host.decode('ascii')}{path}"


def _api_hostname(api_url: str) -> str:
    return _hostname(urlsplit(api_url).hostname or "")


def _hostname(host: str) -> str:
    """The host name alone, lower-case, without port, brackets or the DNS root's trailing dot.

    Anything malformed (an empty label such as ``.slack.com``) becomes "", which matches nothing.
    """
    text = host.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        return text[1:end] if end > 0 else ""
    if text.count(":") == 1:  # host:port; a bare IPv6 address has two colons or more
        text = text.partition(":")[0]
    text = text.removesuffix(".")
    return text if text and all(text.split(".")) else ""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
