"""The ``asap-sync`` command line: operator and merchant commands."""
