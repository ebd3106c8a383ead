"""One log record, one line; no customer id in the access log (issue 26, Medium 6). The real
server replays the attack in tests/service/test_third_attack.py."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest

from payrisk.serving.logs import SafeLogFilter


@pytest.fixture
def written():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(SafeLogFilter())
    logger = logging.getLogger("bentoml.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


def test_control_characters_are_escaped_and_page_ids_dropped(written):
    access = logging.getLogger("bentoml.access")
    line = "scheme=http,method=GET,path={},type=,length=0"
    forged = "/x\n2026-12-07T17:40:00+0000 [WARNING] FORGED\r\u2028"
    access.info("%s (%s) (%s) %.3fms", "127.0.0.1:5", line.format(forged), "status=401", 1.0)
    access.info("%s (%s) %d", "127.0.0.1:5", line.format("/ui/customers/C000321"), np.int64(7))
    text = written.getvalue()
    assert text.count("\n") == 2, text  # two records, two lines
    assert "\\x0a2026-12-07T17:40:00+0000 [WARNING] FORGED\\x0d\\u2028" in text
    assert "C000321" not in text and "path=/ui/customers/<id>,type=" in text
    assert text.rstrip().endswith(" 7")
