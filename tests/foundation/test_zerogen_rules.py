"""ZeroGen's post-processing rules, one by one."""

from __future__ import annotations

from appliance.generate.postprocess import cut_output, dedupe, keep_text
from appliance.generate.records import GeneratedRecord


def test_cut_at_first_closing_quote() -> None:
    assert cut_output('A fine film." said Bo.\nMore') == "A fine film."


def test_else_cut_at_first_newline() -> None:
    assert cut_output("A fine film. Truly\nsecond line.") == "A fine film. Truly"


def test_else_cut_after_last_full_stop() -> None:
    assert cut_output("A fine film. Truly great. And then") == "A fine film. Truly great."


def test_drop_output_without_quote_newline_or_stop() -> None:
    assert cut_output("an unfinished thought and") is None
    assert cut_output('   "') is None


def test_drop_fewer_than_min_words() -> None:
    assert not keep_text("Too short.", "ctx", min_words=3)
    assert keep_text("Long enough text here.", "ctx", min_words=3)


def test_drop_text_equal_to_context() -> None:
    assert not keep_text("The Last Harbor", "the last harbor", min_words=1)


def test_drop_over_max_words() -> None:
    assert not keep_text("one two three four", "c", min_words=1, max_words=3)


def test_exact_duplicates_removed() -> None:
    a = GeneratedRecord(text="t", label="x", context="c")
    b = GeneratedRecord(text="t", label="y", context="c")
    seen: set = set()
    assert len(dedupe([a, a, b], seen)) == 2
    assert dedupe([a], seen) == []
