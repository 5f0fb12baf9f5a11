"""The hand-annotated seed articles (../shared/gold/seeds.jsonl beside the repository)."""

import json
import os
from pathlib import Path

GOLD = Path(os.environ.get("SOURCEMARK_GOLD")
            or Path(__file__).resolve().parents[2] / "shared" / "gold" / "seeds.jsonl")


def gold_documents() -> list[dict]:
    if not GOLD.exists():
        raise FileNotFoundError(f"The gold file is missing: {GOLD} (set SOURCEMARK_GOLD)")
    return [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
