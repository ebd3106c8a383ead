"""Stage 5, serving: the online scoring engine, the HTTP request and response schemas, API keys,
the request guard and how a BentoML server process is started. The BentoML service class itself is
the entry point `payrisk.service`."""
