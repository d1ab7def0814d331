"""What occmer writes does not change when code moves (issue 24): the tiny demo's synthesized
files, features, bench tables and fold predictions hash as they did before the refactor.

When a change is meant to alter these outputs, regenerate the reference and say why in the
commit: `python tests/golden/fingerprint.py /tmp/fp > tests/golden/fingerprint.json`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "golden"))

import fingerprint  # noqa: E402


def test_outputs_equal_the_reference(tmp_path: Path) -> None:
    expected = json.loads((Path(__file__).parent / "golden" / "fingerprint.json").read_text())
    got = json.loads(json.dumps(fingerprint.run(tmp_path)))
    for part in sorted(set(expected) | set(got)):
        want, have = expected.get(part), got.get(part)
        if isinstance(want, dict) and isinstance(have, dict):
            changed = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
            assert not changed, f"{part}: {len(changed)} entries differ, e.g. {changed[:8]}"
        else:
            assert want == have, f"{part} differs"
