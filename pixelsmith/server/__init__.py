"""``pixelsmith serve``: the HTTP API and the web page (FastAPI and uvicorn, the ``[server]`` extra)."""
