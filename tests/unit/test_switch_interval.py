"""The GIL switch interval of a server worker follows its database (docs/performance.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from asap_sync.bootstrap import switch_interval
from asap_sync.config import Settings


@pytest.mark.parametrize(
    ("database_url", "seconds"),
    [
        ("", 0.001),  # the embedded SQLite
        ("sqlite:////srv/asap/asap-sync.sqlite3", 0.001),
        ("postgresql://postgres@127.0.0.1:5432/test", 0.002),
        ("postgresql+psycopg://postgres@db/asap", 0.002),
        ("postgres://postgres@db/asap", 0.002),
    ],
)
def test_a_worker_switches_the_gil_as_measured_for_its_database(
    database_url: str, seconds: float, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, data_dir=tmp_path)
    assert switch_interval(settings) == seconds


def test_a_switch_interval_set_in_the_settings_wins(tmp_path: Path) -> None:
    settings = Settings(database_url="", data_dir=tmp_path, switch_interval_ms=5.0)
    assert switch_interval(settings) == 0.005
