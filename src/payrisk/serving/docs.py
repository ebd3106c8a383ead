"""The API documentation page at /docs: Swagger UI on the service's own OpenAPI spec, offline.

BentoML's index page (served at /) loads Google Tag Manager, and Swagger UI's default setup sends
the spec to validator.swagger.io for a badge. This page replaces it: the Swagger UI files BentoML
ships (its `static_content` folder), served from /docs/assets/, started by a script of ours with no
validator, and a Content-Security-Policy that allows nothing but this server. It needs the API key
like everything else (the session cookie from /ui/login works). `/` redirects here; the spec stays
at /docs.json.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from payrisk.serving.asgi import ASGIApp, Receive, Scope, Send
from payrisk.serving.openapi import SPEC_PATH

DOCS_PATH = "/docs"
ASSETS = f"{DOCS_PATH}/assets/"
# The Swagger UI files the page loads, by the name it loads them under: nothing else is served.
ASSET_TYPES = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
}
INIT_SCRIPT = "init.js"
# Swagger UI sets element styles from script (allowed) and draws icons as data: images.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
DOCS_HEADERS = [
    (b"content-security-policy", DOCS_CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]

PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>payrisk API</title>
<link rel="stylesheet" href="{ASSETS}swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS}swagger-ui-bundle.js"></script>
<script src="{DOCS_PATH}/{INIT_SCRIPT}"></script>
</body>
</html>
"""

# The spec is fetched here rather than by Swagger UI so that images on other hosts (BentoML puts
# a shields.io badge in the description) are dropped before rendering: the page asks no one else
# for anything, and the CSP has nothing to block.
SCRIPT = f"""function withoutRemoteImages(value) {{
  if (typeof value === "string") {{
    return value.replace(/!\\[[^\\]]*\\]\\(\\s*(https?:)?\\/\\/[^)]*\\)/g, "")
      .replace(/<img\\b[^>]*>/gi, "");
  }}
  if (Array.isArray(value)) {{ return value.map(withoutRemoteImages); }}
  if (value && typeof value === "object") {{
    const copy = {{}};
    for (const key of Object.keys(value)) {{ copy[key] = withoutRemoteImages(value[key]); }}
    return copy;
  }}
  return value;
}}

window.addEventListener("load", function () {{
  fetch("{SPEC_PATH}", {{ credentials: "same-origin" }})
    .then(function (response) {{ return response.json(); }})
    .then(function (spec) {{
      window.ui = SwaggerUIBundle({{
        spec: withoutRemoteImages(spec),
        dom_id: "#swagger-ui",
        deepLinking: true,
        presets: [SwaggerUIBundle.presets.apis],
        layout: "BaseLayout",
        validatorUrl: null
      }});
    }});
}});
"""


@cache
def asset(name: str) -> bytes:
    """A Swagger UI file from BentoML's package (read once)."""
    from bentoml._internal import server

    return (Path(server.__file__).parent / "static_content" / name).read_bytes()


class DocsPageMiddleware:
    """Answers /, /docs and the page's files; everything else goes on to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        if path in ("/", f"{DOCS_PATH}/"):
            await _send(send, 307, b"", [(b"location", DOCS_PATH.encode())])
        elif path == DOCS_PATH:
            await _send(send, 200, PAGE.encode(), _typed("text/html; charset=utf-8", no_store=True))
        elif path == f"{DOCS_PATH}/{INIT_SCRIPT}":
            await _send(send, 200, SCRIPT.encode(), _typed("text/javascript; charset=utf-8"))
        elif path.startswith(ASSETS) and path[len(ASSETS) :] in ASSET_TYPES:
            name = path[len(ASSETS) :]
            await _send(send, 200, asset(name), _typed(ASSET_TYPES[name]))
        else:
            await self.app(scope, receive, send)


def _typed(content_type: str, no_store: bool = False) -> list[tuple[bytes, bytes]]:
    cache = b"no-store" if no_store else b"private, max-age=3600"
    return [(b"content-type", content_type.encode()), (b"cache-control", cache), *DOCS_HEADERS]


async def _send(send: Send, status: int, body: bytes, headers: list) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})
