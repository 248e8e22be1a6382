"""Where Kibana's fixture files are: `shared/` beside the checkout (CI and development), found by
walking up from the tests, or the folder named by CONNECTORS_SHARED_DIR."""

import os
from pathlib import Path


def kibana_fixtures() -> Path:
    override = os.environ.get("CONNECTORS_SHARED_DIR")
    if override:
        return Path(override) / "fixtures" / "kibana"
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "fixtures" / "kibana"
        if candidate.is_dir():
            return candidate
    # Worktrees one level deeper (e.g. wt/<name>/) see shared/ two levels up.
    return Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "kibana"


KIBANA_FIXTURES = kibana_fixtures()
