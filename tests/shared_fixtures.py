"""Where Kibana's fixture files are: the repository's own copies under tests/fixtures/kibana
(SOURCES.md there says where each came from). Tests read nothing outside the repository."""

from pathlib import Path

KIBANA_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kibana"
