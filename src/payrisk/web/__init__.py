"""Credit managers' review pages: server-rendered HTML over the portfolio bundle and the engine.

`bundle` reads the bundle written by `payrisk snapshot`, `charts` draws inline SVG, `pages` renders
HTML (no JavaScript framework), `app` serves it under /ui of the BentoML service.
"""
