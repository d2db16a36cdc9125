"""Necto's own HTTP routes on Chainlit's server (hand-off links, wallet sign-in), placed ahead of Chainlit's
catch-all page route, which would otherwise answer every GET with the chat page."""

from __future__ import annotations

from typing import Any

CATCH_ALL = "/{full_path:path}"


def holds_catch_all(route: Any) -> bool:
    """True for Chainlit's catch-all page route, or for the included router that holds it (FastAPI >= 0.165
    keeps an included router as one ``_IncludedRouter`` entry instead of copying its routes)."""
    if getattr(route, "path", None) == CATCH_ALL:
        return True
    inner = getattr(route, "original_router", None) or getattr(route, "router", None)
    return any(getattr(r, "path", None) == CATCH_ALL for r in getattr(inner, "routes", ()) or ())


def install_routes(new_routes: list[Any], app: Any = None) -> None:
    """Put ``new_routes`` into Chainlit's server ahead of its catch-all page route. Idempotent (by name)."""
    if app is None:
        from chainlit.server import app
    existing = app.router.routes
    for route in new_routes:
        if any(getattr(r, "name", None) == route.name for r in existing):
            continue
        catch_all = next((i for i, r in enumerate(existing) if holds_catch_all(r)), len(existing))
        existing.insert(catch_all, route)
