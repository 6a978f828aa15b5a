#!/usr/bin/env python3
"""Disk-full harness (issue 8): a store on a small filesystem, filled until a write fails.

The store lives on an 8 MiB tmpfs (`mount -t tmpfs -o size=8m`, needs root); where mounting is
not permitted it falls back to RLIMIT_FSIZE (ulimit -f) on the exec processes, with SIGXFSZ
ignored so that the write fails with EFBIG instead of killing the process.

Checks, while full: the failing exec exits 1 (no signal) with one clear line on stderr (no raw
LMDB code such as MDB_* or "LMDB error -30792"); every command acknowledged `ok` before is in
the log (read back while the disk is still full); the store still opens for reading (replay,
show, stats) and a retry fails the same clean way.
After space returns (tmpfs remounted bigger, or the limit lifted): the same file runs again,
acknowledged commands come back `duplicate`, the rest apply, the log is exactly the serial
run's applied commands in order, and `verify` passes (when it exists).

Then map growth: a fresh store (the CLI opens it with a 64 MiB map) takes a long exec of big
commands until the data is well past the initial map; exec must succeed throughout, the map
must have grown, and verify must pass.

Usage: disk.py [--seed N] [--quick] [--no-mount] [--bin PATH]
"""

import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

RAW_CODE = re.compile(r"MDB_[A-Z_]+|LMDB error|mdb_[a-z_]+|-3\d{4}\b|Fatal error|Stack dump|\.swift:\d+")


def pad(cmd, rng, size):
    """Makes a command's names big (same outcome): full names of about `size` bytes."""
    for key in ("full_name", "fullname"):
        if key in cmd and not ("full_name" in cmd and "fullname" in cmd):
            cmd[key] = (cmd[key] + " " + "x" * size)[:size]
    return cmd


class DiskHarness:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.cli = common.CLI(common.find_binary(args.bin))
        self.v = common.Violations("disk")
        self.work = common.Workdir(args, "disk")
        self.mnt = self.work.sub("mnt")
        os.makedirs(self.mnt)
        self.mounted = False
        self.fsize_limit = None
        self.info = []
        self.has_verify = self.cli.has("verify")
        if not self.has_verify:
            self.v.note("`verify` is not a subcommand of this subledger: the verify checks were SKIPPED")

    # ------------------------------------------------------------ the small filesystem
    def mount(self, size):
        if self.args.no_mount:
            return False
        opts = "size=%s" % size
        if self.mounted:
            argv = ["mount", "-o", "remount," + opts, self.mnt]
        else:
            argv = ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", self.mnt]
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode == 0:
            self.mounted = True
            return True
        if self.mounted:
            raise common.HarnessError("remount failed: %s" % p.stderr.decode("utf-8", "replace").strip())
        self.info.append("mount -t tmpfs not permitted (%s): using RLIMIT_FSIZE instead"
                         % p.stderr.decode("utf-8", "replace").strip())
        return False

    def umount(self):
        if self.mounted:
            subprocess.run(["umount", self.mnt], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.mounted = False

    def preexec(self):
        limit = self.fsize_limit

        def fn():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        return fn

    def run(self, store, *args, timeout=300):
        return subprocess.run(self.cli.cmd(store, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, preexec_fn=self.preexec())

    # ------------------------------------------------------------ checks
    def clear_error(self, p, context):
        """A failure: exit 1, exactly one line on stderr, no raw codes, about space."""
        err = p.stderr.decode("utf-8", "replace")
        lines = [l for l in err.splitlines() if l.strip()]
        if p.returncode != 1:
            self.v.add("%s: exited %s (expected 1); stderr: %s" % (context, common.signal_name(p.returncode), err.strip()[-400:]))
        if len(lines) != 1:
            self.v.add("%s: %d lines on stderr, expected one: %r" % (context, len(lines), err[-600:]))
        if RAW_CODE.search(err):
            self.v.add("%s: the error shows a raw LMDB code or a crash: %r" % (context, err.strip()[-400:]))
        if lines and not re.search(r"disk|space|full|too large|quota", lines[-1], re.I):
            self.v.add("%s: the error does not say the disk is full: %r" % (context, lines[-1]))
        return lines[-1] if lines else ""

    def log_prefix(self, store, context):
        events = self.cli.replay(store)
        by_cid = common.check_log(events, self.v, context)
        cids = [e.get("command_id") for e in events]
        if cids != self.expected_ok[:len(cids)]:
            self.v.add("%s: the log is not a prefix of the serial run's applied commands" % context)
        return by_cid

    def verify(self, store, context):
        ok, msg = self.cli.verify(store)
        if ok is not None:
            self.v.check(ok, "%s: %s" % (context, msg))

    # ------------------------------------------------------------ fill until full
    def disk_full(self, cycle):
        use_mount = self.mount("8m")
        store = os.path.join(self.mnt, "store-%d.db" % cycle)
        if not use_mount:
            self.fsize_limit = None
        p = self.run(store, "init")
        if p.returncode != 0:
            self.v.add("init on the small filesystem failed: %s" % p.stderr.decode("utf-8", "replace"))
            return
        if not use_mount:
            # data.mdb may grow by about 6 MiB more
            self.fsize_limit = os.path.getsize(os.path.join(store, "data.mdb")) + 6 * 1024 * 1024
        gen = common.Generator(random.Random(self.args.seed * 17 + 3 + 1000 * cycle), "d", "disk-%d-%d" % (self.args.seed, cycle))
        prng = random.Random(self.args.seed + 1000 * cycle)
        self.items = [gen.next() for _ in range(self.args.commands)]
        self.items = [(pad(c, prng, 1000), s, r) for c, s, r in self.items]
        self.expected_ok = [c["command_id"] for c, s, _ in self.items if s == "ok"]
        chunk = 400
        acked = {}
        failed_at = None
        error_line = ""
        runs = 0
        start, size = 0, 0
        while start + size < len(self.items):
            start += size
            # mostly small runs (one transaction each); some of several transactions, so that a
            # failing exec may have acknowledged its first batches before the disk filled
            size = prng.choice([chunk, chunk, chunk, 9000])
            part = self.items[start:start + size]
            path = self.work.sub("chunk-%d.jsonl" % start)   # outside the small filesystem
            common.write_commands(path, part)
            p = self.run(store, "exec", "--json", path)
            runs += 1
            results = common.parse_result_lines(p.stdout)
            for res, (cmd, status, _) in zip(results, part):
                if res.get("status") == "ok":
                    acked[cmd["command_id"]] = res["positions"][0]
                elif res.get("status") != status:
                    self.v.add("fill, chunk at %d: line %d came back %s, expected %s" % (start, res.get("line"), json.dumps(res), status))
            err = p.stderr.decode("utf-8", "replace")
            if p.returncode == 1 and "subledger: " not in err and len(results) == len(part):
                continue   # some commands rejected on purpose: fine
            if p.returncode == 0:
                continue
            failed_at = start
            error_line = self.clear_error(p, "exec on the full disk (chunk at line %d)" % (start + 1))
            break
        if failed_at is None:
            self.v.add("the small filesystem never filled: %d commands applied (raise --commands)" % len(acked))
            return
        self.info.append("cycle %d: filled after %d exec runs, %d commands acknowledged; the failing exec said: %s"
                         % (cycle + 1, runs, len(acked), error_line))
        # while still full: read back, and retry
        by_cid = self.log_prefix(store, "while the disk is full")
        lost = [c for c, pos in acked.items() if by_cid.get(c) != pos]
        self.v.check(not lost, "while the disk is full: %d acknowledged commands are not in the log at their position, e.g. %s"
                     % (len(lost), lost[:3]))
        for view in ("users", "subscriptions"):
            p = self.run(store, "show", view, "--json")
            if p.returncode != 0:
                self.v.add("while the disk is full: show %s exited %s: %s" % (view, common.signal_name(p.returncode),
                                                                              p.stderr.decode("utf-8", "replace").strip()))
        p = self.run(store, "stats", "--json")
        self.v.check(p.returncode == 0, "while the disk is full: stats exited %s: %s"
                     % (common.signal_name(p.returncode), p.stderr.decode("utf-8", "replace").strip()))
        path = self.work.sub("chunk-%d.jsonl" % failed_at)
        failed_size = size
        p = self.run(store, "exec", "--json", path)
        if p.returncode != 1 or "subledger: " in p.stderr.decode("utf-8", "replace"):
            self.clear_error(p, "exec retried on the full disk")
        for res in common.parse_result_lines(p.stdout):
            cmd = self.items[failed_at + res["line"] - 1][0]
            if res.get("status") == "ok":
                acked[cmd["command_id"]] = res["positions"][0]
        # space returns
        if use_mount:
            self.mount("64m")
        else:
            self.fsize_limit = None
        before = self.log_prefix(store, "after space returned")
        full_path = self.work.sub("all.jsonl")
        upto = min(len(self.items), failed_at + failed_size + 3 * chunk)
        common.write_commands(full_path, self.items[:upto])
        p = self.run(store, "exec", "--json", full_path)
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode not in (0, 1) or "subledger: " in err:
            self.v.add("exec after space returned exited %s: %s" % (common.signal_name(p.returncode), err.strip()[-400:]))
        results = common.parse_result_lines(p.stdout)
        self.v.check(len(results) == upto, "exec after space returned: %d result lines for %d commands" % (len(results), upto))
        dups = 0
        for res, (cmd, status, _) in zip(results, self.items[:upto]):
            cid = cmd["command_id"]
            if cid in before:
                if res.get("status") != "duplicate" or res.get("positions") != [before[cid]]:
                    self.v.add("after space returned: line %d (%s, applied at %d) came back %s"
                               % (res.get("line"), cid, before[cid], json.dumps(res)))
                dups += 1
            elif res.get("status") != status:
                self.v.add("after space returned: line %d (%s) came back %s, expected %s" % (res.get("line"), cid, json.dumps(res), status))
        after = self.log_prefix(store, "after the re-run")
        ran = set(cmd["command_id"] for cmd, _, _ in self.items[:upto])
        expected = [c for c in self.expected_ok if c in ran]
        self.v.check(len(after) == len(expected), "after the re-run the log holds %d commands, expected %d" % (len(after), len(expected)))
        lost = [c for c, pos in acked.items() if after.get(c) != pos]
        self.v.check(not lost, "after the re-run: %d acknowledged commands are not in the log at their position" % len(lost))
        self.verify(store, "after space returned")
        self.info.append("cycle %d: after space returned: %d duplicates, log of %d events, verify %s"
                         % (cycle + 1, dups, len(after), "run" if self.has_verify else "SKIPPED"))

    # ------------------------------------------------------------ map growth
    def map_growth(self):
        store = self.work.sub("growth.db")
        gen = common.Generator(random.Random(self.args.seed * 17 + 4), "g", "grow-%d" % self.args.seed, reject_rate=0.02)
        prng = random.Random(self.args.seed + 1)
        n = self.args.growth_commands
        items = []
        for _ in range(n):
            c, s, r = gen.next()
            if c["command"] == "RecordLogin" and s == "ok":
                c = {"command": "RenameUser", "user": c["user"], "full_name": "", "command_id": c["command_id"]}
            items.append((pad(c, prng, 1000), s, r))
        path = self.work.sub("growth.jsonl")
        common.write_commands(path, items)
        t0 = time.time()
        p = self.cli.run(store, "exec", "--json", path, timeout=1200)
        secs = time.time() - t0
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode not in (0, 1) or "subledger: " in err:
            self.v.add("map growth: exec of %d commands exited %s: %s" % (n, common.signal_name(p.returncode), err.strip()[-400:]))
        results = common.parse_result_lines(p.stdout)
        bad = sum(1 for res, (_, s, _) in zip(results, items) if res.get("status") != s)
        self.v.check(len(results) == n and bad == 0, "map growth: %d result lines for %d commands, %d unexpected outcomes"
                     % (len(results), n, bad))
        p = self.cli.run(store, "stats", "--json")
        stats = json.loads(p.stdout) if p.returncode == 0 else {}
        initial = 64 << 20
        if stats.get("map_used_bytes", 0) <= initial:
            self.v.add("map growth: only %s bytes of data, within the initial 64 MiB map: growth not exercised "
                       "(raise --growth-commands)" % stats.get("map_used_bytes"))
        else:
            self.v.check(stats.get("map_bytes", 0) >= stats.get("map_used_bytes", 0) > initial,
                         "map growth: map %s bytes, %s bytes used" % (stats.get("map_bytes"), stats.get("map_used_bytes")))
        self.verify(store, "map growth")
        self.info.append("map growth: %d commands in %.1fs, store %d MiB, map %d MiB (initial 64 MiB)"
                         % (n, secs, stats.get("store_bytes", 0) >> 20, stats.get("map_bytes", 0) >> 20))

    def main(self):
        started = time.time()
        try:
            for cycle in range(self.args.cycles):
                self.disk_full(cycle)
                if self.v and self.mounted:
                    subprocess.run(["cp", "-a", self.mnt, self.work.sub("full-filesystem-copy-%d" % cycle)])
                self.umount()
                self.fsize_limit = None
            self.map_growth()
        except common.HarnessError as e:
            self.v.add("harness could not go on: %s" % e)
        finally:
            self.umount()
        self.work.cleanup(bool(self.v))
        self.v.finish(self.args.seed, self.info, started)


def main():
    p = common.base_args(__doc__.split("\n")[0])
    p.add_argument("--no-mount", action="store_true", help="use RLIMIT_FSIZE even where tmpfs could be mounted")
    p.add_argument("--commands", type=int, default=30000, help="commands available to fill the disk")
    p.add_argument("--cycles", type=int, default=None, help="fill/free cycles, each on a fresh filesystem (default 1 quick, 4 full)")
    p.add_argument("--growth-commands", type=int, default=None,
                   help="commands of the map-growth exec (default 60000 quick, 120000 full)")
    args = p.parse_args()
    common.seed_of(args)
    args.growth_commands = args.growth_commands or (60000 if args.quick else 120000)
    args.cycles = args.cycles or (1 if args.quick else 4)
    print("disk.py --seed %d%s" % (args.seed, " --quick" if args.quick else ""), flush=True)
    DiskHarness(args).main()


if __name__ == "__main__":
    main()
