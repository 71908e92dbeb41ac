"""docs/cronctl.md's `list -o json` example has exactly the keys cronctl prints."""

from __future__ import annotations

import dataclasses
import json
import re

from cronjobs.cronctl.model import CronJobInfo
from tests.cronctl.conftest import ROOT


def test_the_documented_list_json_shape_is_the_real_one() -> None:
    text = (ROOT / "docs" / "cronctl.md").read_text()
    block = re.search(r"`list -o json`.*?```json\n(.*?)```", text, re.S)
    assert block, "docs/cronctl.md has no `list -o json` example"
    documented = json.loads(block.group(1))[0]
    fields = [f.name for f in dataclasses.fields(CronJobInfo) if f.name != "runs"]
    assert list(documented) == fields
