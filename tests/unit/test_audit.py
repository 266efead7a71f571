import contextlib
import json
import os
import sys
import time
from pathlib import Path

import pytest

from wardgate.audit import GENESIS, AuditLog, event_hash, rotated_files, verify_files
from wardgate.errors import AuditError


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

    def test_what_json_changes_is_hashed_as_the_line_holds_it(self, tmp_path):
        """Integer keys become strings (and sort as strings), objects become their text, a lone surrogate its escape:
        the hash covers the line, so `audit verify` reading it back agrees."""
        path = tmp_path / "audit.jsonl"
        log = AuditLog(path)
        log.record("decision", counts={9: "nine", 10: "ten"}, where=Path("/x"), text="a\ud800b", score=0.1 + 0.2)
        log.close()
        [event] = [json.loads(line) for line in path.read_text().splitlines()]
        assert (event["counts"], event["where"], event["text"]) == ({"9": "nine", "10": "ten"}, "/x", "a\ud800b")
        assert event_hash(event) == event["hash"]
        assert verify_files([path]).ok

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


class TestFileMovedAway:
    def test_a_deleted_file_is_opened_anew_and_the_chain_continues(self, tmp_path):
        path = tmp_path / "audit.jsonl"
        log = AuditLog(path)
        log.record("decision", n=0)
        path.unlink()  # a log shipper that removes what it has read
        log.record("decision", n=1)
        log.close()
        events = [json.loads(line) for line in path.read_text().splitlines()]
        assert [(e["seq"], e["n"]) for e in events] == [(1, 1)]
        assert verify_files([path]).ok

    def test_a_renamed_file_leaves_the_next_line_to_a_new_one(self, tmp_path):
        path = tmp_path / "audit.jsonl"
        log = AuditLog(path)
        log.record("decision", n=0)
        path.rename(tmp_path / "audit.jsonl.1")  # logrotate
        log.record("decision", n=1)
        log.close()
        assert len((tmp_path / "audit.jsonl.1").read_text().splitlines()) == 1
        assert verify_files([tmp_path / "audit.jsonl.1", path]).ok


def test_a_failed_rotation_refuses_the_write_and_the_next_one_recovers(tmp_path, monkeypatch):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=300)
    log.record("decision", n=0, pad="x" * 200)
    real_rename = Path.rename

    def read_only_directory(self, target):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "rename", read_only_directory)
    with pytest.raises(AuditError):
        log.record("decision", n=1, pad="x" * 200)
    assert not log.healthy
    monkeypatch.setattr(Path, "rename", real_rename)  # the fault clears
    log.record("decision", n=2, pad="x" * 200)
    log.close()
    assert log.healthy
    result = verify_files([*rotated_files(path), path])
    assert (result.ok, result.events) == (True, 2)


def stdout_pipe(monkeypatch) -> tuple[int, int]:
    """sys.stdout replaced by the write end of a pipe no one reads yet; its pipe buffer filled up."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(write_end, b"f" * 4096)
    os.set_blocking(write_end, True)
    monkeypatch.setattr(sys, "stdout", os.fdopen(write_end, "w"))
    return read_end, write_end


def drain(fd: int) -> bytes:
    os.set_blocking(fd, False)
    chunks = []
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    return b"".join(chunks)


class TestStalledStdout:
    def test_a_reader_that_stops_reading_gets_refusals_not_a_hang(self, monkeypatch):
        read_end, _ = stdout_pipe(monkeypatch)
        log = AuditLog(None, stdout=True)
        started = time.monotonic()
        with pytest.raises(AuditError, match="stdout did not take"):
            log.record("decision", n=0)
        first = time.monotonic() - started
        started = time.monotonic()
        with pytest.raises(AuditError):
            log.record("decision", n=1)
        assert time.monotonic() - started < 0.4  # once stalled, refused without the 0.5 s wait
        assert first < 2
        assert not log.healthy
        drain(read_end)  # the reader catches up
        log.record("decision", n=2)
        assert log.healthy
        lines = drain(read_end).decode().splitlines()
        assert [json.loads(line)["seq"] for line in lines] == [0]  # the refused lines left no link

    def test_with_a_file_too_a_line_stdout_refused_is_taken_back_from_the_file(self, tmp_path, monkeypatch):
        path = tmp_path / "audit.jsonl"
        read_end, _ = stdout_pipe(monkeypatch)
        log = AuditLog(path, stdout=True)
        for n in range(2):
            with pytest.raises(AuditError):
                log.record("decision", n=n)
        drain(read_end)
        log.record("decision", n=2)
        log.close()
        events = [json.loads(line) for line in path.read_text().splitlines()]
        assert [(e["seq"], e["n"]) for e in events] == [(0, 2)]
        assert verify_files([path]).ok


def test_an_audit_path_that_is_a_fifo_is_refused_at_start_not_waited_on(tmp_path):
    path = tmp_path / "audit.jsonl"
    os.mkfifo(path)
    with pytest.raises(AuditError, match="pipe or socket"):
        AuditLog(path)


def test_a_logrotate_name_beside_the_rotated_files_is_never_renamed_over(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=400)
    for n in range(6):
        log.record("decision", n=n, pad="x" * 150)
        if n == 3:
            path.rename(tmp_path / "audit.jsonl.1")  # logrotate's own name, beside Wardgate's .000001, .000002
    log.close()
    files = [*rotated_files(path), tmp_path / "audit.jsonl.1", path]
    seqs = sorted(json.loads(line)["seq"] for file in files if file.exists() for line in file.read_text().splitlines())
    assert seqs == list(range(6))


def test_a_line_the_file_cannot_give_back_stays_in_the_chain(tmp_path, monkeypatch):
    """An append-only file (chattr +a) cannot be cut: the line stays, and so does its link; stdout has the gap."""
    path = tmp_path / "audit.jsonl"
    read_end, _ = stdout_pipe(monkeypatch)
    log = AuditLog(path, stdout=True)

    def append_only(fd, length):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "ftruncate", append_only)
    with pytest.raises(AuditError):
        log.record("decision", n=0)
    drain(read_end)
    log.record("decision", n=1)
    log.close()
    assert [json.loads(line)["seq"] for line in path.read_text().splitlines()] == [0, 1]
    assert verify_files([path]).ok


def test_a_line_whose_write_breaks_off_is_cut_back_and_the_chain_goes_on(tmp_path, monkeypatch):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.record("decision", n=0)
    real_write = os.write

    def half_then_full_disk(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full_disk)
    with pytest.raises(AuditError):
        log.record("decision", n=1)
    monkeypatch.setattr(os, "write", real_write)
    log.record("decision", n=2)
    log.close()
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["seq"], e["n"]) for e in events] == [(0, 0), (1, 2)]
    assert verify_files([path]).ok
