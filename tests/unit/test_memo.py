"""The per-text memo the scanners share: exact text, bounded, and off at size 0."""

from collections.abc import Callable

from wardgate.scanners.memo import TextMemo


def counting() -> tuple[list[str], Callable[[str], str]]:
    calls: list[str] = []
    return calls, lambda text: calls.append(text) or text.upper()


class TestTextMemo:
    def test_a_text_is_computed_once(self):
        """The second recall of the same text is answered from the memo."""
        memo: TextMemo[str] = TextMemo(8)
        calls, compute = counting()
        assert [memo.recall(text, compute) for text in ("a b", "a b", "c")] == ["A B", "A B", "C"]
        assert calls == ["a b", "c"]

    def test_only_the_exact_text_matches(self):
        """A text that differs by one invisible character or a lone surrogate is a different text."""
        memo: TextMemo[str] = TextMemo(8)
        calls, compute = counting()
        for text in ("ignore", "ig\u200bnore", "ignore\ud800", "ignore "):
            memo.recall(text, compute)
        assert calls == ["ignore", "ig\u200bnore", "ignore\ud800", "ignore "]

    def test_bounded_least_recently_used_first(self):
        """Past `maxsize` the least recently used text leaves and is computed again when it comes back."""
        memo: TextMemo[str] = TextMemo(2)
        calls, compute = counting()
        for text in ("a", "b", "a", "c", "a", "b"):
            memo.recall(text, compute)
        assert calls == ["a", "b", "c", "b"]

    def test_size_zero_remembers_nothing(self):
        memo: TextMemo[str] = TextMemo(0)
        calls, compute = counting()
        memo.recall("a", compute)
        memo.put(TextMemo.key("a"), "A")
        assert memo.get(TextMemo.key("a")) is None
        assert memo.recall("a", compute) == "A"
        assert calls == ["a", "a"]
