"""The dashboard at ``/_mockcloud/``: one page, its stylesheet and its script, shipped in this folder.

No build step and no CDN: these files are what the browser gets, so it works
offline. The page is a client of the admin API like any other (the same
guard: Host, Origin, JSON content type, the admin token off loopback). It
renders every value with DOM text nodes, and its Content-Security-Policy lets
only its own script run, so what a request carried can never become code.
"""

from __future__ import annotations

from importlib import resources

PAGE = "index.html"
ASSETS = {"dashboard.css": "text/css; charset=utf-8", "dashboard.js": "text/javascript; charset=utf-8"}
_TYPES = {PAGE: "text/html; charset=utf-8", **ASSETS}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_ASSET_PREFIX = "/_mockcloud/dashboard/"
_cache: dict[str, bytes] = {}


def is_public(environ: dict[str, object]) -> bool:
    """Whether a request is for the page or one of its files: static, the same for all, no token needed."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return False
    path = str(environ.get("PATH_INFO", ""))
    return path in ("/_mockcloud", "/_mockcloud/") or (
        path.startswith(_ASSET_PREFIX) and path[len(_ASSET_PREFIX) :] in ASSETS
    )


def page(name: str) -> tuple[int, bytes, list[tuple[str, str]]]:
    """One of the dashboard's files with its headers: read from the package once, then from memory."""
    body = _cache.get(name)
    if body is None:
        body = _cache[name] = resources.files(__name__).joinpath(name).read_bytes()
    headers = [
        ("Content-Type", _TYPES[name]),
        ("Content-Length", str(len(body))),
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-cache"),
    ]
    return 200, body, headers
