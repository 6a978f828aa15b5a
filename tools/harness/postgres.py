#!/usr/bin/env python3
"""The PostgreSQL harness: one ledger on a server, driven from outside as applications on many
hosts would. Run it beside a private server with a streaming replica:

    tools/with-postgres --replica tools/harness/postgres.py [--quick] [--seed N] --only writers --only crashes
    tools/with-postgres tools/harness/postgres.py [--quick] [--seed N] --only disk

1. Writers: 8 `exec` processes append at once, each its own stream of commands (its own
   namespace) and one stream shared by all (same lines, same command ids); readers run `show`
   and `stats` meanwhile, and a follower runs `replay --follow --json` on the replica. Then:
   the log is gapless, the chain verifies (on the primary and on the replica), each writer's
   own lines have the outcome a serial run gives, each shared line is `ok` for exactly one
   writer and `duplicate` for the others (or rejected for all, when a serial run rejects it),
   and the follower saw every event, in order, byte for byte. A write on the replica fails
   with one line.
2. Crashes: writers are killed with SIGKILL at random instants (50; 10 with --quick) and the
   server is restarted with `pg_ctl restart -m immediate` under load (5; 2 with --quick): no
   acknowledged command is lost, `verify` is clean after each restart, and re-running the
   whole input answers `duplicate` for what committed.
3. A full disk: a ledger in a database whose tablespace is a small tmpfs (the WAL stays on the
   server's own disk, as on a server whose data volume fills) takes big commands until a write
   fails. While full: `exec` exits 1 with one line that says the disk is full (no SQLSTATE),
   every acknowledged command is in the log, reads work, a retry fails the same way. Once the
   tmpfs is grown: the same input again answers `duplicate` for every acknowledged command,
   the log holds each applied command once, and `verify` is clean.
"""
import json
import os
import pwd
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (CLI, Generator, Violations, Workdir, base_args, check_log, find_binary,  # noqa: E402
                    parse_result_lines, seed_of, signal_name)


def ledger(url, name):
    return url + "&ledger=" + name


class Server:
    """The primary's data directory and pg_ctl, for restarts."""

    def __init__(self):
        self.dir = os.environ["SUBLEDGER_TEST_POSTGRES_DIR"]
        bins = sorted(d for d in os.listdir("/usr/lib/postgresql"))
        self.pg_ctl = "/usr/lib/postgresql/%s/bin/pg_ctl" % bins[-1]

    def restart(self):
        cmd = [self.pg_ctl, "-D", self.dir + "/data", "-m", "immediate", "-l", self.dir + "/server.log", "-w", "restart"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=120)


def feed(proc, lines, rng, chunk=25, pause=0.004):
    """Writes lines to a process's stdin in small chunks, so that its batches stay small and
    writers interleave."""
    try:
        for i in range(0, len(lines), chunk):
            proc.stdin.write(("\n".join(lines[i:i + chunk]) + "\n").encode())
            proc.stdin.flush()
            time.sleep(pause * rng.random())
        proc.stdin.close()
    except (BrokenPipeError, ValueError):
        pass


def writers(cli, primary, replica, rng, v, quick):
    store = ledger(primary, "writers")
    p = cli.run(store, "init")
    v.check(p.returncode == 0, "init: %s" % p.stderr.decode(errors="replace").strip())
    n_writers, own_n, shared_n = 8, (150 if quick else 600), (150 if quick else 600)
    shared = Generator(random.Random(rng.random()), "shared", reject_rate=0.05)
    shared_lines = [shared.next() for _ in range(shared_n)]
    plans = []
    for w in range(n_writers):
        g = Generator(random.Random(rng.random()), "w%d" % w, reject_rate=0.05)
        own = [g.next() for _ in range(own_n)]
        # Own and shared lines interleaved, each in its own order.
        mixed, i, j = [], 0, 0
        while i < len(own) or j < len(shared_lines):
            if j >= len(shared_lines) or (i < len(own) and rng.random() < 0.5):
                mixed.append(("own", i, own[i])); i += 1
            else:
                mixed.append(("shared", j, shared_lines[j])); j += 1
        plans.append(mixed)

    follower_out = []
    follower = subprocess.Popen(cli.cmd(ledger(replica, "writers"), "replay", "--follow", "--json"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def follow():
        for raw in follower.stdout:
            follower_out.append(raw.rstrip(b"\n"))
    follow_thread = threading.Thread(target=follow, daemon=True)
    follow_thread.start()

    stop_readers = threading.Event()
    reads = {"show": 0, "stats": 0, "failed": []}

    def read():
        while not stop_readers.is_set():
            for args in (("show", "users", "--json"), ("stats",)):
                r = cli.run(store, *args, timeout=120)
                if r.returncode == 0:
                    reads[args[0]] += 1
                else:
                    reads["failed"].append(r.stderr.decode(errors="replace").strip())
    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    started = time.time()
    procs, collected = [], []
    for w in range(n_writers):
        proc = subprocess.Popen(cli.cmd(store, "exec", "--json"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        lines = [json.dumps(cmd) for (_, _, (cmd, _, _)) in plans[w]]
        threading.Thread(target=feed, args=(proc, lines, random.Random(rng.random())), daemon=True).start()
        out = []
        reader_thread = threading.Thread(target=lambda p=proc, o=out: o.append(p.stdout.read()), daemon=True)
        reader_thread.start()
        threading.Thread(target=lambda p=proc: p.stderr.read(), daemon=True).start()
        procs.append((proc, reader_thread))
        collected.append(out)
    outputs = []
    for (proc, reader_thread), out in zip(procs, collected):
        proc.wait(timeout=1200)
        reader_thread.join(timeout=60)
        outputs.append(parse_result_lines(out[0] if out else b""))
    took = time.time() - started
    stop_readers.set()
    reader.join(timeout=120)

    # Own lines: the outcome of a serial run. Shared lines: one ok, the others duplicate.
    shared_status = {}
    for w, (mixed, results) in enumerate(zip(plans, outputs)):
        if not v.check(len(results) == len(mixed), "writer %d printed %d results for %d lines" % (w, len(results), len(mixed))):
            continue
        for (kind, k, (cmd, status, rule)), r in zip(mixed, results):
            if kind == "own":
                v.check(r["status"] == status, "writer %d own line %d (%s): %s, expected %s" % (w, k, cmd["command"], r["status"], status))
            else:
                shared_status.setdefault(k, []).append((r["status"], tuple(r.get("positions", []))))
    oks = dups = 0
    for k, (cmd, status, rule) in enumerate(shared_lines):
        got = shared_status.get(k, [])
        statuses = sorted(s for s, _ in got)
        if status == "ok":
            oks += statuses.count("ok")
            dups += statuses.count("duplicate")
            v.check(statuses.count("ok") == 1 and statuses.count("duplicate") == n_writers - 1,
                    "shared line %d (%s): %s" % (k, cmd["command"], statuses))
            v.check(len(set(p for _, p in got)) == 1, "shared line %d: writers saw positions %s" % (k, [p for _, p in got]))
        else:
            v.check(all(s == "rejected" for s in statuses), "shared line %d should be rejected for all: %s" % (k, statuses))

    events = cli.replay(store)
    check_log(events, v, "writers")
    ok, msg = cli.verify(store)
    v.check(ok, "verify on the primary after the writers: %s" % msg)
    # The follower on the replica sees every event, in order, byte for byte.
    primary_lines = cli.run(store, "replay", "--json").stdout.rstrip(b"\n").split(b"\n")
    deadline = time.time() + 60
    while len(follower_out) < len(primary_lines) and time.time() < deadline:
        time.sleep(0.2)
    follower.send_signal(signal.SIGTERM)
    follower.wait(timeout=30)
    v.check(follower_out[:len(primary_lines)] == primary_lines,
            "the follower on the replica saw %d events, not the primary's %d in order" % (len(follower_out), len(primary_lines)))
    ok, msg = cli.verify(ledger(replica, "writers"))
    v.check(ok, "verify on the replica: %s" % msg)
    r = cli.run(ledger(replica, "writers"), "exec", input=b'{"command":"CreateGroup","name":"on-the-replica"}\n')
    err = r.stderr.decode(errors="replace").strip()
    v.check(r.returncode == 1 and "read-only replica" in err and len(err.splitlines()) == 1,
            "a write on the replica: exit %d, %r" % (r.returncode, err))
    v.check(not reads["failed"], "readers failed: %s" % reads["failed"][:3])
    return ["writers: %d processes, %d lines each (%d own, %d shared), %.1fs: %d events, gapless, verified on primary and replica"
            % (n_writers, own_n + shared_n, own_n, shared_n, took, len(events)),
            "shared lines: %d ok once, %d duplicates; readers: %d show, %d stats; follower on the replica: %d events in order"
            % (oks, dups, reads["show"], reads["stats"], len(follower_out))]


def crashes(cli, primary, server, rng, v, quick, work):
    store = ledger(primary, "crashes")
    p = cli.run(store, "init")
    v.check(p.returncode == 0, "init: %s" % p.stderr.decode(errors="replace").strip())
    g = Generator(random.Random(rng.random()), "crash", reject_rate=0.05)
    lines = [g.next() for _ in range(3000 if quick else 12000)]
    text = ("\n".join(json.dumps(c) for c, _, _ in lines) + "\n").encode()
    kills_wanted, restarts_wanted = (10, 2) if quick else (50, 5)
    restart_at = set(rng.sample(range(kills_wanted), restarts_wanted))
    acknowledged = {}
    kills = restarts = runs = 0
    while kills < kills_wanted:
        runs += 1
        proc = subprocess.Popen(cli.cmd(store, "exec", "--json"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        out = []
        t = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
        t.start()
        threading.Thread(target=feed, args=(proc, [json.dumps(c) for c, _, _ in lines], random.Random(rng.random()), 40, 0.002),
                         daemon=True).start()
        time.sleep(rng.uniform(0.05, 1.5))
        restarting = kills in restart_at
        if restarting:
            server.restart()
            restarts += 1
        proc.kill()
        proc.wait()
        t.join(timeout=30)
        kills += 1
        data = out[0] if out else b""
        # A line cut by the kill was never acknowledged.
        complete = data[:data.rfind(b"\n") + 1]
        for r in parse_result_lines(complete):
            if r["status"] == "ok":
                cid = lines[r["line"] - 1][0].get("command_id")
                if cid:
                    acknowledged[cid] = r["positions"][0]
        if restarting or kills % 10 == 0:
            ok, msg = cli.verify(store)
            v.check(ok, "verify after kill %d%s: %s" % (kills, " and a restart" if restarting else "", msg))
    # Every acknowledged command is in the log, where it was acknowledged.
    events = cli.replay(store)
    by_cid = check_log(events, v, "crashes")
    lost = [cid for cid, p in acknowledged.items() if by_cid.get(cid) != p]
    v.check(not lost, "%d acknowledged commands lost or moved, first %s" % (len(lost), lost[:3]))
    # The whole input again: what committed is duplicate, the rest runs.
    r = cli.run(store, "exec", "--json", input=text, timeout=1200)
    results = parse_result_lines(r.stdout)
    dup_ok = all(res["status"] == "duplicate" for res in results
                 if lines[res["line"] - 1][0].get("command_id") in by_cid)
    v.check(dup_ok, "re-running the input did not answer duplicate for every committed command")
    ok, msg = cli.verify(store)
    v.check(ok, "verify at the end: %s" % msg)
    return ["crashes: %d kills (%d with an immediate server restart), %d acknowledged ok, none lost; %d events at the end, verified"
            % (kills, restarts, len(acknowledged), len(cli.replay(store)))]


RAW_CODE = re.compile(r"SQLSTATE|\b53100\b|PSQLError|Fatal error|Stack dump|\\.swift:\\d+")


def disk_full(cli, server, rng, v, quick):
    socket_dir = server.dir
    mnt = "/tmp/subledger-pg-small-%d" % os.getpid()
    os.makedirs(mnt, mode=0o755)
    pg = pwd.getpwnam("postgres")

    def mount(size, remount=False):
        opts = "size=%s,mode=0700,uid=%d,gid=%d" % (size, pg.pw_uid, pg.pw_gid)
        argv = ["mount", "-o", "remount," + opts, mnt] if remount else ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", mnt]
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return r.returncode == 0, r.stderr.decode(errors="replace").strip()

    def sql(statement, db="postgres"):
        r = subprocess.run(["psql", "-X", "-q", "-h", socket_dir, "-U", "postgres", "-d", db, "-c", statement],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("psql %r: %s" % (statement, r.stderr.decode(errors="replace").strip()))

    mounted, why = mount("64m")
    if not mounted:
        os.rmdir(mnt)
        v.note("full disk: mount -t tmpfs not permitted here (%s): SKIPPED" % why)
        return ["full disk: skipped (no tmpfs mount)"]
    try:
        # The database's own catalog (a copy of template1, ~8 MiB) lives there too.
        sql("CREATE TABLESPACE subledger_small LOCATION '%s'" % mnt)
        sql("CREATE DATABASE subledger_full TABLESPACE subledger_small")
        store = "postgresql:///subledger_full?host=%s&user=postgres&ledger=disk" % socket_dir
        p = cli.run(store, "init")
        v.check(p.returncode == 0, "full disk: init: %s" % p.stderr.decode(errors="replace").strip())
        # Room for about a thousand commands past what the empty ledger takes.
        st = os.statvfs(mnt)
        used = (st.f_blocks - st.f_bfree) * st.f_frsize
        ok, why = mount("%dk" % ((used + 3 * 1024 * 1024) // 1024), remount=True)
        v.check(ok, "full disk: shrinking the tmpfs failed: %s" % why)
        g = Generator(random.Random(rng.random()), "disk", reject_rate=0.05)
        lines = []
        for _ in range(4000 if quick else 8000):
            cmd, _, _ = g.next()
            for key in ("full_name", "fullname"):
                if key in cmd and not ("full_name" in cmd and "fullname" in cmd):
                    cmd[key] = (cmd[key] + " " + "x" * 900)[:900]
            lines.append(cmd)
        text = ("\n".join(json.dumps(c) for c in lines) + "\n").encode()

        def acknowledged(out):
            acked = {}
            for r in parse_result_lines(out):
                if r["status"] == "ok" and lines[r["line"] - 1].get("command_id"):
                    acked[lines[r["line"] - 1]["command_id"]] = r["positions"][0]
            return acked

        def clear_error(r, context):
            err = r.stderr.decode(errors="replace")
            shown = [l for l in err.splitlines() if l.strip()]
            v.check(r.returncode == 1, "%s: exited %s, expected 1" % (context, signal_name(r.returncode)))
            v.check(len(shown) == 1, "%s: %d lines on stderr, expected one: %r" % (context, len(shown), err[-400:]))
            v.check("disk is full" in err, "%s: the error does not say the disk is full: %r" % (context, err[-300:]))
            v.check(not RAW_CODE.search(err), "%s: a raw code reached the user: %r" % (context, err[-300:]))

        def trickled():
            # Fed in small chunks, so that batches stay small and some commit before the disk fills.
            proc = subprocess.Popen(cli.cmd(store, "exec", "--json"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            threading.Thread(target=feed, args=(proc, [json.dumps(c) for c in lines], random.Random(rng.random()), 5, 0.01),
                             daemon=True).start()
            err = []
            reading = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
            reading.start()
            out = proc.stdout.read()
            proc.wait(timeout=1200)
            reading.join(timeout=60)
            return subprocess.CompletedProcess(proc.args, proc.returncode, out, err[0] if err else b"")

        first = trickled()
        acked = acknowledged(first.stdout)
        clear_error(first, "full disk: exec")
        v.check(0 < len(acked) < len(lines), "full disk: %d of %d commands acknowledged before the disk filled"
                % (len(acked), len(lines)))
        # While full: every acknowledged command is there, and the ledger reads.
        by_cid = check_log(cli.replay(store), v, "full disk, while full")
        lost = [cid for cid, p in acked.items() if by_cid.get(cid) != p]
        v.check(not lost, "full disk: %d acknowledged commands lost or moved, first %s" % (len(lost), lost[:3]))
        for args in (("show", "users", "--limit", "3"), ("stats",), ("show", "users", "--as-of", "1")):
            r = cli.run(store, *args)
            v.check(r.returncode == 0, "full disk: %s while full: %s" % (" ".join(args), r.stderr.decode(errors="replace").strip()))
        again = trickled()
        clear_error(again, "full disk: exec again while full")
        acked.update(acknowledged(again.stdout))
        # Space again: the same input completes; what committed is duplicate.
        ok, why = mount("512m", remount=True)
        v.check(ok, "full disk: growing the tmpfs failed: %s" % why)
        last = cli.run(store, "exec", "--json", input=text, timeout=1200)
        results = parse_result_lines(last.stdout)
        v.check(len(results) == len(lines), "full disk: %d result lines after space returned, expected %d"
                % (len(results), len(lines)))
        committed = check_log(cli.replay(store), v, "full disk, after space returned")
        wrong = [r for r in results if lines[r["line"] - 1].get("command_id") in acked and r["status"] != "duplicate"]
        v.check(not wrong, "full disk: %d acknowledged commands did not answer duplicate, first %s" % (len(wrong), wrong[:2]))
        missing = [r for r in results if r["status"] == "ok" and lines[r["line"] - 1].get("command_id")
                   and committed.get(lines[r["line"] - 1]["command_id"]) != r["positions"][0]]
        v.check(not missing, "full disk: commands answered ok are not in the log where acknowledged: %s" % missing[:3])
        ok, msg = cli.verify(store)
        v.check(ok, "full disk: verify after space returned: %s" % msg)
        return ["full disk: %d commands acknowledged before the tablespace filled, one clean line twice, none lost; "
                "after growing it, %d events, acknowledged ones duplicate, verified" % (len(acked), len(committed))]
    finally:
        for statement in ("DROP DATABASE IF EXISTS subledger_full", "DROP TABLESPACE IF EXISTS subledger_small"):
            try:
                sql(statement)
            except Exception as e:  # noqa: BLE001 (cleanup goes on)
                print("  cleanup: %s" % e)
        subprocess.run(["umount", mnt], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(mnt, ignore_errors=True)


PARTS = ("writers", "crashes", "disk")


def main():
    p = base_args(__doc__.splitlines()[0])
    p.add_argument("--only", action="append", choices=PARTS,
                   help="run this part (again for more); default: all. The full disk runs on a server "
                        "without a replica: a standby on the same host cannot replay a tablespace made there")
    args = p.parse_args()
    parts = args.only or list(PARTS)
    seed = seed_of(args)
    rng = random.Random(seed)
    primary = os.environ.get("SUBLEDGER_TEST_POSTGRES")
    replica = os.environ.get("SUBLEDGER_TEST_POSTGRES_REPLICA")
    if not primary:
        sys.exit("postgres harness: run it beside a server: tools/with-postgres [--replica] %s" % sys.argv[0])
    if "writers" in parts and not replica:
        sys.exit("postgres harness: the writers need a replica: tools/with-postgres --replica %s" % sys.argv[0])
    if "disk" in parts and replica:
        sys.exit("postgres harness: the full disk needs a server without a replica: tools/with-postgres %s --only disk"
                 % sys.argv[0])
    cli = CLI(find_binary(args.bin))
    v = Violations("postgres")
    work = Workdir(args, "postgres")
    started = time.time()
    summary = []
    if "writers" in parts:
        summary += writers(cli, primary, replica, rng, v, args.quick)
    if "crashes" in parts:
        summary += crashes(cli, primary, Server(), rng, v, args.quick, work)
    if "disk" in parts:
        summary += disk_full(cli, Server(), rng, v, args.quick)
    work.cleanup(len(v) > 0)
    v.finish(seed, summary, started)


if __name__ == "__main__":
    main()
