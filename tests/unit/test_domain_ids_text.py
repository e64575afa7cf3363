"""The one rule for ids and the one cleaner for upstream text (workers.domain.ids / .text)."""

import pytest

from workers.domain.ids import MAX_ID, is_id, parse_id, parse_ids
from workers.domain.text import clean


@pytest.mark.parametrize(
    "text", ["", " ", "0", "-1", "+1", "1.0", "1e3", "²", "١٢", "0x10", "9223372036854775808", "1" * 40]
)
def test_bad_id_text_is_refused_with_the_rule(text):
    with pytest.raises(ValueError, match="whole number from 1 to"):
        parse_id(text)


def test_good_id_text():
    assert parse_id(" 42 ") == 42
    assert parse_id(str(MAX_ID)) == MAX_ID
    assert parse_ids("3, 1 3,2") == [3, 1, 2]


@pytest.mark.parametrize("value", [True, False, 0, -1, 2**63, 1.0, "1", None])
def test_json_ids_must_be_positive_integers_below_2_63(value):
    assert not is_id(value)


def test_json_id_accepted():
    assert is_id(1) and is_id(MAX_ID)


def test_clean_strips_every_escape_and_control_but_tab_and_newline():
    hostile = "a\x1b[2Jb\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\c\x1b]0;title\x07d\x9b31me\tf\ng\x00\x85h"
    out = clean(hostile)
    assert out == "ablinkcde\tf\ngh"
    assert not any(ord(ch) < 32 and ch not in "\t\n" or 0x7F <= ord(ch) <= 0x9F for ch in out)
