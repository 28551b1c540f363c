"""The HTTP shell: an ASGI application around the externalInfoSync endpoint."""
