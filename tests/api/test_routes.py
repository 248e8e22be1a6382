"""The URL conf's order is free to favour the busiest routes only because no route matches another
route's paths: every route is reached by a path made from it, whatever comes before it."""

import re

from django.urls import URLPattern, URLResolver, get_resolver, resolve


def api_routes() -> list[str]:
    """Every route outside the admin, root and space-prefixed (`s/<str:space_id>/...`)."""
    found: list[str] = []

    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith("admin/"):
                continue
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                found.append(route)

    walk(get_resolver().url_patterns)
    return found


def sample_path(route: str) -> str:
    assert "^" not in route and "(?P" not in route, f"not a path() route: {route}"
    return "/" + re.sub(r"<str:(\w+)>", r"\1-sample", route)


def test_every_route_is_reached_by_a_path_made_from_it():
    routes = api_routes()
    assert "api/actions/connector/<str:connector_id>/_enqueue" in routes
    assert "s/<str:space_id>/api/actions/_bulk_enqueue" in routes

    reached_elsewhere = {
        route: resolve(sample_path(route)).route
        for route in routes
        if resolve(sample_path(route)).route != route
    }

    assert reached_elsewhere == {}


def test_the_enqueue_routes_are_tried_first():
    root_api = [route for route in api_routes() if not route.startswith("s/")]

    assert root_api[:2] == ["api/actions/connector/<str:connector_id>/_enqueue", "api/actions/_bulk_enqueue"]
