#!/usr/bin/env python3
"""Crash harness (issue 8): SIGKILL `subledger exec --json FILE` at random (seeded) instants.

After each kill:
  * every command whose "ok" line the dead process printed is in the log, at that position;
  * positions are gapless from 1, each command_id is in the log once, and the log is exactly a
    prefix of the commands a serial run applies, in file order (nothing rejected, nothing skipped);
  * `subledger verify` exits 0 (skipped, and said so, when verify is not a subcommand);
then the whole file is run again: every command already in the log must come back
`duplicate` with its position, and the rest apply (or are rejected) as in a serial run.

Once `rebuild`, `export` and `import` exist, it also kills `rebuild` (views must verify and
equal the views before) and `import` into an empty store (the store must be empty or
complete, never partial, and verify).

Usage: crash.py [--seed N] [--quick] [--kills N] [--commands N] [--bin PATH]
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


class Killed:
    def __init__(self, rc, out, err, killed, elapsed):
        self.rc, self.out, self.err, self.killed, self.elapsed = rc, out, err, killed, elapsed


def feed_in_bursts(proc, lines, rng):
    """Writes lines to proc's stdin in bursts of random size (so that exec closes many small
    batches, each a synced transaction), until done or the process died."""
    try:
        i = 0
        while i < len(lines):
            k = rng.choice([1, 2, 5, 10, 50])
            proc.stdin.write(b"".join(lines[i:i + k]))
            proc.stdin.flush()
            i += k
            time.sleep(0.001)
        proc.stdin.close()
    except (BrokenPipeError, ValueError, OSError):
        pass


def run_and_kill(argv, delay, errfile, stdin_lines=None, rng=None):
    """Starts argv, SIGKILLs it after `delay` seconds (None: never). Returns what it printed.
    With stdin_lines, feeds them through stdin in bursts instead of naming a file."""
    with open(errfile, "wb") as err:
        t0 = time.time()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err,
                                stdin=subprocess.PIPE if stdin_lines is not None else subprocess.DEVNULL)
        chunks = []
        reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()))
        reader.start()
        feeder = None
        if stdin_lines is not None:
            feeder = threading.Thread(target=feed_in_bursts, args=(proc, stdin_lines, rng))
            feeder.start()
        killed = False
        if delay is not None:
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                killed = True
        try:
            rc = proc.wait(timeout=600)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
            raise common.HarnessError("%s did not finish in 600 s" % argv)
        reader.join()
        if feeder is not None:
            feeder.join()
        elapsed = time.time() - t0
    with open(errfile, "rb") as f:
        errtext = f.read().decode("utf-8", "replace")
    return Killed(rc, b"".join(chunks), errtext, killed, elapsed)


def complete_lines(data):
    """Result lines the process finished printing (a torn last line is not an acknowledgement)."""
    cut = data.rfind(b"\n")
    if cut < 0:
        return []
    out = []
    for raw in data[:cut].split(b"\n"):
        if raw.strip():
            out.append(json.loads(raw))
    return out


class CrashHarness:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.cli = common.CLI(common.find_binary(args.bin))
        self.v = common.Violations("crash")
        self.work = common.Workdir(args, "crash")
        self.stats = {"exec_kills": 0, "exec_completed_runs": 0, "rounds": 0, "acked_ok": 0, "acked_dup": 0,
                      "rebuild_kills": 0, "import_kills": 0, "import_outcomes": {}, "verify_runs": 0,
                      "kill_during_open": 0, "stdin_runs": 0}
        self.has_verify = self.cli.has("verify")
        if not self.has_verify:
            self.v.note("`verify` is not a subcommand of this subledger: the verify checks were SKIPPED")

    # ---------------------------------------------------------------- setup
    def make_file(self):
        gen = common.Generator(random.Random(self.args.seed * 7919 + 1), "c", cid_prefix="crash-%d" % self.args.seed)
        self.items = [gen.next() for _ in range(self.args.commands)]
        self.path = self.work.sub("commands.jsonl")
        common.write_commands(self.path, self.items)
        self.cids = [c["command_id"] for c, _, _ in self.items]
        self.expected_ok = [c["command_id"] for c, s, _ in self.items if s == "ok"]
        self.ok_index = {cid: i for i, cid in enumerate(self.expected_ok)}

    def calibrate(self):
        """A serial run without kills: checks the generator's expectations against the product
        and measures how long one run takes."""
        store = self.work.sub("reference.db")
        r = run_and_kill(self.cli.cmd(store, "exec", "--json", self.path), None, self.work.sub("ref.err"))
        self.run_seconds = max(r.elapsed, 0.05)
        results = complete_lines(r.out)
        self.v.check(r.rc == 1, "reference run: exec exited %s, expected 1 (the file has rejected lines); stderr: %s"
                     % (common.signal_name(r.rc), r.err.strip()[-300:]))
        self.v.check(len(results) == len(self.items), "reference run: %d result lines for %d commands"
                     % (len(results), len(self.items)))
        mismatches = 0
        for res, (cmd, status, rule) in zip(results, self.items):
            if res.get("status") != status or (rule and not str(res.get("error", "")).startswith(rule + ":")):
                mismatches += 1
                if mismatches <= 5:
                    self.v.add("reference run, line %d: expected %s%s, got %s; command %s" % (
                        res.get("line"), status, " (%s)" % rule if rule else "", json.dumps(res), common.dumps(cmd)))
        events = self.cli.replay(store)
        by_cid = common.check_log(events, self.v, "reference run")
        self.v.check([e.get("command_id") for e in events] == self.expected_ok,
                     "reference run: the log is not exactly the expected ok commands in file order")
        self.check_verify(store, "reference run")
        self.reference_store = store
        self.reference_views = self.views(store)
        # killed runs may feed the file through stdin, slowly, in small bursts: exec then closes
        # a batch whenever it has caught up, so it commits (and syncs) many small transactions
        with open(self.path, "rb") as f:
            self.stdin_lines = f.readlines()
        return by_cid

    def check_verify(self, store, context):
        ok, msg = self.cli.verify(store)
        if ok is None:
            return
        self.stats["verify_runs"] += 1
        self.v.check(ok, "%s: %s" % (context, msg))

    def views(self, store):
        out = {}
        for view in common.VIEWS:
            try:
                out[view] = self.cli.show(store, view)
            except common.HarnessError as e:
                self.v.add("show %s failed: %s" % (view, e))
        return out

    def delay(self, seconds):
        r = self.rng.random()
        if r < 0.12:
            return self.rng.uniform(0, 0.04)          # while opening or creating the store
        return self.rng.uniform(0, seconds * 1.15)

    # ---------------------------------------------------------------- exec kills
    def log_state(self, store, context, must_exist):
        """Reads the log back and checks it; returns {command_id: position}."""
        if not os.path.exists(os.path.join(store, "data.mdb")) and not must_exist:
            return {}
        try:
            events = self.cli.replay(store)
        except common.HarnessError as e:
            self.v.add("%s: %s" % (context, e))
            return None
        by_cid = common.check_log(events, self.v, context)
        cids = [e.get("command_id") for e in events]
        if cids != self.expected_ok[:len(cids)]:
            first = next((i for i, (a, b) in enumerate(zip(cids, self.expected_ok)) if a != b), len(self.expected_ok))
            self.v.add("%s: the log is not a prefix of the serial run's applied commands: at position %d it holds "
                       "%r, expected %r" % (context, first + 1, cids[first] if first < len(cids) else None,
                                            self.expected_ok[first] if first < len(self.expected_ok) else None))
        return by_cid

    def check_results(self, results, before, context, complete):
        """Checks the result lines of one (possibly killed) run against the log before it."""
        acked = {}
        for i, res in enumerate(results):
            line = res.get("line")
            if line != i + 1:
                self.v.add("%s: result %d has line %r, expected %d" % (context, i + 1, line, i + 1))
                return acked
            cmd, status, rule = self.items[line - 1]
            cid = cmd["command_id"]
            got = res.get("status")
            if cid in before:
                if got != "duplicate" or res.get("positions") != [before[cid]]:
                    self.v.add("%s: line %d (%s, already applied at %d) came back %s, expected duplicate [%d]"
                               % (context, line, cid, before[cid], json.dumps(res), before[cid]))
                else:
                    self.stats["acked_dup"] += 1
            elif got != status:
                self.v.add("%s: line %d (%s) came back %s, expected %s" % (context, line, cid, json.dumps(res), status))
            elif got == "ok":
                pos = res.get("positions")
                if not (isinstance(pos, list) and len(pos) == 1):
                    self.v.add("%s: line %d ok with positions %r" % (context, line, pos))
                else:
                    acked[cid] = pos[0]
                    self.stats["acked_ok"] += 1
        if complete and len(results) != len(self.items):
            self.v.add("%s: the run ended normally after %d result lines for %d commands"
                       % (context, len(results), len(self.items)))
        return acked

    def exec_round(self, round_no, kills_left):
        """One store, killed until a run completes. Returns the number of kills made."""
        store = self.work.sub("round-%d.db" % round_no)
        if round_no % 2 == 0:
            p = self.cli.run(store, "init")
            if p.returncode != 0:
                self.v.add("init failed: %s" % p.stderr.decode("utf-8", "replace"))
                return 0
        before = {}
        kills = 0
        run_no = 0
        while True:
            run_no += 1
            context = "round %d run %d" % (round_no, run_no)
            via_stdin = kills < kills_left and self.rng.random() < 0.35
            delay = (self.delay(2.0) if via_stdin else self.delay(self.run_seconds)) if kills < kills_left else None
            if via_stdin:
                self.stats["stdin_runs"] += 1
                r = run_and_kill(self.cli.cmd(store, "exec", "--json"), delay, self.work.sub("exec.err"),
                                 stdin_lines=self.stdin_lines, rng=random.Random(self.rng.getrandbits(32)))
            else:
                r = run_and_kill(self.cli.cmd(store, "exec", "--json", self.path), delay, self.work.sub("exec.err"))
            try:
                results = complete_lines(r.out)
            except ValueError as e:
                self.v.add("%s: a result line is not JSON: %s" % (context, e))
                results = []
            if r.killed:
                kills += 1
                self.stats["exec_kills"] += 1
                if not results:
                    self.stats["kill_during_open"] += 1
                context += " (killed after %.3fs)" % r.elapsed
            else:
                if r.rc not in (0, 1) or "subledger: " in r.err:
                    self.v.add("%s: exec exited %s by itself; stderr: %s" % (context, common.signal_name(r.rc),
                                                                          r.err.strip()[-400:]))
            acked = self.check_results(results, before, context, complete=not r.killed and r.rc in (0, 1))
            after = self.log_state(store, context, must_exist=bool(results))
            if after is None:
                return kills
            for cid, pos in acked.items():
                if after.get(cid) != pos:
                    self.v.add("%s: %s was acknowledged ok at position %d but the log has it at %r"
                               % (context, cid, pos, after.get(cid)))
            for cid, pos in before.items():
                if after.get(cid) != pos:
                    self.v.add("%s: %s was in the log at %d before the run, now at %r" % (context, cid, pos, after.get(cid)))
            if os.path.exists(os.path.join(store, "data.mdb")):
                self.check_verify(store, context)
            before = after
            if not r.killed:
                self.stats["exec_completed_runs"] += 1
                if len(after) != len(self.expected_ok):
                    self.v.add("%s: after a complete run the log holds %d commands, expected %d"
                               % (context, len(after), len(self.expected_ok)))
                if getattr(self, "last_store", None) and not self.v:
                    shutil.rmtree(self.last_store, ignore_errors=True)   # keep the disk use bounded
                self.last_store = store
                return kills
            if len(self.v) > 30:
                return kills

    # ---------------------------------------------------------------- rebuild / import kills
    def rebuild_kills(self, n):
        if not self.cli.has("rebuild"):
            self.v.note("`rebuild` is not a subcommand: the kill-during-rebuild checks were SKIPPED")
            return
        store = self.last_store
        views_before = self.views(store)
        events_before = self.cli.replay(store)
        r = run_and_kill(self.cli.cmd(store, "rebuild"), None, self.work.sub("rebuild.err"))
        if r.rc != 0:
            self.v.add("rebuild (no kill) exited %s: %s" % (common.signal_name(r.rc), r.err.strip()[-300:]))
            return
        seconds = max(r.elapsed, 0.05)
        for i in range(n):
            delay = self.rng.uniform(0, seconds * 1.1)
            r = run_and_kill(self.cli.cmd(store, "rebuild"), delay, self.work.sub("rebuild.err"))
            context = "rebuild kill %d (after %.3fs, %s)" % (i + 1, r.elapsed, "killed" if r.killed else "finished")
            if r.killed:
                self.stats["rebuild_kills"] += 1
            elif r.rc != 0:
                self.v.add("%s: rebuild exited %s: %s" % (context, common.signal_name(r.rc), r.err.strip()[-300:]))
            self.check_verify(store, context)
            if self.cli.replay(store) != events_before:
                self.v.add("%s: the log changed" % context)
            views = self.views(store)
            for view in common.VIEWS:
                if views.get(view) != views_before.get(view):
                    self.v.add("%s: view %s differs from before the rebuild" % (context, view))
            if len(self.v) > 30:
                return
        # and one that completes after all those kills
        r = run_and_kill(self.cli.cmd(store, "rebuild"), None, self.work.sub("rebuild.err"))
        self.v.check(r.rc == 0, "rebuild after the kills exited %s: %s" % (common.signal_name(r.rc), r.err.strip()[-300:]))
        self.check_verify(store, "after the rebuild kills")

    def import_kills(self, n):
        if not (self.cli.has("import") and self.cli.has("export")):
            self.v.note("`import`/`export` are not subcommands: the kill-during-import checks were SKIPPED")
            return
        exported = self.work.sub("export.jsonl")
        p = self.cli.run(self.last_store, "export", "--output", exported)
        if p.returncode != 0:
            self.v.add("export exited %s: %s" % (p.returncode, p.stderr.decode("utf-8", "replace")[-300:]))
            return
        original = self.cli.replay(self.last_store)
        views_original = self.views(self.last_store)
        target = self.work.sub("import-probe.db")
        self.cli.run(target, "init")
        r = run_and_kill(self.cli.cmd(target, "import", exported), None, self.work.sub("import.err"))
        if r.rc != 0:
            self.v.add("import (no kill) exited %s: %s" % (common.signal_name(r.rc), r.err.strip()[-300:]))
            return
        seconds = max(r.elapsed, 0.05)
        outcomes = self.stats["import_outcomes"]
        for i in range(n):
            target = self.work.sub("import-%d.db" % i)
            self.cli.run(target, "init")
            delay = self.rng.uniform(0, seconds * 1.1)
            r = run_and_kill(self.cli.cmd(target, "import", exported), delay, self.work.sub("import.err"))
            context = "import kill %d (after %.3fs, %s)" % (i + 1, r.elapsed, "killed" if r.killed else "finished")
            if r.killed:
                self.stats["import_kills"] += 1
            elif r.rc != 0:
                self.v.add("%s: import exited %s: %s" % (context, common.signal_name(r.rc), r.err.strip()[-300:]))
            try:
                events = self.cli.replay(target)
            except common.HarnessError as e:
                self.v.add("%s: %s" % (context, e))
                continue
            if events == original:
                outcomes["complete"] = outcomes.get("complete", 0) + 1
                self.check_verify(target, context)
                if self.views(target) != views_original:
                    self.v.add("%s: the log is complete but the views differ from the exported store's" % context)
            elif not events:
                outcomes["empty"] = outcomes.get("empty", 0) + 1
                self.check_verify(target, context)
                r2 = run_and_kill(self.cli.cmd(target, "import", exported), None, self.work.sub("import.err"))
                if r2.rc != 0:
                    self.v.add("%s: importing again into the store left empty exited %s: %s"
                               % (context, common.signal_name(r2.rc), r2.err.strip()[-300:]))
                elif self.cli.replay(target) != original:
                    self.v.add("%s: importing again did not give the exported log" % context)
                else:
                    self.check_verify(target, context + ", imported again")
            else:
                outcomes["partial"] = outcomes.get("partial", 0) + 1
                self.v.add("%s: the store holds %d of %d events: a killed import left a partial log"
                           % (context, len(events), len(original)))
            if len(self.v) > 30:
                return

    # ---------------------------------------------------------------- main
    def main(self):
        started = time.time()
        try:
            self.make_file()
            self.calibrate()
            print("crash: %d commands (%d expected ok), one serial run takes %.2fs; %d exec kills to make"
                  % (len(self.items), len(self.expected_ok), self.run_seconds, self.args.kills), flush=True)
            round_no = 0
            while self.stats["exec_kills"] < self.args.kills and len(self.v) <= 30:
                round_no += 1
                self.stats["rounds"] = round_no
                self.exec_round(round_no, self.args.kills - self.stats["exec_kills"])
                print("  round %d done: %d kills so far" % (round_no, self.stats["exec_kills"]), flush=True)
            if len(self.v) <= 30:
                self.rebuild_kills(self.args.side_kills)
                self.import_kills(self.args.side_kills)
        except common.HarnessError as e:
            self.v.add("harness could not go on: %s" % e)
        s = self.stats
        summary = [
            "%d commands per file, %d rounds, %d exec kills (%d before the first result line), %d completed resumes, "
            "%d runs fed through stdin in bursts" % (len(self.items), s["rounds"], s["exec_kills"], s["kill_during_open"],
                                                     s["exec_completed_runs"], s["stdin_runs"]),
            "acknowledged: %d ok lines checked in the log, %d duplicate lines checked on resume" % (s["acked_ok"], s["acked_dup"]),
            "verify runs: %d%s" % (s["verify_runs"], "" if self.has_verify else " (verify missing: SKIPPED)"),
            "rebuild kills: %d; import kills: %d, outcomes %s" % (s["rebuild_kills"], s["import_kills"],
                                                                  json.dumps(s["import_outcomes"])),
        ]
        self.work.cleanup(bool(self.v))
        self.v.finish(self.args.seed, summary, started)


def main():
    p = common.base_args(__doc__.split("\n")[0])
    p.add_argument("--kills", type=int, default=None, help="exec kills (default 20 quick, 200 full)")
    p.add_argument("--side-kills", type=int, default=None, help="kills of rebuild and of import each (default 5 quick, 30 full)")
    p.add_argument("--commands", type=int, default=None, help="commands in the file (default 40000 quick, 100000 full)")
    args = p.parse_args()
    common.seed_of(args)
    if args.kills is None:
        args.kills = 20 if args.quick else 200
    if args.side_kills is None:
        args.side_kills = 5 if args.quick else 30
    if args.commands is None:
        args.commands = 40000 if args.quick else 100000
    print("crash.py --seed %d%s" % (args.seed, " --quick" if args.quick else ""), flush=True)
    CrashHarness(args).main()


if __name__ == "__main__":
    main()
