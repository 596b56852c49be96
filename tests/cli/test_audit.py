"""audit append/read/cursor/verify/head/prove/check-proof: every documented status, the hash
chain and the RFC 9162 hashes and proofs against an independent oracle (rfc9162.py), and
tampering with the SQLite file caught at the right entry."""

import hashlib
import json
import os
import random
import sqlite3
import subprocess

import rfc9162
from sluice_cli import ToolTestCase, on_both_backends, sqlite_only, tool_path

T0 = "2026-03-01T12:00:00Z"


def canonical(entry):
    """The canonical JSON the chain and the leaves cover: the entry without its hash, keys
    sorted, compact (the payloads here are ASCII, so no escaping question arises)."""
    body = {key: value for key, value in entry.items() if key != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


class RawNumber(str):
    """A JSON number's source text, kept as written."""


def canonical_as_documented(value):
    """audit(1)'s canonical JSON, written from the man page's words alone: keys sorted by
    their UTF-8 bytes, numbers as written, only '"', '\\' and the characters below U+0020
    escaped (\\b \\t \\n \\f \\r, else \\u00xx in lower case), everything else as itself."""
    if isinstance(value, RawNumber):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, str):
        short = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r",
                 '"': '\\"', "\\": "\\\\"}
        return '"' + "".join(short.get(c) or (f"\\u{ord(c):04x}" if ord(c) < 0x20 else c)
                             for c in value) + '"'
    if isinstance(value, list):
        return "[" + ",".join(canonical_as_documented(item) for item in value) + "]"
    return "{" + ",".join(canonical_as_documented(key) + ":" + canonical_as_documented(value[key])
                          for key in sorted(value, key=lambda k: k.encode())) + "}"


def parse_keeping_numbers(text):
    return json.loads(text, parse_int=RawNumber, parse_float=RawNumber)


class AuditCase(ToolTestCase):
    tool = "audit"

    def setUp(self):
        super().setUp()
        self.db = self.state("a.db")

    def audit(self, *args, **kwargs):
        return self.run_tool("--db", self.db, *args, **kwargs)

    def append(self, lines, *args, now=T0):
        result = self.audit("--now", now, "append", *args, stdin="".join(
            json.dumps(line) + "\n" for line in lines))
        self.assertStatus(result, 0)
        return result

    def append_numbers(self, count, start=0, actor="alice", action="login"):
        return self.append([{"n": start + i} for i in range(count)], "--actor", actor,
                           "--action", action)

    def entries(self, *args):
        result = self.audit("read", *args)
        self.assertStatus(result, 0)
        return [json.loads(line) for line in result.out.splitlines()]

    def leaves(self):
        return [rfc9162.leaf_hash(canonical(entry)) for entry in self.entries()]

    def json_of(self, result, status=0):
        self.assertStatus(result, status)
        return json.loads(result.out)


@on_both_backends
class AuditLog(AuditCase):

    def test_help_is_0_bad_flag_is_2(self):
        self.assertStatus(self.run_tool("--help"), 0)
        self.assertStatus(self.run_tool("append", "--help"), 0)
        self.assertError(self.run_tool("read", "--bogus"), 2, "--bogus")
        self.assertError(self.run_tool(), 2)

    def test_entries_carry_seq_ts_actor_action_payload_and_a_chained_hash(self):
        self.append([{"b": 1, "a": "x"}, {"n": 2}], "--actor", "alice", "--action", "login")
        self.append([{"actor": "bob", "action": "pay", "payload": {"amount": "9.50"}}],
                    now="2026-03-01T12:00:05Z")
        entries = self.entries()
        self.assertEqual([e["seq"] for e in entries], [1, 2, 3])
        self.assertEqual(list(entries[0]), ["seq", "ts", "actor", "action", "payload", "hash"])
        self.assertEqual(entries[0]["payload"], {"a": "x", "b": 1})
        self.assertEqual([e["ts"] for e in entries], [T0, T0, "2026-03-01T12:00:05Z"])
        self.assertEqual((entries[2]["actor"], entries[2]["action"]), ("bob", "pay"))
        previous = bytes(32)
        for entry in entries:
            previous = hashlib.sha256(previous + canonical(entry)).digest()
            self.assertEqual(entry["hash"], previous.hex())

    def test_the_chain_is_recomputable_from_the_man_pages_canonical_json(self):
        payloads = ['{"z":-0,"y":1E+2,"x":1.0,"big":123456789012345678901234567890}',
                    '{"s":"\\u00e9\\/\\u0001\\u001f\\b\\t\\n\\f\\r\\"\\\\\u007f","e":[true,null,{"b":1,"a":2}]}',
                    '{"\\u00e9":1,"e":2,"\U0001F600":3,"\uFF61":4,"E":5}']
        result = self.audit("--now", "2026-03-01T12:00:00.123456Z", "append", "--actor", "a",
                            "--action", "b", stdin="".join(line + "\n" for line in payloads))
        self.assertStatus(result, 0)
        printed = self.audit("read").out.splitlines()
        previous = bytes(32)
        for seq, (payload, line) in enumerate(zip(payloads, printed), start=1):
            body = {"action": "b", "actor": "a", "payload": parse_keeping_numbers(payload),
                    "seq": RawNumber(seq), "ts": "2026-03-01T12:00:00.123456Z"}
            canonical_text = canonical_as_documented(body)
            previous = hashlib.sha256(previous + canonical_text.encode()).digest()
            entry = parse_keeping_numbers(line)
            self.assertEqual(entry["hash"], previous.hex(), canonical_text)
            self.assertIn('"payload":' + canonical_as_documented(body["payload"]) + ',', line)
        proof = self.json_of(self.audit("prove", "--seq", "3"))
        self.assertEqual(proof["leaf_hash"],
                         rfc9162.leaf_hash(canonical_text.encode()).hex())

    def test_read_filters(self):
        self.append_numbers(3, actor="alice", action="login")
        self.append_numbers(2, start=3, actor="bob", action="login")
        self.append([{"n": 5}], "--actor", "alice", "--action", "logout",
                    now="2026-03-02T00:00:00Z")
        seqs = lambda *args: [entry["seq"] for entry in self.entries(*args)]
        self.assertEqual(seqs("--actor", "alice"), [1, 2, 3, 6])
        self.assertEqual(seqs("--action", "login", "--actor", "bob"), [4, 5])
        self.assertEqual(seqs("--after", "2", "--limit", "2"), [3, 4])
        self.assertEqual(seqs("--since", "2026-03-01T12:00:01Z"), [6])
        self.assertEqual(seqs("--until", "2026-03-01T12:00:01Z", "--after", "4"), [5])
        self.assertEqual(seqs("--limit", "0"), [])

    def test_group_commit_in_batches_keeps_seq_gap_free(self):
        self.append([{"n": i} for i in range(25)], "--actor", "a", "--action", "b",
                    "--batch", "10")
        self.assertEqual([e["seq"] for e in self.entries()], list(range(1, 26)))
        self.assertEqual(self.json_of(self.audit("verify"))["valid"], True)

    def test_bad_payload_rejects_the_whole_batch_naming_file_and_line(self):
        self.append_numbers(2)
        before = self.entries()
        self.write("in.jsonl", '{"actor":"a","action":"b","payload":{}}\n'
                               '{"actor":"a","action":"b","payload":[1]}\n')
        self.assertError(self.audit("append", "in.jsonl"), 65, "in.jsonl:2",
                         "field 'payload' must be an object, not array")
        self.write("bad.jsonl", '{"n":1}\n[1,2]\n')
        self.assertError(self.audit("append", "--actor", "a", "--action", "b", "bad.jsonl"), 65,
                         "bad.jsonl:2")
        self.write("ctl.jsonl", '{"actor":"a\\u0001","action":"b","payload":{}}\n')
        self.assertError(self.audit("append", "ctl.jsonl"), 65, "ctl.jsonl:1", "'actor'")
        self.assertError(self.audit("append", "missing.jsonl"), 66, "missing.jsonl")
        self.assertEqual(self.entries(), before)

    def test_bad_options_are_usage_errors(self):
        self.append_numbers(1)
        self.assertError(self.audit("read", "--after", "x"), 2, "--after")
        self.assertError(self.audit("read", "--after", "-1"), 2, "--after")
        self.assertError(self.audit("read", "--since", "yesterday"), 2, "--since")
        self.assertError(self.audit("read", "--actor", "a b"), 2, "actor")
        self.assertError(self.audit("append", "--actor", "a"), 2, "--action")
        self.assertError(self.audit("follow", "--cursor", "bad\x01name", "--limit", "1"), 2,
                         "cursor", "\\u0001")
        self.assertError(self.audit("cursor", "set", "bad\tname", "--after", "1"), 2, "cursor")
        self.assertError(self.audit("prove"), 2, "--seq")
        self.assertError(self.audit("verify", "--root", "00" * 32), 2, "--size")
        self.assertError(self.audit("verify", "--size", "1", "--root", "xyz"), 2, "--root")
        self.assertEqual(len(self.entries()), 1)
        self.assertEqual(self.state_rows(self.db, "SELECT * FROM audit_cursors"), [])

    @sqlite_only
    def test_reading_missing_state_is_66(self):
        self.db = self.path("absent.db")
        for command in ("read", "head", "verify", "cursor list"):
            self.assertError(self.audit(*command.split()), 66)

    def test_head_and_proofs_match_rfc9162_for_random_sizes(self):
        rng = random.Random(9162)
        self.append_numbers(1)
        size = 1
        for target in sorted(rng.sample(range(2, 70), 6)) + [64]:
            if target > size:
                self.append_numbers(target - size, start=size)
                size = target
        leaves = self.leaves()
        self.assertEqual(len(leaves), size)
        head = self.json_of(self.audit("head"))
        self.assertEqual(head, {"size": size, "root": rfc9162.mth(leaves).hex()})
        for _ in range(12):
            tree = rng.randint(1, size)
            seq = rng.randint(1, tree)
            proof = self.json_of(self.audit("prove", "--seq", str(seq), "--size", str(tree)))
            self.assertEqual(proof["root"], rfc9162.mth(leaves[:tree]).hex())
            self.assertEqual(proof["leaf_hash"], leaves[seq - 1].hex())
            expected = [h.hex() for h in rfc9162.path(seq - 1, leaves[:tree])]
            self.assertEqual(proof["path"], expected)
            self.assertTrue(rfc9162.verify_inclusion(
                seq - 1, tree, leaves[seq - 1], [bytes.fromhex(h) for h in proof["path"]],
                rfc9162.mth(leaves[:tree])))
            self.assertEqual(self.json_of(self.audit("check-proof", stdin=json.dumps(proof)))
                             ["valid"], True)
            old = rng.randint(1, tree)
            consistency = self.json_of(self.audit("prove", "--from", str(old), "--size",
                                                  str(tree)))
            self.assertEqual(consistency["old_root"], rfc9162.mth(leaves[:old]).hex())
            self.assertEqual(consistency["path"],
                             [h.hex() for h in rfc9162.proof(old, leaves[:tree])])
            self.assertTrue(rfc9162.verify_consistency(
                old, tree, rfc9162.mth(leaves[:old]), rfc9162.mth(leaves[:tree]),
                [bytes.fromhex(h) for h in consistency["path"]]))
            self.assertEqual(self.json_of(self.audit("check-proof", stdin=json.dumps(
                consistency)))["valid"], True)

    def test_tampered_proofs_fail_with_1(self):
        self.append_numbers(13)
        proof = self.json_of(self.audit("prove", "--seq", "6"))
        self.write("p.json", json.dumps(proof))
        self.assertStatus(self.audit("check-proof", "p.json"), 0)
        for change in ("path", "root", "entry", "seq"):
            forged = json.loads(json.dumps(proof))
            if change == "path":
                forged["path"][1] = "00" * 32
            elif change == "root":
                forged["root"] = "11" * 32
            elif change == "entry":
                forged["entry"]["payload"]["n"] = 99
            else:
                forged["seq"] = 7
            with self.subTest(change=change):
                self.assertEqual(self.json_of(self.audit("check-proof", stdin=json.dumps(forged)),
                                              1)["valid"], False)
        self.assertStatus(self.audit("check-proof", "--root", "22" * 32, "p.json"), 1)
        consistency = self.json_of(self.audit("prove", "--from", "5"))
        self.assertStatus(self.audit("check-proof", "--old-root", consistency["old_root"],
                                     stdin=json.dumps(consistency)), 0)
        self.assertStatus(self.audit("check-proof", "--old-root", "33" * 32,
                                     stdin=json.dumps(consistency)), 1)
        consistency["old_size"] = 6
        self.assertStatus(self.audit("check-proof", stdin=json.dumps(consistency)), 1)
        self.assertError(self.audit("check-proof", stdin='{"type":"other"}'), 65, "'type'")
        self.assertError(self.audit("check-proof", stdin='{"type":"inclusion"}'), 65, "'seq'")

    def test_proofs_beyond_the_log_are_65(self):
        self.append_numbers(3)
        self.assertError(self.audit("prove", "--seq", "4"), 65, "--seq 4")
        self.assertError(self.audit("prove", "--seq", "1", "--size", "9"), 65, "--size 9")
        self.assertError(self.audit("prove", "--from", "4"), 65, "--from 4")

    def test_old_head_proves_the_log_was_only_appended_to(self):
        self.append_numbers(5)
        old = self.json_of(self.audit("head"))
        self.append_numbers(6, start=5)
        proof = self.json_of(self.audit("prove", "--from", str(old["size"])))
        self.assertEqual(proof["old_root"], old["root"])
        self.assertStatus(self.audit("check-proof", "--old-root", old["root"],
                                     stdin=json.dumps(proof)), 0)
        verdict = self.json_of(self.audit("verify", "--size", "5", "--root", old["root"]))
        self.assertEqual(verdict, {"valid": True, "size": 11,
                                   "root": rfc9162.mth(self.leaves()).hex()})

    def test_cursors_list_set_delete(self):
        self.append_numbers(3)
        self.assertStatus(self.audit("--now", T0, "cursor", "set", "etl", "--after", "2"), 0)
        listed = self.audit("cursor", "list")
        self.assertEqual(json.loads(listed.out), {"name": "etl", "after": 2, "updated_at": T0})
        follow = self.audit("follow", "--cursor", "etl", "--limit", "1")
        self.assertEqual([json.loads(l)["seq"] for l in follow.out.splitlines()], [3])
        self.assertEqual(json.loads(self.audit("cursor", "list").out)["after"], 3)
        self.assertStatus(self.audit("cursor", "delete", "etl"), 0)
        self.assertError(self.audit("cursor", "delete", "etl"), 66, "etl")
        self.assertEqual(self.audit("cursor", "list").out, "")

    def test_follow_without_cursor_starts_after(self):
        self.append_numbers(4)
        result = self.audit("follow", "--after", "1", "--limit", "2")
        self.assertEqual([json.loads(l)["seq"] for l in result.out.splitlines()], [2, 3])


@on_both_backends
class AuditArchive(AuditCase):

    def setUp(self):
        super().setUp()
        self.append_numbers(7)
        self.append([{"n": i} for i in range(7, 12)], "--actor", "alice", "--action", "login",
                     now="2026-03-05T00:00:00Z")
        self.leaves_before = self.leaves()
        self.head = self.json_of(self.audit("head"))
        result = self.audit("archive", "--before", "2026-03-02T00:00:00Z", "--out", "seg.gz")
        self.assertStatus(result, 0)
        self.assertIn("archived entries 1 to 7", result.err)

    def test_segment_holds_the_entries_and_the_log_keeps_its_tree(self):
        import gzip
        with gzip.open(self.path("seg.gz"), "rt") as segment:
            lines = [json.loads(line) for line in segment]
        self.assertEqual(lines[0], {"segment": "audit", "first_seq": 1, "last_seq": 7,
                                    "previous_hash": "00" * 32})
        self.assertEqual([line["seq"] for line in lines[1:]], list(range(1, 8)))
        self.assertEqual([rfc9162.leaf_hash(canonical(line)) for line in lines[1:]],
                         self.leaves_before[:7])
        self.assertEqual([e["seq"] for e in self.entries()], list(range(8, 13)))
        self.assertEqual(self.json_of(self.audit("head")), self.head)
        self.assertEqual(self.json_of(self.audit("verify", "--archive", "seg.gz")),
                         {"valid": True, "size": 12, "root": self.head["root"]})
        proof = self.json_of(self.audit("prove", "--seq", "3"))
        self.assertNotIn("entry", proof)
        self.assertEqual(proof["path"], [h.hex() for h in rfc9162.path(2, self.leaves_before)])
        self.assertStatus(self.audit("check-proof", stdin=json.dumps(proof)), 0)
        self.append_numbers(2, start=20)
        self.assertEqual([e["seq"] for e in self.entries("--after", "11")], [12, 13, 14])
        self.assertEqual(self.json_of(self.audit("verify"))["valid"], True)

    def test_a_cursor_behind_the_archive_is_refused_not_moved_past_it(self):
        self.assertStatus(self.audit("cursor", "set", "c", "--after", "3"), 0)
        refused = self.audit("follow", "--cursor", "c", "--limit", "1")
        self.assertError(refused, 65, "cursor 'c'", "entries 4 to 7", "seg.gz",
                         "cursor set c --after 7")
        self.assertEqual(refused.out, "")
        self.assertEqual(json.loads(self.audit("cursor", "list").out)["after"], 3)
        self.assertError(self.audit("follow", "--cursor", "new", "--after", "5", "--limit", "1"),
                         65, "entries 6 to 7")
        self.assertStatus(self.audit("cursor", "set", "c", "--after", "7"), 0)
        follow = self.audit("follow", "--cursor", "c", "--limit", "1")
        self.assertEqual([json.loads(line)["seq"] for line in follow.out.splitlines()], [8])

    def test_a_changed_segment_is_caught(self):
        import gzip
        with gzip.open(self.path("seg.gz"), "rt") as segment:
            text = segment.read()
        with gzip.open(self.path("bad.gz"), "wt") as segment:
            segment.write(text.replace('"n":4}', '"n":40}'))
        verdict = self.json_of(self.audit("verify", "--archive", "bad.gz"), 1)
        self.assertEqual((verdict["seq"], verdict["problem"]), (5, "changed"))

    def test_a_segment_with_a_seq_that_is_not_a_whole_number_is_65(self):
        import gzip
        with gzip.open(self.path("seg.gz"), "rt") as segment:
            text = segment.read()
        for seq in ("99999999999999999999", "2.5", "1e0"):
            with self.subTest(seq=seq):
                with gzip.open(self.path("bad.gz"), "wt") as segment:
                    segment.write(text.replace('{"seq":2,', '{"seq":' + seq + ',', 1))
                self.assertError(self.audit("verify", "--archive", "bad.gz"), 65,
                                 "bad.gz:3", "'seq' must be a whole number")

    def test_existing_out_and_nothing_to_archive(self):
        self.assertError(self.audit("archive", "--before", "2026-03-09T00:00:00Z", "--out",
                                    "seg.gz"), 73, "seg.gz")
        result = self.audit("archive", "--before", "2026-03-02T00:00:00Z", "--out", "more.gz")
        self.assertStatus(result, 0)
        self.assertIn("nothing to archive", result.err)
        self.assertError(self.audit("archive", "--before", "soon", "--out", "x.gz"), 2,
                         "--before")


class AuditFollowResume(AuditCase):
    """A follower killed between writing a page into a regular file and moving its cursor:
    the cursor's pending page and the file's size tell what got out."""

    def follow_into(self, name, *args):
        with open(self.path(name), "ab") as sink:
            completed = subprocess.run(
                [tool_path("audit"), "--db", self.db, "follow",
                 "--cursor", "c", *args], cwd=self.dir, env=self.env, stdout=sink, timeout=60)
        self.assertEqual(completed.returncode, 0)

    def crash_mid_page(self, written_fraction):
        self.append_numbers(5)
        self.follow_into("out.jsonl", "--limit", "3")
        page = self.audit("read", "--after", "3").stdout
        before = len(self.read("out.jsonl"))
        with open(self.path("out.jsonl"), "ab") as sink:
            sink.write(page[:int(len(page) * written_fraction)])
        status = os.stat(self.path("out.jsonl"))
        with sqlite3.connect(self.db) as connection:
            connection.execute(
                "UPDATE audit_cursors SET pending_after = 5, pending_file = ?, pending_from = ?, "
                "pending_to = ? WHERE name = 'c'",
                (f"{status.st_dev}:{status.st_ino}", before, before + len(page)))
        self.append_numbers(1, start=5)
        self.follow_into("out.jsonl", "--limit", "1" if written_fraction == 1 else "3")
        seqs = [json.loads(line)["seq"] for line in self.read("out.jsonl").splitlines()]
        self.assertEqual(seqs, [1, 2, 3, 4, 5, 6])

    def test_page_written_in_full_is_not_written_again(self):
        self.crash_mid_page(1)

    def test_page_cut_short_is_cut_off_and_written_again(self):
        self.crash_mid_page(0.5)

    def test_page_never_written_is_written(self):
        self.crash_mid_page(0)


class AuditTamper(AuditCase):
    """Edits to the SQLite file behind the tool's back: verify names the first bad entry."""

    def setUp(self):
        super().setUp()
        self.append_numbers(20)
        self.assertEqual(self.json_of(self.audit("verify"))["valid"], True)

    def sql(self, *statements):
        with sqlite3.connect(self.db) as connection:
            for statement in statements:
                connection.execute(statement)

    def assertCaught(self, seq, problem):
        verdict = self.json_of(self.audit("verify"), 1)
        self.assertEqual((verdict["valid"], verdict["seq"], verdict["problem"]),
                         (False, seq, problem), verdict)
        self.assertIn(f"entry {seq}", self.audit("verify").err)

    def test_edited_payload(self):
        self.sql("UPDATE audit_entries SET payload = '{\"n\":999}' WHERE seq = 7")
        self.assertCaught(7, "changed")

    def test_edited_actor_with_recomputed_leaf_breaks_the_chain(self):
        entry = self.entries("--after", "10", "--limit", "1")[0]
        entry["actor"] = "mallory"
        leaf = rfc9162.leaf_hash(canonical(entry)).hex()
        self.sql(f"UPDATE audit_entries SET actor = 'mallory', leaf = '{leaf}' WHERE seq = 11")
        self.assertCaught(11, "chain")

    def test_every_stored_column_is_covered(self):
        edits = {"ts": ("UPDATE audit_entries SET ts = ts + 1 WHERE seq = 5", 5, "changed"),
                 "action": ("UPDATE audit_entries SET action = 'logout' WHERE seq = 6", 6,
                            "changed"),
                 "hash": ("UPDATE audit_entries SET hash = replace(hash, substr(hash, 1, 1), "
                          "CASE substr(hash, 1, 1) WHEN '0' THEN '1' ELSE '0' END) "
                          "WHERE seq = 8", 8, "chain"),
                 "leaf": ("UPDATE audit_entries SET leaf = hash WHERE seq = 3", 3, "changed"),
                 "node": ("UPDATE audit_nodes SET hash = (SELECT leaf FROM audit_entries "
                          "WHERE seq = 1) WHERE node_level = 2 AND node_index = 2", 9,
                          "changed")}
        for column, (statement, seq, problem) in edits.items():
            with self.subTest(column=column):
                saved = self.path("saved.db")
                with sqlite3.connect(self.db) as source, sqlite3.connect(saved) as copy:
                    source.backup(copy)
                self.sql(statement)
                self.assertCaught(seq, problem)
                with sqlite3.connect(saved) as copy, sqlite3.connect(self.db) as target:
                    copy.backup(target)
                self.assertEqual(self.json_of(self.audit("verify"))["valid"], True)

    def test_deleted_entry(self):
        self.sql("DELETE FROM audit_entries WHERE seq = 13")
        self.assertCaught(13, "missing")

    def test_deleted_last_entry(self):
        self.sql("DELETE FROM audit_entries WHERE seq = 20")
        self.assertCaught(20, "missing")

    def test_swapped_entries(self):
        self.sql("UPDATE audit_entries SET seq = 1004 WHERE seq = 4",
                 "UPDATE audit_entries SET seq = 4 WHERE seq = 9",
                 "UPDATE audit_entries SET seq = 9 WHERE seq = 1004")
        self.assertCaught(4, "changed")

    def test_rewritten_tail_is_caught_against_a_saved_head(self):
        head = self.json_of(self.audit("head"))
        self.sql("DELETE FROM audit_entries WHERE seq > 16",
                 "DELETE FROM audit_nodes")
        # Rebuild the tree so that the file alone looks consistent: only the saved head knows.
        rebuilt = self.path("rebuilt.db")
        result = self.run_tool("--db", rebuilt, "--now", T0, "append", "--actor", "alice",
                               "--action", "login",
                               stdin="".join(json.dumps({"n": i}) + "\n" for i in range(16)))
        self.assertStatus(result, 0)
        with sqlite3.connect(self.db) as connection:
            connection.execute(f"ATTACH '{rebuilt}' AS rebuilt")
            connection.execute("INSERT INTO audit_nodes SELECT * FROM rebuilt.audit_nodes")
        self.assertEqual(self.json_of(self.audit("verify"))["valid"], True)
        verdict = self.json_of(self.audit("verify", "--size", "20", "--root", head["root"]), 1)
        self.assertEqual((verdict["seq"], verdict["problem"]), (17, "missing"))
