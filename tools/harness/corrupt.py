#!/usr/bin/env python3
"""Corrupt-store harness (issue 8): copies of a store with random bytes changed.

Builds one store (a few thousand realistic commands, with snapshots every 64 events), exports
its log, then for each trial copies the store, changes 1 to 8 random bytes of its data.mdb
(anywhere: meta pages, branch and leaf pages, the log, views, snapshots, free space) and runs
`verify` with a timeout. Each outcome is one of:

- detected: verify exits 1 with one line naming the fault;
- harmless: verify exits 0 and the copy's export equals the original's, so the change hit
  bytes that hold nothing (free pages, slack at the end of a page);
- liblmdb crashed: verify died of a signal (SIGSEGV/SIGBUS) inside liblmdb reading a
  damaged page, before it could report anything (LMDB trusts its pages; the README says so);
- a violation: verify hung (timeout), exited with another code, printed a raw LMDB code,
  or said ok while the log it exports differs from the original (a silent corruption).

Usage: corrupt.py [--seed N] [--quick] [--trials N] [--bin PATH]
"""

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

RAW_CODE = re.compile(r"MDB_[A-Z_]+|LMDB error|mdb_[a-z_]+|-3\d{4}\b|Fatal error|Stack dump|\.swift:\d+")
VERIFY_TIMEOUT = 60


class CorruptHarness:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.cli = common.CLI(common.find_binary(args.bin))
        self.v = common.Violations("corrupt")
        self.work = common.Workdir(args, "corrupt")
        self.outcomes = {"detected": 0, "harmless": 0, "liblmdb crashed": 0}
        self.faults = {}

    def build(self):
        store = self.work.sub("original.db")
        p = self.cli.run(store, "init", "--snapshot-interval", "64")
        if p.returncode != 0:
            raise common.HarnessError("init failed: %s" % p.stderr.decode("utf-8", "replace"))
        gen = common.Generator(random.Random(self.rng.getrandbits(32)), "c")
        items = [gen.next() for _ in range(self.args.commands)]
        path = self.work.sub("commands.jsonl")
        common.write_commands(path, items)
        p = self.cli.run(store, "exec", path, timeout=600)
        if p.returncode not in (0, 1):
            raise common.HarnessError("exec exited %s" % common.signal_name(p.returncode))
        p = self.cli.run(store, "verify")
        if p.returncode != 0:
            raise common.HarnessError("the original store does not verify: %s" % p.stderr.decode("utf-8", "replace"))
        self.export = self.cli.run(store, "export").stdout
        self.size = os.path.getsize(os.path.join(store, "data.mdb"))
        return store

    def trial(self, original, n):
        copy = self.work.sub("copy.db")
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(original, copy)
        data = os.path.join(copy, "data.mdb")
        changes = []
        with open(data, "r+b") as f:
            for _ in range(self.rng.randint(1, 8)):
                offset = self.rng.randrange(self.size)
                f.seek(offset)
                old = f.read(1)[0]
                new = old ^ self.rng.randint(1, 255)
                f.seek(offset)
                f.write(bytes([new]))
                changes.append("%d:%02x->%02x" % (offset, old, new))
        context = "trial %d (bytes %s)" % (n, ", ".join(changes))
        try:
            p = self.cli.run(copy, "verify", timeout=VERIFY_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.v.add("%s: verify hung (no answer in %ds)" % (context, VERIFY_TIMEOUT))
            return
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode < 0:
            if -p.returncode in (signal.SIGSEGV, signal.SIGBUS):
                self.outcomes["liblmdb crashed"] += 1
            else:
                self.v.add("%s: verify died of %s: %s" % (context, common.signal_name(p.returncode), err.strip()[-300:]))
            return
        if RAW_CODE.search(err):
            self.v.add("%s: verify showed a raw LMDB code or a crash: %r" % (context, err.strip()[-300:]))
        if p.returncode == 1:
            lines = [l for l in err.splitlines() if l.strip()]
            self.v.check(len(lines) == 1, "%s: verify printed %d lines on stderr: %r" % (context, len(lines), err[-400:]))
            self.outcomes["detected"] += 1
            m = re.search(r"fault: (?:position \d+: )?([^:]+):", lines[-1] if lines else "")
            key = m.group(1) if m else "?"
            self.faults[key] = self.faults.get(key, 0) + 1
        elif p.returncode == 0:
            exported = self.cli.run(copy, "export", timeout=VERIFY_TIMEOUT)
            if exported.returncode == 0 and exported.stdout == self.export:
                self.outcomes["harmless"] += 1
            else:
                self.v.add("%s: verify said ok but the log no longer exports as before (export exited %s)"
                           % (context, common.signal_name(exported.returncode)))
        else:
            self.v.add("%s: verify exited %s: %s" % (context, common.signal_name(p.returncode), err.strip()[-300:]))

    def main(self):
        started = time.time()
        info = []
        try:
            original = self.build()
            info.append("store: %d commands, data.mdb %d KiB, snapshots every 64 events" % (self.args.commands, self.size // 1024))
            for n in range(1, self.args.trials + 1):
                self.trial(original, n)
                if len(self.v) > 30:
                    break
        except common.HarnessError as e:
            self.v.add("harness could not go on: %s" % e)
        info.append("trials: %d; outcomes: %s" % (sum(self.outcomes.values()), ", ".join("%s %d" % kv for kv in self.outcomes.items())))
        info.append("faults by area: %s"
                    % ", ".join("%s %d" % kv for kv in sorted(self.faults.items(), key=lambda kv: -kv[1])))
        self.work.cleanup(bool(self.v))
        self.v.finish(self.args.seed, info, started)


def main():
    p = common.base_args(__doc__.split("\n")[0])
    p.add_argument("--trials", type=int, default=None, help="corrupted copies to verify (default 100 quick, 1000 full)")
    p.add_argument("--commands", type=int, default=3000, help="commands in the store")
    args = p.parse_args()
    common.seed_of(args)
    args.trials = args.trials or (100 if args.quick else 1000)
    print("corrupt.py --seed %d%s" % (args.seed, " --quick" if args.quick else ""), flush=True)
    CorruptHarness(args).main()


if __name__ == "__main__":
    main()
