"""The operator console: a server-rendered web app (Starlette, Jinja2, htmx) on the admin listener.

It calls the same service use cases as the CLI; every page needs a logged-in operator, every
form a CSRF token, and every change is written to the activity log.
"""
