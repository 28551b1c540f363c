"""Hostile input against a real server: malformed, oversized, duplicated, mis-encoded and
adversarial requests over raw sockets, each answer checked (see docs/security.md)."""
