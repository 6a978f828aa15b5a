#!/usr/bin/env python3
"""Input fuzzer (issue 8): seeded garbage and near-miss commands into `exec --json`, and random
flags into the per-command subcommands.

exec: malformed JSON, invalid UTF-8, NUL bytes, deep nesting, huge numbers, lines around and
far over the 64 KiB limit (one of 10 MB; 100 MB in full mode), wrong types, CR line ends,
blank lines, and random mutations of valid commands, fed from a file or through stdin.
Checks: exit code 0 or 1 (1 exactly when a line was rejected), never a signal; no hang (a
timeout); exactly one JSON result line per non-blank input line, with the right "line"
numbers and a well-formed status/positions/error; a line over 64 KiB is `line_too_long`;
peak RSS (os.wait4 of each child) does not grow with a long line (a 10 MB line costs under
4 MiB more than the same input without it); afterwards the log is gapless with unique
command ids and `verify` passes (when verify exists).

flags: random subsets of each single-command subcommand's flags (and of show/replay/stats/
projections/seen/forget-seen/verify/rebuild/export/import), with odd values (empty, huge and negative numbers, invalid
UTF-8, newlines, 100 KB strings, unknown and repeated flags, odd --store paths).
Checks: exit code 0, 1 or 64 (the argument parser's usage error), never a signal, no hang.

Usage: fuzz.py [--seed N] [--quick] [--lines N] [--flag-runs N] [--bin PATH]
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

LIMIT = 64 * 1024
RESULT_RE = re.compile(r"^[a-z_]+: ")


# ------------------------------------------------------------------------ line generators

class LineFuzzer:
    def __init__(self, rng):
        self.rng = rng
        self.gen = common.Generator(random.Random(rng.getrandbits(64)), "fz", "fz-%d" % rng.getrandbits(20),
                                    reject_rate=0.1)
        self.valid = []     # recent valid command dicts, for mutation

    def valid_command(self):
        cmd, _, _ = self.gen.next()
        self.valid.append(cmd)
        if len(self.valid) > 500:
            self.valid = self.valid[-250:]
        return cmd

    def some_valid(self):
        if not self.valid or self.rng.random() < 0.3:
            return self.valid_command()
        return dict(self.rng.choice(self.valid))

    def odd_value(self):
        r = self.rng
        return r.choice([
            None, True, False, 0, -1, 1.5, -0.0, 1e308, 10 ** 19, -(10 ** 19), 9223372036854775807,
            -9223372036854775808, 9223372036854775808, "", " ", "x" * 1024, "x" * 1025, "é" * 513,
            [], {}, [1, 2], {"a": 1}, "00000000-0000-0000-0000-000000000000",
            "6F9619FF-8B86-D011-B42D-00CF4FC964FF", "not-a-uuid", "2026-01-01T00:00:00Z",
            "\u0000", "\ud7ff\ue000", "a\nb", "😀" * 30, "\u202e", r.randrange(-10 ** 6, 10 ** 6),
        ])

    RAW_NUMBERS = [b"1e400", b"-1e400", b"1" * 400, b"-" + b"9" * 30, b"0.0000000000000000001", b"1E+2",
                   b"01", b"+1", b"-", b"1.", b".5", b"1e", b"0x10", b"NaN", b"Infinity", b"-Infinity",
                   b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808",
                   b"-9223372036854775809", b"1e19", b"100.0", b"-0", b"1" + b"0" * 5000]
    BAD_UTF8 = [b"\x80", b"\xbf", b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xed\xbf\xbf",
                b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff", b"\xfe", b"\xe2\x82", b"\xf0\x9f\x98",
                b"\xc3", b"\xf8\x88\x80\x80\x80"]
    BAD_ESCAPES = [b"\\x41", b"\\u12", b"\\ud800", b"\\udc00", b"\\ud800\\u0041", b"\\udbff\\udfff", b"\\u0000",
                   b"\\", b"\\U0001F600", b"\\/", b"\\a", b"\\'"]

    def mutate_bytes(self, line):
        r = self.rng
        b = bytearray(line)
        for _ in range(r.randint(1, 4)):
            op = r.randrange(7)
            if not b:
                b = bytearray(b"{")
            i = r.randrange(len(b))
            if op == 0:
                b[i] = r.randrange(256)
            elif op == 1:
                del b[i:i + r.randint(1, 8)]
            elif op == 2:
                b[i:i] = bytes(r.randrange(256) for _ in range(r.randint(1, 4)))
            elif op == 3:
                b[i:i] = r.choice(self.BAD_UTF8)
            elif op == 4:
                b[i:i] = r.choice([b"\x00", b"\"", b"\\", b"{", b"}", b"[", b"]", b",", b":", b"\r", b"\t", b"\x7f"])
            elif op == 5:
                b = b[:i]
            else:
                j = r.randrange(len(b))
                b[i:i] = b[j:j + r.randint(1, 20)]
        return bytes(b).replace(b"\n", b" ")

    def mutate_structure(self, cmd):
        r = self.rng
        keys = list(cmd.keys())
        op = r.randrange(8)
        if op == 0 and keys:
            cmd[r.choice(keys)] = self.odd_value()
        elif op == 1 and keys:
            del cmd[r.choice(keys)]
        elif op == 2:
            cmd[r.choice(["extra", "Command", "full_name", "fullname", "seats", "id", "at", "command_id", "", "\u0000"])] = self.odd_value()
        elif op == 3:
            cmd["command"] = r.choice(["registeruser", "RegisterUser ", "Nope", "", "DeleteEverything", "RecordLogin"])
        elif op == 4:
            cmd["command_id"] = r.choice(["", "x" * 128, "x" * 129, "é" * 64, "é" * 65, "fz-dup", "\u0000"])
        elif op == 5:
            cmd["at"] = r.choice(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00+01:00", "2026-13-01T00:00:00Z",
                                  "2026-01-01 00:00:00Z", "2026-01-01T00:00:00", "yesterday", "1969-12-31T23:59:59Z",
                                  "2026-01-01t00:00:00z", "2026-06-30T23:59:60Z", "0000-01-01T00:00:00Z",
                                  "2026-01-01T00:00:00.123456789Z", "2026-01-01T24:00:00Z"])
        elif op == 6:
            return b"[" + json.dumps(cmd).encode() + b"]"
        else:
            body = json.dumps(cmd).encode()
            return body[:-1] + b"," + json.dumps(r.choice(keys or ["k"])).encode() + b":" + json.dumps(self.odd_value()).encode() + b"}"
        return json.dumps(cmd, ensure_ascii=r.random() < 0.5).encode("utf-8", "surrogatepass")

    def deep(self):
        r = self.rng
        n = r.choice([63, 64, 65, 100, 1000, 30000, 65000])
        kind = r.randrange(4)
        if kind == 0:
            return b"[" * n + b"]" * n
        if kind == 1:
            return b"[" * n
        if kind == 2:
            return b'{"command":"RegisterUser","email":' + b'{"a":' * min(n, 9000) + b"1" + b"}" * min(n, 9000) + b"}"
        return b'{"command":"CreatePlan","name":"deep","price_cents":' + b"[" * n + b"]" * n + b"}"

    def malformed(self):
        r = self.rng
        return r.choice([
            b"{", b"}", b"{}", b"[]", b"null", b"true", b"0", b'"str"', b"{}{}", b'{"command":"RegisterUser"} x',
            b"{'command':'RegisterUser'}", b'{"command":"RegisterUser",}', b'{"command" "RegisterUser"}',
            b'{"command":"RegisterUser","email":"a@b" // c', b"\xef\xbb\xbf{}", b'{"a":1,"a":2}',
            b'{"command":"RegisterUser","command":"CreatePlan"}', b"\x00", b"\x00" * 100, b"{\x00}",
            b'{"command":"RegisterUser","email":"a@b\x00c"}', b'{"command":"RegisterUser","email":"a\tb@c"}',
            b'{"command":"RegisterUser","email":"' + r.choice(self.BAD_UTF8) + b'@x"}',
            b'{"command":"RegisterUser","email":"a@b' + r.choice(self.BAD_ESCAPES) + b'"}',
            b'{"command":"CreatePlan","name":"p","price_cents":' + r.choice(self.RAW_NUMBERS) + b"}",
            b'{"command":"CreatePlan","name":"p","seats":' + r.choice(self.RAW_NUMBERS) + b"}",
            b'{"command":"CreatePlan","name":"' + b"n" * r.choice([80, 81, 1024, 1025, 5000]) + b'"}',
            bytes(r.randrange(256) for _ in range(r.randint(1, 200))).replace(b"\n", b""),
            b'{"command":"RegisterUser","email":"' + b"a" * 70000,
            b'"' + b"\\" * r.randint(1, 50),
            b"{" + b'"k":1,' * 5000 + b'"command":"RecordLogin"}',
        ])

    def blank(self):
        return self.rng.choice([b"", b" ", b"\t", b"  \t ", b"\r", b" \r"])

    def line(self):
        return self._line().replace(b"\n", b" ")

    def _line(self):
        r = self.rng.random()
        if r < 0.25:
            return json.dumps(self.valid_command(), ensure_ascii=self.rng.random() < 0.3).encode()
        if r < 0.45:
            return self.mutate_bytes(json.dumps(self.some_valid()).encode())
        if r < 0.65:
            return self.mutate_structure(self.some_valid())
        if r < 0.85:
            return self.malformed()
        if r < 0.88:
            return self.deep()
        if r < 0.95:
            return self.blank()
        n = self.rng.choice([LIMIT - 1, LIMIT, LIMIT + 1, LIMIT + 2, 70000, 200000])
        return self.long_line(n)

    def long_line(self, n):
        head = b'{"command":"RegisterUser","email":"long@x","full_name":"'
        tail = b'"}'
        if n <= len(head) + len(tail):
            return b"x" * n
        return head + b"x" * (n - len(head) - len(tail)) + tail


def stripped(line):
    return line[:-1] if line.endswith(b"\r") else line


def is_blank(line):
    s = stripped(line)
    return len(s) <= LIMIT and all(c in (0x20, 0x09) for c in s)


# ------------------------------------------------------------------------ running

TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_exec(argv, data, via_stdin, path, timeout):
    """Runs exec; returns (rc, stdout, stderr, maxrss KiB, seconds, timed_out).

    Peak RSS comes from /usr/bin/time (%M): the rusage of a direct child of this Python process
    would count the pages of Python itself, which the child had at fork."""
    if not via_stdin:
        with open(path, "wb") as f:
            f.write(data)
        argv = argv + [path]
    timefile = path + ".time"
    if TIME:
        argv = [TIME, "-o", timefile, "-f", "%M %x"] + argv
    t0 = time.time()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if via_stdin else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    outs, errs = [], []
    t1 = threading.Thread(target=lambda: outs.append(proc.stdout.read()))
    t2 = threading.Thread(target=lambda: errs.append(proc.stderr.read()))
    t1.start()
    t2.start()
    if via_stdin:
        def feed():
            try:
                view = memoryview(data)
                for i in range(0, len(data), 1 << 16):
                    proc.stdin.write(view[i:i + (1 << 16)])
                proc.stdin.close()
            except (BrokenPipeError, ValueError, OSError):
                pass
        t3 = threading.Thread(target=feed)
        t3.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    rc = proc.returncode
    t1.join()
    t2.join()
    if via_stdin:
        t3.join()
    maxrss = 0
    if TIME and not timed_out:
        try:
            lines = open(timefile).read().strip().splitlines()
            for line in lines:
                m = re.match(r"Command terminated by signal (\d+)", line)
                if m:
                    rc = -int(m.group(1))
            fields = lines[-1].split()
            maxrss = int(fields[0])
            if rc >= 0:
                rc = int(fields[1])
        except (OSError, ValueError, IndexError):
            pass
    return rc, outs[0], errs[0], maxrss, time.time() - t0, timed_out


class FuzzHarness:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.cli = common.CLI(common.find_binary(args.bin))
        self.v = common.Violations("fuzz")
        self.work = common.Workdir(args, "fuzz")
        self.store = self.work.sub("store.db")
        self.fuzzer = LineFuzzer(random.Random(args.seed * 13 + 5))
        self.stats = {"lines": 0, "nonblank": 0, "ok": 0, "duplicate": 0, "rejected": 0, "runs": 0,
                      "stdin_runs": 0, "max_rss_kib": 0, "long_lines": 0, "rules": {}, "flag_runs": 0,
                      "flag_codes": {}}
        self.has_verify = self.cli.has("verify")
        if not self.has_verify:
            self.v.note("`verify` is not a subcommand of this subledger: the verify checks were SKIPPED")

    # -------------------------------------------------------------- exec fuzzing
    def check_run(self, lines, trailing_newline, rc, out, err, timed_out, seconds, context):
        errtext = err.decode("utf-8", "replace")
        if timed_out:
            self.v.add("%s: exec hung (killed after %.0fs)" % (context, seconds))
            return
        if rc not in (0, 1):
            self.v.add("%s: exec exited %s; stderr: %s" % (context, common.signal_name(rc), errtext.strip()[-400:]))
        if "subledger: " in errtext:
            self.v.add("%s: exec reported an error instead of rejecting lines: %s" % (context, errtext.strip()[-400:]))
        expected = [i + 1 for i, l in enumerate(lines) if not is_blank(l)]
        try:
            text = out.decode("utf-8")
        except UnicodeDecodeError as e:
            self.v.add("%s: stdout is not valid UTF-8: %s" % (context, e))
            return
        results = []
        for raw in text.split("\n"):
            if not raw:
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                self.v.add("%s: result line is not JSON: %r" % (context, raw[:200]))
                return
            results.append(obj)
        got_lines = [r.get("line") for r in results]
        if got_lines != expected:
            first = next((i for i, (a, b) in enumerate(zip(got_lines, expected)) if a != b), min(len(got_lines), len(expected)))
            self.v.add("%s: %d result lines for %d non-blank input lines; first difference at result %d: got line %r, expected %r"
                       % (context, len(got_lines), len(expected), first + 1,
                          got_lines[first] if first < len(got_lines) else None,
                          expected[first] if first < len(expected) else None))
        any_rejected = False
        for r in results:
            status, pos = r.get("status"), r.get("positions")
            ln = r.get("line")
            src = lines[ln - 1] if isinstance(ln, int) and 0 < ln <= len(lines) else b""
            if status not in ("ok", "duplicate", "rejected") or not isinstance(pos, list):
                self.v.add("%s: malformed result %r" % (context, r))
                continue
            self.stats[status] += 1
            if status == "rejected":
                any_rejected = True
                e = r.get("error")
                if not isinstance(e, str) or not RESULT_RE.match(e) or "\n" in e or pos:
                    self.v.add("%s: line %r: bad rejection %r" % (context, ln, r))
                else:
                    rule = e.split(":", 1)[0]
                    self.stats["rules"][rule] = self.stats["rules"].get(rule, 0) + 1
            elif status == "ok" and len(pos) != 1:
                self.v.add("%s: line %r: ok with positions %r" % (context, ln, pos))
            elif status == "duplicate" and not pos:
                self.v.add("%s: line %r: duplicate without positions" % (context, ln))
            too_long = status == "rejected" and str(r.get("error", "")).startswith("line_too_long:")
            if len(stripped(src)) > LIMIT and not too_long:
                self.v.add("%s: line %r of %d bytes came back %r, expected line_too_long" % (context, ln, len(src), r))
            elif len(stripped(src)) <= LIMIT and too_long:
                self.v.add("%s: line %r of %d bytes (%d without a final CR) is not over the limit but came back %r"
                           % (context, ln, len(src), len(stripped(src)), r))
        if rc == 0 and any_rejected:
            self.v.add("%s: exit 0 although lines were rejected" % context)
        if rc == 1 and not any_rejected and "subledger: " not in errtext:
            self.v.add("%s: exit 1 although no line was rejected" % context)

    def exec_chunk(self, lines, context, via_stdin=None, trailing=None):
        if via_stdin is None:
            via_stdin = self.rng.random() < 0.3
        if trailing is None:
            trailing = self.rng.random() < 0.8
        data = b"\n".join(lines) + (b"\n" if trailing else b"")
        # Without a final newline a trailing empty line does not exist.
        if not trailing and lines and lines[-1] == b"":
            lines = lines[:-1]
        rc, out, err, rss, secs, to = run_exec(self.cli.cmd(self.store, "exec", "--json"), data, via_stdin,
                                                self.work.sub("chunk.jsonl"), self.args.timeout)
        self.stats["runs"] += 1
        self.stats["stdin_runs"] += via_stdin
        self.stats["max_rss_kib"] = max(self.stats["max_rss_kib"], rss)
        self.stats["lines"] += len(lines)
        self.stats["nonblank"] += sum(1 for l in lines if not is_blank(l))
        self.stats["long_lines"] += sum(1 for l in lines if len(l) > LIMIT)
        n_before = len(self.v)
        self.check_run(lines, trailing, rc, out, err, to, secs, context + (" (stdin)" if via_stdin else " (file)"))
        if len(self.v) > n_before:
            keep = self.work.sub("failing-%d.jsonl" % self.stats["runs"])
            with open(keep, "wb") as f:
                f.write(data)
            print("  input kept: %s" % keep, flush=True)
        return rss

    def fuzz_lines(self):
        total = self.args.lines
        chunk = self.args.chunk
        done = 0
        k = 0
        while done < total and len(self.v) <= 30:
            n = min(chunk, total - done)
            lines = [self.fuzzer.line() for _ in range(n)]
            k += 1
            self.exec_chunk(lines, "chunk %d" % k)
            done += n

    # -------------------------------------------------------------- fixed edge cases
    def edge_cases(self):
        ok = json.dumps({"command": "RecordLogin", "user": "edge@nowhere.test"}).encode()
        cases = [
            ("empty input", [], False),
            ("only blank lines", [b"", b" ", b"\t", b"\r", b" \r", b""], True),
            ("CRLF lines", [ok + b"\r", b"\r", ok + b"\r"], True),
            ("last line blank, no newline", [ok, b"   "], False),
            ("last line a lone CR, no newline", [ok, b"\r"], False),
            ("last line blank then CR, no newline", [ok, b" \t\r"], False),
            ("last line a command, no newline", [ok, ok], False),
            ("last line a command with CR, no newline", [ok, ok + b"\r"], False),
            ("line of exactly 64 KiB", [self.fuzzer.long_line(LIMIT)], True),
            ("line of exactly 64 KiB plus CR", [self.fuzzer.long_line(LIMIT) + b"\r"], True),
            ("line of 64 KiB + 1", [self.fuzzer.long_line(LIMIT + 1)], True),
            ("last line of exactly 64 KiB, no newline", [ok, self.fuzzer.long_line(LIMIT)], False),
            ("last line of 64 KiB + 1, no newline", [ok, self.fuzzer.long_line(LIMIT + 1)], False),
            ("last line of exactly 64 KiB plus CR, no newline", [ok, self.fuzzer.long_line(LIMIT) + b"\r"], False),
            ("NUL bytes only", [b"\x00" * 10, b"\x00"], True),
            ("long line then short", [self.fuzzer.long_line(300000), ok, self.fuzzer.long_line(LIMIT + 1), ok], True),
        ]
        for name, lines, trailing in cases:
            for via_stdin in (False, True):
                self.exec_chunk(list(lines), "edge case '%s'" % name, via_stdin=via_stdin, trailing=trailing)

    # -------------------------------------------------------------- memory with long lines
    def memory(self):
        sizes = [10 * 1024 * 1024] + ([100 * 1024 * 1024] if not self.args.quick else [])
        self.mem_report = []
        for size in sizes:
            for via_stdin in (False, True):
                base_lines = [json.dumps({"command": "RegisterUser", "email": "m%d@x" % i}).encode() for i in range(200)]
                rss = []
                for with_long in (False, True):
                    store = self.work.sub("mem-%d-%d-%d.db" % (size, via_stdin, with_long))
                    lines = list(base_lines)
                    if with_long:
                        lines.insert(100, self.fuzzer.long_line(size))
                    data = b"\n".join(lines) + b"\n"
                    rc, out, err, maxrss, secs, to = run_exec(self.cli.cmd(store, "exec", "--json"), data, via_stdin,
                                                               self.work.sub("mem.jsonl"), self.args.timeout)
                    ctx = "memory test, %d MB line %s (%s)" % (size >> 20, "present" if with_long else "absent",
                                                              "stdin" if via_stdin else "file")
                    self.check_run(lines, True, rc, out, err, to, secs, ctx)
                    rss.append(maxrss)
                grow = rss[1] - rss[0]
                self.mem_report.append("%d MB line via %s: peak RSS %d KiB without, %d KiB with (+%d KiB)"
                                       % (size >> 20, "stdin" if via_stdin else "file", rss[0], rss[1], grow))
                if grow > 4096:
                    self.v.add("memory: a %d MB line (%s) raised peak RSS by %d KiB (%d -> %d): the line was held in memory"
                               % (size >> 20, "stdin" if via_stdin else "file", grow, rss[0], rss[1]))
        try:
            os.remove(self.work.sub("mem.jsonl"))
        except OSError:
            pass

    # -------------------------------------------------------------- flags
    SUBCOMMANDS = {
        "register-user": ["--email", "--full-name", "--fullname", "--id"],
        "rename-user": ["--user", "--full-name", "--fullname"],
        "login": ["--user"],
        "delete-user": ["--user"],
        "create-plan": ["--name", "--price-cents", "--seats", "--id"],
        "delete-plan": ["--plan"],
        "create-group": ["--name", "--id"],
        "delete-group": ["--group"],
        "subscribe": ["--user", "--plan", "--id"],
        "change-plan": ["--subscription", "--user", "--plan", "--to"],
        "cancel": ["--subscription", "--user", "--plan"],
        "join": ["--user", "--group", "--id"],
        "leave": ["--user", "--group"],
        "seen": ["--user", "--at"],
        "forget-seen": ["--user"],
        "show": ["--user", "--plan", "--group", "--limit", "--as-of"],
        "replay": ["--from", "--to", "--stream", "--type"],
        "stats": [],
        "projections": [],
        "verify": ["--json"],
        "rebuild": ["--progress"],
        "export": ["--output"],
        "import": [],
    }
    COMMON = ["--command-id", "--at", "--json"]

    def flag_value(self):
        r = self.rng
        k = r.randrange(12)
        if k == 0:
            return r.choice(["", " ", "-", "--", "-1", "-5", "0", "1", "abc", "=", "--json"])
        if k == 1:
            return r.choice(["99999999999999999999", "9223372036854775807", "9223372036854775808",
                             "-9223372036854775809", "1e3", " 12", "0x10", "NaN", "1.5", "+7", "١٢"])
        if k == 2:
            return os.fsdecode(bytes(r.randrange(1, 256) for _ in range(r.randint(1, 40))))
        if k == 3:
            return "x" * r.choice([1024, 1025, 100000])
        if k == 4:
            return r.choice(["a\nb", "tab\there", "é😀\u202e", "\u0000".replace("\u0000", "nul")])
        if k == 5:
            return r.choice(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00+02:00", "2026-02-30T00:00:00Z", "now", "0"])
        if k == 6:
            return r.choice(["6f9619ff-8b86-d011-b42d-00cf4fc964ff", "00000000-0000-0000-0000-000000000000",
                             "6F9619FF8B86D011B42D00CF4FC964FF", "{6f9619ff-8b86-d011-b42d-00cf4fc964ff}"])
        if k == 7:
            return r.choice(["user-6f9619ff-8b86-d011-b42d-00cf4fc964ff", "plan-x", "Subscribed", "Nope", "users"])
        if self.known and k < 11:
            return r.choice(self.known)
        return "fz%d@example.com" % r.randrange(1000)

    def fuzz_flags(self):
        # some known names and emails from the store, so that some runs succeed
        self.known = []
        try:
            for u in self.cli.show(self.store, "users")[:50]:
                self.known += [u["email"], u["id"]]
            for p in self.cli.show(self.store, "plans")[:20]:
                self.known += [p["name"], p["id"]]
            for g in self.cli.show(self.store, "groups")[:20]:
                self.known += [g["name"], g["id"]]
            self.known = [k for k in self.known if "\x00" not in k]
        except (common.HarnessError, ValueError, KeyError) as e:
            self.v.add("flags: reading the store for known names failed: %s" % e)
        stores = [self.store] * 8 + [self.work.sub("nowhere", "deeper"), "/etc/hostname", "", self.work.path]
        subcommands = sorted(self.SUBCOMMANDS)
        codes = self.stats["flag_codes"]
        for i in range(self.args.flag_runs):
            r = self.rng
            sub = r.choice(subcommands)
            flags = self.SUBCOMMANDS[sub] + ([] if sub in ("show", "replay", "stats", "projections", "verify", "rebuild", "export", "import") else self.COMMON)
            argv = [self.cli.bin, "--store", r.choice(stores), sub]
            if sub == "show":
                argv.append(r.choice(common.VIEWS + ["nope", "", "users"]))
            if sub == "rebuild":
                argv += r.sample(common.VIEWS + ["nope", ""], r.randint(0, 2))
            if sub == "import":
                # never a real export: into the fuzz store (not empty) or a missing one
                argv.append(r.choice(["/nonexistent/x.jsonl", "/dev/null", "-", self.work.sub("chunk.jsonl"), ""]))
            chosen = [f for f in flags if r.random() < 0.6]
            if r.random() < 0.1:
                chosen.append(r.choice(["--nope", "-x", "--", "--help", "--version", "--store"]))
            if r.random() < 0.1 and chosen:
                chosen.append(r.choice(chosen))
            r.shuffle(chosen)
            for f in chosen:
                if f in ("--json", "--help", "--version", "--", "--progress"):
                    argv.append(f)
                elif f == "--output":
                    argv += [f, self.work.sub("export-%d.jsonl" % r.randrange(3))]
                elif r.random() < 0.2:
                    argv.append(f + "=" + self.flag_value())
                else:
                    argv += [f, self.flag_value()]
            if r.random() < 0.05:
                argv.append(self.flag_value())   # a stray positional
            try:
                p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                                   stdin=subprocess.DEVNULL, cwd=self.work.path)
                rc = p.returncode
                err = p.stderr.decode("utf-8", "replace")
            except subprocess.TimeoutExpired:
                self.v.add("flags: hung: %r" % argv[1:])
                continue
            self.stats["flag_runs"] += 1
            codes[str(rc)] = codes.get(str(rc), 0) + 1
            if rc not in (0, 1, 64):
                self.v.add("flags: exit %s for %s; stderr: %s" % (common.signal_name(rc), " ".join(repr(a) for a in argv[1:])[:600],
                                                                 err.strip()[-300:]))
            elif "Fatal error" in err or "Stack dump" in err:
                self.v.add("flags: crash report on stderr for %r: %s" % (argv[1:], err[-300:]))
            if len(self.v) > 30:
                return

    # -------------------------------------------------------------- after
    def after(self):
        try:
            events = self.cli.replay(self.store)
            common.check_log(events, self.v, "fuzz store")
            self.events = len(events)
        except common.HarnessError as e:
            self.v.add("after fuzzing: %s" % e)
            self.events = -1
        if self.has_verify:
            ok, msg = self.cli.verify(self.store)
            self.v.check(ok, "after fuzzing: %s" % msg)

    def main(self):
        started = time.time()
        self.mem_report = []
        self.cli.run(self.store, "init")
        self.edge_cases()
        self.fuzz_lines()
        t_lines = time.time() - started
        if len(self.v) <= 30:
            self.memory()
        if len(self.v) <= 30:
            self.fuzz_flags()
        self.after()
        s = self.stats
        summary = [
            "exec: %d lines (%d non-blank, %d over 64 KiB) in %d runs (%d via stdin), %.1fs; results: %d ok, %d duplicate, %d rejected"
            % (s["lines"], s["nonblank"], s["long_lines"], s["runs"], s["stdin_runs"], t_lines, s["ok"], s["duplicate"], s["rejected"]),
            "rejections by rule: " + ", ".join("%s %d" % kv for kv in sorted(s["rules"].items(), key=lambda kv: -kv[1])),
            "peak RSS of any exec: %d KiB" % s["max_rss_kib"],
        ] + ["memory: " + m for m in self.mem_report] + [
            "flags: %d runs, exit codes %s" % (s["flag_runs"], json.dumps(s["flag_codes"], sort_keys=True)),
            "store afterwards: %d events%s" % (self.events, "" if self.has_verify else " (verify missing: SKIPPED)"),
        ]
        self.work.cleanup(bool(self.v))
        self.v.finish(self.args.seed, summary, started)


def main():
    p = common.base_args(__doc__.split("\n")[0])
    p.add_argument("--lines", type=int, default=None, help="fuzzed exec lines (default 20000 quick, 100000 full)")
    p.add_argument("--chunk", type=int, default=2000, help="lines per exec run")
    p.add_argument("--flag-runs", type=int, default=None, help="CLI flag runs (default 400 quick, 3000 full)")
    p.add_argument("--timeout", type=float, default=120, help="seconds before an exec run counts as hung")
    args = p.parse_args()
    common.seed_of(args)
    args.lines = args.lines or (20000 if args.quick else 100000)
    args.flag_runs = args.flag_runs if args.flag_runs is not None else (400 if args.quick else 3000)
    print("fuzz.py --seed %d%s" % (args.seed, " --quick" if args.quick else ""), flush=True)
    FuzzHarness(args).main()


if __name__ == "__main__":
    main()
