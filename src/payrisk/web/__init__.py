"""Credit managers' review pages: server-rendered HTML over the portfolio bundle and the engine.

`bundle` reads the bundle written by `payrisk snapshot`, `charts` draws inline SVG, `pages` prepares
the data for the Jinja2 templates in `templates/` (one stylesheet, `static/style.css`; no
JavaScript), `app` serves them under /ui of the BentoML service.
"""
