#!/usr/bin/env python3
"""Concurrency harness (issue 8): several writer processes on one store at once, with readers.

Writers (>= 4) run `exec --json` on one store at the same time, each its own stream of
commands (disjoint command ids) interleaved with shared streams that other writers run too
(overlapping command ids: the same command, with the same id, in several writers). Some
writers give a file, others feed stdin in small bursts (many small transactions), and each
writer's stream is split over several exec processes run one after another.
Meanwhile readers run `show users --json` and `show subscriptions --json` in a loop,
`replay --follow --json` (killed at the end), `stats --json`, and `verify` when present;
and `rebuild` runs in a loop when present (blue/green: writers must not notice).

Checks: every result line is there, with its line number; own commands get the serial
outcome; a shared command is `ok` in exactly one writer and `duplicate` (same position) in the
others, or `rejected` everywhere; the final log holds exactly the expected command ids once
each, positions gapless from 1, each writer's commands in its order; `replay --follow` saw a
gapless prefix of the final log, identical event for event; the users view never loses a row;
verify passes (during and after).

Usage: concurrency.py [--seed N] [--quick] [--writers N] [--bin PATH]
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def interleave(rng, streams):
    """Merges lists keeping each one's order, at random."""
    idx = [0] * len(streams)
    out = []
    remaining = sum(len(s) for s in streams)
    while remaining:
        k = rng.randrange(remaining)
        for i, s in enumerate(streams):
            left = len(s) - idx[i]
            if k < left:
                out.append(s[idx[i]])
                idx[i] += 1
                break
            k -= left
        remaining -= 1
    return out


class Writer:
    def __init__(self, h, number, items, mode, parts):
        self.h = h
        self.number = number
        self.items = items          # (cmd, status, rule, shared?)
        self.mode = mode            # "file" or "stdin"
        self.parts = parts
        self.results = []           # one list per part
        self.errors = []
        self.rng = random.Random(h.args.seed * 1000 + number)

    def run(self):
        try:
            n = len(self.items)
            cuts = sorted(self.rng.sample(range(1, n), self.parts - 1)) if self.parts > 1 and n > self.parts else []
            bounds = [0] + cuts + [n]
            for a, b in zip(bounds, bounds[1:]):
                chunk = self.items[a:b]
                data = "".join(common.dumps(c) + "\n" for c, _, _, _ in chunk).encode("utf-8")
                if self.mode == "file":
                    path = self.h.work.sub("writer-%d-%d.jsonl" % (self.number, a))
                    with open(path, "wb") as f:
                        f.write(data)
                    p = subprocess.run(self.h.cli.cmd(self.h.store, "exec", "--json", path), stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, timeout=600)
                    out, err, rc = p.stdout, p.stderr, p.returncode
                else:
                    out, err, rc = self.feed(data)
                self.results.append((a, chunk, out, err, rc))
        except Exception as e:  # noqa: BLE001
            self.errors.append("writer %d: %r" % (self.number, e))

    def feed(self, data):
        """Writes stdin in small random bursts, with pauses, while reading stdout."""
        proc = subprocess.Popen(self.h.cli.cmd(self.h.store, "exec", "--json"), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        outs, errs = [], []
        t1 = threading.Thread(target=lambda: outs.append(proc.stdout.read()))
        t2 = threading.Thread(target=lambda: errs.append(proc.stderr.read()))
        t1.start()
        t2.start()
        lines = data.split(b"\n")
        i = 0
        while i < len(lines):
            k = self.rng.choice([1, 1, 2, 3, 5, 10, 50])
            burst = b"\n".join(lines[i:i + k])
            i += k
            if i < len(lines):
                burst += b"\n"
            proc.stdin.write(burst)
            proc.stdin.flush()
            if self.rng.random() < self.h.args.pause:
                time.sleep(self.rng.uniform(0.0005, 0.003))
        proc.stdin.close()
        rc = proc.wait(timeout=600)
        t1.join()
        t2.join()
        return outs[0], errs[0], rc


class ConcurrencyHarness:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.cli = common.CLI(common.find_binary(args.bin))
        self.v = common.Violations("concurrency")
        self.work = common.Workdir(args, "concurrency")
        self.store = self.work.sub("store.db")
        self.stop = threading.Event()
        self.reader_stats = {"show": 0, "verify": 0, "stats": 0, "follow_events": 0, "rebuild": 0}
        self.has_verify = self.cli.has("verify")
        if not self.has_verify:
            self.v.note("`verify` is not a subcommand of this subledger: the verify checks were SKIPPED")

    def build_writers(self):
        a = self.args
        seed = a.seed
        def stream(k, ns, n, shared):
            gen = common.Generator(random.Random(seed * 31 + k), ns, "cc-%d-%s" % (seed, ns))
            return [(c, s, r, shared) for c, s, r in (gen.next() for _ in range(n))]

        shared_a = stream(1, "sa", a.shared, True)
        shared_b = stream(2, "sb", a.shared, True)
        self.shared_expected = {c["command_id"]: s for c, s, _, _ in shared_a + shared_b}
        self.writers = []
        for w in range(a.writers):
            own = stream(100 + w, "w%d" % w, a.own, False)
            streams = [own]
            # writers 0..W-2 run shared stream A, writers 1..W-1 shared stream B: each shared
            # command is in several writers, and writer pairs overlap in different ways.
            if w < a.writers - 1:
                streams.append(shared_a)
            if w > 0:
                streams.append(shared_b)
            items = interleave(random.Random(seed * 31 + 200 + w), streams)
            mode = "stdin" if w % 2 == 1 else "file"
            self.writers.append(Writer(self, w, items, mode, parts=a.parts))
        self.expected_ok = set(c["command_id"] for w in self.writers for c, s, _, _ in w.items if s == "ok")

    # ------------------------------------------------------------- readers
    def show_loop(self):
        last_ids = set()
        while not self.stop.is_set():
            for view in ("users", "subscriptions"):
                p = self.cli.run(self.store, "show", view, "--json", timeout=300)
                self.reader_stats["show"] += 1
                if p.returncode != 0:
                    self.v.add("reader: show %s --json exited %s: %s" % (view, common.signal_name(p.returncode),
                                                                         p.stderr.decode("utf-8", "replace")[-300:]))
                    continue
                try:
                    rows = json.loads(p.stdout)
                except ValueError as e:
                    self.v.add("reader: show %s --json printed invalid JSON: %s" % (view, e))
                    continue
                if view == "users":
                    ids = set(r.get("id") for r in rows)
                    if not last_ids <= ids:
                        self.v.add("reader: show users lost %d rows between two reads (no user is ever deleted)"
                                   % len(last_ids - ids))
                    last_ids = ids

    def verify_loop(self):
        while not self.stop.is_set():
            if self.has_verify:
                ok, msg = self.cli.verify(self.store)
                self.reader_stats["verify"] += 1
                if not ok:
                    self.v.add("reader: verify during the writes: %s" % msg)
            p = self.cli.run(self.store, "stats", "--json")
            self.reader_stats["stats"] += 1
            if p.returncode != 0:
                self.v.add("reader: stats --json exited %s: %s" % (p.returncode, p.stderr.decode("utf-8", "replace")[-300:]))
            else:
                try:
                    json.loads(p.stdout)
                except ValueError as e:
                    self.v.add("reader: stats --json printed invalid JSON: %s" % e)
            time.sleep(0.05)

    def rebuild_loop(self):
        """`rebuild` while the writers write: it must succeed, and the views stay right (verify)."""
        while not self.stop.is_set():
            p = self.cli.run(self.store, "rebuild", timeout=600)
            self.reader_stats["rebuild"] += 1
            if p.returncode != 0:
                self.v.add("rebuild during the writes exited %s: %s" % (common.signal_name(p.returncode),
                                                                       p.stderr.decode("utf-8", "replace").strip()[-300:]))
            time.sleep(0.2)

    def start_follow(self):
        self.follow_out = open(self.work.sub("follow.jsonl"), "wb")
        self.follow_err = open(self.work.sub("follow.err"), "wb")
        self.follow = subprocess.Popen(self.cli.cmd(self.store, "replay", "--follow", "--json"),
                                       stdout=self.follow_out, stderr=self.follow_err)

    def stop_follow(self, final_count):
        deadline = time.time() + 60
        path = self.work.sub("follow.jsonl")
        while time.time() < deadline and self.follow.poll() is None:
            with open(path, "rb") as f:
                n = f.read().count(b"\n")
            if n >= final_count:
                break
            time.sleep(0.1)
        if self.follow.poll() is not None:
            self.v.add("replay --follow ended by itself with %s: %s" % (
                common.signal_name(self.follow.returncode),
                open(self.work.sub("follow.err"), "rb").read().decode("utf-8", "replace")[-300:]))
        else:
            self.follow.send_signal(signal.SIGKILL)
            self.follow.wait()
        self.follow_out.close()
        self.follow_err.close()
        data = open(path, "rb").read()
        cut = data.rfind(b"\n")
        events = [json.loads(l) for l in data[:cut].split(b"\n") if l.strip()] if cut >= 0 else []
        return events

    # ------------------------------------------------------------- checks
    def check(self, final):
        by_cid = common.check_log(final, self.v, "final log")
        cids = set(e.get("command_id") for e in final)
        missing = self.expected_ok - cids
        extra = cids - self.expected_ok
        self.v.check(not missing, "final log misses %d expected commands, e.g. %s" % (len(missing), sorted(missing)[:3]))
        self.v.check(not extra, "final log holds %d unexpected commands, e.g. %s" % (len(extra), sorted(extra)[:3]))
        self.v.check(len(final) == len(self.expected_ok), "final log holds %d events, expected %d"
                     % (len(final), len(self.expected_ok)))
        shared_ok = {}   # cid -> (writer, position)
        shared_dup = {}  # cid -> list of positions reported as duplicate
        positions_seen = {}
        for w in self.writers:
            for e in w.errors:
                self.v.add(e)
            last_pos = 0
            for a, chunk, out, err, rc in w.results:
                ctx = "writer %d (%s) lines %d..%d" % (w.number, w.mode, a + 1, a + len(chunk))
                errtext = err.decode("utf-8", "replace")
                if rc not in (0, 1) or "subledger: " in errtext:
                    self.v.add("%s: exec exited %s: %s" % (ctx, common.signal_name(rc), errtext.strip()[-300:]))
                try:
                    results = common.parse_result_lines(out)
                except ValueError as e:
                    self.v.add("%s: invalid result line: %s" % (ctx, e))
                    continue
                if len(results) != len(chunk):
                    self.v.add("%s: %d result lines for %d commands" % (ctx, len(results), len(chunk)))
                for i, (res, (cmd, status, rule, shared)) in enumerate(zip(results, chunk)):
                    cid = cmd["command_id"]
                    if res.get("line") != i + 1:
                        self.v.add("%s: result %d has line %r" % (ctx, i + 1, res.get("line")))
                        break
                    got = res.get("status")
                    pos = res.get("positions")
                    if status == "rejected":
                        if got != "rejected" or (rule and not str(res.get("error", "")).startswith(rule + ":")):
                            self.v.add("%s: line %d (%s) expected rejected (%s), got %s" % (ctx, i + 1, cid, rule, json.dumps(res)))
                        continue
                    if got == "ok" or (shared and got == "duplicate"):
                        if not (isinstance(pos, list) and len(pos) == 1):
                            self.v.add("%s: line %d (%s) %s with positions %r" % (ctx, i + 1, cid, got, pos))
                            continue
                        p = pos[0]
                        if by_cid.get(cid) != p:
                            self.v.add("%s: line %d (%s) reported %s at %d, the log has it at %r"
                                       % (ctx, i + 1, cid, got, p, by_cid.get(cid)))
                        if got == "ok":
                            if p in positions_seen:
                                self.v.add("%s: position %d acknowledged ok twice (%s and %s)" % (ctx, p, positions_seen[p], cid))
                            positions_seen[p] = cid
                            if shared:
                                if cid in shared_ok:
                                    self.v.add("%s: shared command %s applied twice (writers %d and %d)"
                                               % (ctx, cid, shared_ok[cid][0], w.number))
                                shared_ok[cid] = (w.number, p)
                        else:
                            shared_dup.setdefault(cid, []).append(p)
                        if not shared:
                            if p <= last_pos:
                                self.v.add("%s: own command %s at position %d, before the writer's previous one at %d"
                                           % (ctx, cid, p, last_pos))
                            last_pos = p
                    else:
                        self.v.add("%s: line %d (%s) expected %s, got %s" % (ctx, i + 1, cid,
                                                                          "ok or duplicate" if shared else "ok", json.dumps(res)))
        for cid, s in self.shared_expected.items():
            if s == "ok" and cid not in shared_ok:
                self.v.add("shared command %s was ok in no writer" % cid)
        for cid, ps in shared_dup.items():
            if cid in shared_ok and any(p != shared_ok[cid][1] for p in ps):
                self.v.add("shared command %s: duplicate positions %s differ from its ok position %d" % (cid, ps, shared_ok[cid][1]))
        self.v.check(len(positions_seen) == len(final), "%d ok acknowledgements for %d events in the log"
                     % (len(positions_seen), len(final)))
        self.stats_shared = (len(shared_ok), sum(len(p) for p in shared_dup.values()))

    def main(self):
        started = time.time()
        self.build_writers()
        p = self.cli.run(self.store, "init")
        if p.returncode != 0:
            self.v.add("init failed: %s" % p.stderr.decode("utf-8", "replace"))
        self.start_follow()
        readers = [threading.Thread(target=self.show_loop), threading.Thread(target=self.verify_loop)]
        if self.cli.has("rebuild"):
            readers.append(threading.Thread(target=self.rebuild_loop))
        else:
            self.v.note("`rebuild` is not a subcommand: no rebuild during the writes")
        for r in readers:
            r.start()
        threads = [threading.Thread(target=w.run) for w in self.writers]
        t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        write_seconds = time.time() - t0
        self.stop.set()
        for r in readers:
            r.join()
        final = []
        try:
            final = self.cli.replay(self.store)
        except common.HarnessError as e:
            self.v.add(str(e))
        followed = self.stop_follow(len(final))
        self.reader_stats["follow_events"] = len(followed)
        for i, e in enumerate(followed):
            if e.get("position") != i + 1:
                self.v.add("replay --follow: event %d has position %r: not a gapless prefix" % (i + 1, e.get("position")))
                break
            if i >= len(final) or e != final[i]:
                self.v.add("replay --follow: event at position %d differs from the final log's" % (i + 1))
                break
        if len(followed) < len(final):
            self.v.add("replay --follow saw %d of %d events within 60 s after the writers ended" % (len(followed), len(final)))
        self.stats_shared = (0, 0)
        self.check(final)
        if self.has_verify:
            ok, msg = self.cli.verify(self.store)
            self.v.check(ok, "final verify: %s" % msg)
        summary = [
            "%d writers (%s), %d commands each incl. shared, %d exec processes; writes took %.1fs"
            % (len(self.writers), ",".join(w.mode for w in self.writers), len(self.writers[0].items),
               sum(len(w.results) for w in self.writers), write_seconds),
            "final log: %d events, expected %d; shared commands: %d ok once, %d duplicate answers"
            % (len(final), len(self.expected_ok), self.stats_shared[0], self.stats_shared[1]),
            "readers: %d show, %d stats, %d verify, %d rebuild runs%s; replay --follow saw %d events"
            % (self.reader_stats["show"], self.reader_stats["stats"], self.reader_stats["verify"], self.reader_stats["rebuild"],
               "" if self.has_verify else " (verify missing: SKIPPED)", self.reader_stats["follow_events"]),
        ]
        self.work.cleanup(bool(self.v))
        self.v.finish(self.args.seed, summary, started)


def main():
    p = common.base_args(__doc__.split("\n")[0])
    p.add_argument("--writers", type=int, default=None, help="writer processes at once (default 4 quick, 6 full)")
    p.add_argument("--own", type=int, default=None, help="own commands per writer (default 12000 quick, 80000 full)")
    p.add_argument("--shared", type=int, default=None, help="commands per shared stream (default 4000 quick, 25000 full)")
    p.add_argument("--pause", type=float, default=0.3, help="chance of a short pause after each stdin burst")
    p.add_argument("--parts", type=int, default=None, help="exec processes per writer, one after another (default 4 quick, 10 full)")
    args = p.parse_args()
    common.seed_of(args)
    q = args.quick
    args.writers = args.writers or (4 if q else 6)
    if args.writers < 2:
        sys.exit("--writers must be 2 or more")
    args.own = args.own or (12000 if q else 80000)
    args.shared = args.shared or (4000 if q else 25000)
    args.parts = args.parts or (4 if q else 10)
    print("concurrency.py --seed %d%s" % (args.seed, " --quick" if q else ""), flush=True)
    ConcurrencyHarness(args).main()


if __name__ == "__main__":
    main()
