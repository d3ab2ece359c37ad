"""A route table that keeps each route's public name (``responses.create``…) beside its handler.

aiohttp names resources, not method+path pairs, so the names faults and the request log use
are kept here and looked up by the matched route object.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One method and path template, its public name and its handler."""

    method: str
    path: str
    name: str
    handler: Handler


class RouteTable:
    """Routes collected from each resource module, installed under one path prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix.rstrip("/")
        self._routes: list[Route] = []

    def add(self, method: str, path: str, name: str, handler: Handler) -> None:
        """Add a route; ``path`` is relative to the prefix."""
        self._routes.append(Route(method, self.prefix + path, name, handler))

    def install(self, app: web.Application) -> dict[AbstractRoute, str]:
        """Register every route on ``app`` and return the route -> name map."""
        names: dict[AbstractRoute, str] = {}
        for route in self._routes:
            names[app.router.add_route(route.method, route.path, route.handler)] = route.name
        return names
