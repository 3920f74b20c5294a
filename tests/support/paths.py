"""Where the suite finds the repository and writes what a person looks at after a run (screenshots, logs)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
