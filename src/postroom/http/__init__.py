"""HTTP front: one ASGI app that routes every request to a service's protocol."""
