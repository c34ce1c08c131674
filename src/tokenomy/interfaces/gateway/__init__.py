"""The gateway: an OpenAI-compatible ASGI server that prices and routes every live request (Eq. 1, Eq. 4).

``config`` reads the TOML file, ``policy`` holds the routing contract, ``admission`` the congestion-priced
queue per upstream, ``budget`` the per-key USD caps, ``upstream`` the HTTP client, ``records`` the buffered
ledger writer and ``app`` the ASGI application that composes them. Nothing is imported here, so
``import tokenomy.interfaces.gateway.policy`` needs none of the server's optional packages.
"""
