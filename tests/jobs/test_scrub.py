"""The secret scrubber (jobs/cronjobs/redact.py) masks what it always did, now in one linear pass.

Its speed is bench/scrub.py's (time by length, as ratios); here, that the one-pass URL step
masks exactly what the regular expression it replaced masked, on every text hypothesis finds
from the characters that matter (scheme letters, ':', '/', '@', whitespace, host characters).
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from cronjobs.redact import scrub

# The pre-linear scrubber's URL step (quadratic on long texts; fine on short ones).
_REFERENCE = re.compile(
    r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*):(?P<pw>\S+?)@(?=[^@\s]*$|[\w.\[\]-]+[:/?\s]|[\w.-]+$)",
    re.I,
)
_PARAM = re.compile(r"(?P<key>(?:ssl)?password=)[^&\s]+", re.I)


def reference(text: str) -> str:
    return _REFERENCE.sub(r"\g<head>:***@", _PARAM.sub(r"\g<key>***", text))


pieces = st.sampled_from(
    ["a", "B", "1", "+", ".", "-", "_", ":", "/", "@", " ", "\n", "?", "#", "[", "]", "&", "é",
     "://", "a://u:", "pw@", "@host", "@h:5432/", "password=", "x"]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(pieces, max_size=24).map("".join))
def test_urls_are_masked_as_the_regular_expression_did(text: str) -> None:
    assert scrub(text) == reference(text)


def test_hostile_shapes_are_masked_where_a_password_is() -> None:
    n = 3_000
    assert scrub("x" * n) == "x" * n
    no_host = "a://u:" * n + " @host"
    assert scrub(no_host) == no_host
    one_host = "a://u:" * n + "@host"
    assert scrub(one_host) == "a://u:***@host"
    assert scrub("see postgresql://app:p@ss@db:5432/app " * n) == (
        "see postgresql://app:***@db:5432/app " * n
    )
