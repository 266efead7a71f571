import json
from pathlib import Path

import pytest

from wardgate.audit import GENESIS, AuditLog, event_hash, rotated_files, verify_files


def write_events(path: Path, count: int, *, max_bytes: int = 10_000_000) -> None:
    log = AuditLog(path, max_bytes=max_bytes)
    for n in range(count):
        log.record("decision", n=n, result={"allow": n % 2 == 0, "score": 0.25})
    log.close()


class TestChain:
    def test_events_link_from_genesis(self, tmp_path):
        path = tmp_path / "audit.jsonl"
        write_events(path, 3)
        events = [json.loads(line) for line in path.read_text().splitlines()]
        assert [e["seq"] for e in events] == [0, 1, 2]
        assert events[0]["prev_hash"] == GENESIS
        assert events[0]["hash"] == events[1]["prev_hash"]
        assert all(event_hash(e) == e["hash"] for e in events)

    def test_verify_accepts_an_intact_file(self, tmp_path):
        path = tmp_path / "audit.jsonl"
        write_events(path, 5)
        result = verify_files([path])
        assert (result.ok, result.events) == (True, 5)

    @pytest.mark.parametrize(
        ("mutate", "line", "reason"),
        [
            (lambda lines: lines.__setitem__(2, lines[2].replace('"n":2', '"n":7')), 3, "hash mismatch"),
            (lambda lines: lines.pop(1), 2, "sequence gap"),
            (lambda lines: lines.__setitem__(3, "not json"), 4, "not an audit event"),
        ],
    )
    def test_verify_reports_the_first_tampered_line(self, tmp_path, mutate, line, reason):
        path = tmp_path / "audit.jsonl"
        write_events(path, 5)
        lines = path.read_text().splitlines()
        mutate(lines)
        path.write_text("\n".join(lines) + "\n")
        result = verify_files([path])
        assert line == result.broken.line
        assert reason in result.broken.reason

    def test_rehashed_forgery_breaks_the_next_link(self, tmp_path):
        """Editing an event and recomputing its own hash still breaks the link the next event holds."""
        path = tmp_path / "audit.jsonl"
        write_events(path, 4)
        events = [json.loads(line) for line in path.read_text().splitlines()]
        events[1]["n"] = 42
        events[1]["hash"] = event_hash(events[1])
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        result = verify_files([path])
        assert (result.broken.line, result.broken.reason) == (3, "broken link: prev_hash does not match")


class TestRotation:
    def test_chain_continues_across_rotated_files(self, tmp_path):
        path = tmp_path / "audit.jsonl"
        write_events(path, 30, max_bytes=1500)
        rotated = rotated_files(path)
        assert len(rotated) >= 2
        # Any order on the command line: files are ordered by their first seq.
        result = verify_files([path, *reversed(rotated)])
        assert (result.ok, result.events) == (True, 30)

    def test_verifying_only_recent_files_trusts_their_anchor(self, tmp_path):
        path = tmp_path / "audit.jsonl"
        write_events(path, 30, max_bytes=1500)
        result = verify_files([path])
        assert result.ok
        assert result.first_seq > 0

    def test_tampering_in_a_rotated_file_is_found_there(self, tmp_path):
        path = tmp_path / "audit.jsonl"
        write_events(path, 30, max_bytes=1500)
        first = rotated_files(path)[0]
        lines = first.read_text().splitlines()
        lines[1] = lines[1].replace('"allow":false', '"allow":true')
        first.write_text("\n".join(lines) + "\n")
        result = verify_files([path, *rotated_files(path)])
        assert (first, 2) == (result.broken.file, result.broken.line)

    def test_restart_continues_the_chain(self, tmp_path):
        path = tmp_path / "audit.jsonl"
        write_events(path, 3)
        write_events(path, 2)
        result = verify_files([path])
        assert (result.ok, result.events) == (True, 5)


def test_stdout_sink_writes_the_same_line(tmp_path, capsys):
    log = AuditLog(tmp_path / "a.jsonl", stdout=True)
    log.record("decision", n=1)
    log.close()
    assert (tmp_path / "a.jsonl").read_text() == capsys.readouterr().out
