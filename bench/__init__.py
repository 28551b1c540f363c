"""Benchmarks: run by hand (``bench/ingest.py``), never by the test suite."""
