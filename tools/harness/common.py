"""Shared helpers of the reliability harnesses (issue 8): finding the binary, running it,
reading the log back, checking it, and a seeded generator of realistic command files.

Python 3 standard library only.
"""

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_BIN = os.path.join(REPO, ".build-harness", "release", "subledger")


def find_binary(given=None):
    path = given or os.environ.get("SUBLEDGER_BIN") or DEFAULT_BIN
    path = os.path.abspath(path)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        sys.exit("harness: no subledger binary at %s (build it with: swift build -c release "
                 "--product subledger --scratch-path .build-harness, or pass --bin / set SUBLEDGER_BIN)" % path)
    return path


def base_args(description):
    import argparse
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock, printed)")
    p.add_argument("--quick", action="store_true", help="the short run for CI")
    p.add_argument("--bin", default=None, help="the subledger binary (default $SUBLEDGER_BIN, else %s)" % DEFAULT_BIN)
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--workdir", default=None, help="where to put stores and files (default: a temp dir)")
    return p


def seed_of(args):
    if args.seed is None:
        args.seed = int(time.time() * 1000) % 1000000007
    return args.seed


class Violations:
    """Collects violations; the harness exits 1 when there is any."""

    def __init__(self, name, limit=40):
        self.name = name
        self.items = []
        self.limit = limit
        self.notes = []

    def add(self, what):
        self.items.append(what)
        if len(self.items) <= self.limit:
            print("VIOLATION: %s" % what, flush=True)
        elif len(self.items) == self.limit + 1:
            print("VIOLATION: (more violations not printed)", flush=True)

    def check(self, cond, what):
        if not cond:
            self.add(what)
        return cond

    def note(self, what):
        self.notes.append(what)
        print("note: %s" % what, flush=True)

    def __len__(self):
        return len(self.items)

    def finish(self, seed, summary_lines, started):
        took = time.time() - started
        print("---- %s summary (seed %d, %.1fs) ----" % (self.name, seed, took))
        for line in summary_lines:
            print("  " + line)
        for n in self.notes:
            print("  note: " + n)
        if self.items:
            print("  FAILED: %d violation(s); first: %s" % (len(self.items), self.items[0]))
            args, skip = [], False
            for a in sys.argv[1:]:
                if skip:
                    skip = False
                elif a == "--seed":
                    skip = True
                elif not a.startswith("--seed="):
                    args.append(a)
            print("  reproduce: %s" % " ".join(["tools/harness/" + os.path.basename(sys.argv[0])] + args + ["--seed", str(seed)]))
            sys.exit(1)
        print("  OK")
        sys.exit(0)


class Workdir:
    def __init__(self, args, name):
        if args.workdir:
            os.makedirs(args.workdir, exist_ok=True)
            self.path = tempfile.mkdtemp(prefix=name + "-", dir=args.workdir)
        else:
            self.path = tempfile.mkdtemp(prefix="subledger-" + name + "-")
        self.keep = args.keep

    def sub(self, *parts):
        return os.path.join(self.path, *parts)

    def cleanup(self, failed):
        if self.keep or failed:
            print("  work directory kept: %s" % self.path)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


class CLI:
    def __init__(self, binary):
        self.bin = binary
        self._subcommands = None

    def cmd(self, store, *args):
        return [self.bin, "--store", store] + list(args)

    def run(self, store, *args, timeout=300, input=None):
        """Runs one subcommand; returns CompletedProcess with bytes stdout/stderr."""
        return subprocess.run(self.cmd(store, *args), input=input, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)

    @property
    def subcommands(self):
        if self._subcommands is None:
            out = subprocess.run([self.bin, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout.decode(
                "utf-8", "replace")
            names = set()
            section = False
            for line in out.splitlines():
                if line.strip().upper().startswith("SUBCOMMANDS"):
                    section = True
                    continue
                if section:
                    if line and not line.startswith(" "):
                        section = False
                        continue
                    m = re.match(r"^\s{2,}([a-z][a-z0-9-]*)\b", line)
                    if m:
                        names.add(m.group(1))
            self._subcommands = names
        return self._subcommands

    def has(self, name):
        return name in self.subcommands

    def replay(self, store, timeout=600):
        """The whole log as a list of dicts (replay --json)."""
        p = self.run(store, "replay", "--json", timeout=timeout)
        if p.returncode != 0:
            raise HarnessError("replay --json exited %s: %s" % (p.returncode, p.stderr.decode("utf-8", "replace").strip()))
        events = []
        for raw in p.stdout.splitlines():
            if raw.strip():
                events.append(json.loads(raw))
        return events

    def verify(self, store, timeout=600):
        """(ok, message); ok None when verify is not a subcommand."""
        if not self.has("verify"):
            return None, "verify is not a subcommand"
        p = self.run(store, "verify", timeout=timeout)
        msg = (p.stderr + p.stdout).decode("utf-8", "replace").strip()
        return p.returncode == 0, "verify exited %d: %s" % (p.returncode, msg[-500:])

    def show(self, store, view, timeout=300):
        p = self.run(store, "show", view, "--json", timeout=timeout)
        if p.returncode != 0:
            raise HarnessError("show %s exited %s: %s" % (view, p.returncode, p.stderr.decode("utf-8", "replace").strip()))
        return json.loads(p.stdout)


class HarnessError(Exception):
    pass


VIEWS = ["users", "plans", "team_plans", "groups", "memberships", "subscriptions",
         "active_subscriptions", "paying_subscriptions", "recent_memberships"]


def check_log(events, v, context):
    """Positions gapless from 1, command_ids unique. Returns {command_id: position}."""
    by_cid = {}
    for i, e in enumerate(events):
        if e.get("position") != i + 1:
            v.add("%s: log position %r at index %d (expected %d): positions not gapless from 1"
                  % (context, e.get("position"), i, i + 1))
            break
    for e in events:
        cid = e.get("command_id")
        if cid is None:
            continue
        if cid in by_cid:
            v.add("%s: command_id %r in the log twice (positions %d and %d)" % (context, cid, by_cid[cid], e["position"]))
        else:
            by_cid[cid] = e["position"]
    return by_cid


def parse_result_lines(data):
    """exec --json stdout bytes -> list of dicts (only complete lines); bad lines raise."""
    out = []
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        out.append(json.loads(raw))
    return out


def signal_name(rc):
    if rc is not None and rc < 0:
        try:
            return signal.Signals(-rc).name
        except ValueError:
            return "signal %d" % -rc
    return str(rc)


# --------------------------------------------------------------------------------------------
# A seeded generator of realistic command streams with the expected outcome of each command.
#
# The expected outcome holds for a serial run of the stream. Every rejection it makes on
# purpose is *permanent*: it stays a rejection in every later state of the stream (so that a
# re-run of the file after a crash, which re-evaluates earlier rejected lines against a later
# state, gives the same outcomes): the generator never deletes, and it "locks" the
# subscriptions, memberships and team plans that a rejection depends on.
# --------------------------------------------------------------------------------------------

FIRST = ["Ann", "Bob", "Chloé", "Dmitri", "Eve", "Farah", "Gus", "Hana", "Ivan", "Jürgen", "Kofi", "Lena",
         "Mei", "Nils", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Vera", "Wen", "Xavi",
         "Yara", "Zoë"]
LAST = ["Lee", "Smith", "Okafor", "Müller", "Nakamura", "García", "O'Brien", "Ivanova", "Kowalski", "Dubois",
        "Haddad", "Singh", "Rossi", "Novak", "Berg"]
PLAN_WORDS = ["basic", "pro", "plus", "business", "starter", "premium", "edu", "nonprofit", "team", "squad"]
GROUP_WORDS = ["admins", "staff", "beta", "support", "billing", "ops", "editors", "readers", "vip", "alumni"]


class Generator:
    """Makes commands for one namespace `ns` (emails, names and ghosts carry it, so streams of
    different namespaces never interact). `next()` returns (command dict, expected status,
    expected rule or None)."""

    def __init__(self, rng, ns, cid_prefix=None, reject_rate=0.08):
        self.rng = rng
        self.ns = ns
        self.cid_prefix = cid_prefix or ns
        self.reject_rate = reject_rate
        self.n = 0
        self.users = []          # list of dict(id, email)
        self.user_emails = set()
        self.plans = []          # dict(id, name, seats, active: set(sub ids), sealed)
        self.plan_names = set()
        self.groups = []         # dict(id, name)
        self.group_names = set()
        self.subs = {}           # id -> dict(id, user, plan, active, locked)
        self.active_by_up = {}   # (user id, plan id) -> sub id
        self.members = set()     # (user id, group id)
        self.locked_members = set()      # pairs that must stay members
        self.locked_nonmembers = set()   # pairs that must never join
        self.used_ids = set()
        self.cancelled = []      # ids of cancelled subscriptions
        self.user_by_key, self.group_by_key, self.plan_by = {}, {}, {}

    # -- helpers --
    def uid(self):
        while True:
            u = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            if u not in self.used_ids:
                return u

    def cid(self):
        self.n += 1
        return "%s-%d" % (self.cid_prefix, self.n)

    def name(self):
        r = self.rng.random()
        full = "%s %s" % (self.rng.choice(FIRST), self.rng.choice(LAST))
        if r < 0.05:
            return ""
        if r < 0.08:
            return full + " 🚀"
        return full

    def user_ref(self, u):
        if u.get("id_unknown"):
            return u["email"] if self.rng.random() < 0.7 else u["email"].upper()
        r = self.rng.random()
        if r < 0.4:
            return u["id"]
        if r < 0.5:
            return u["email"].upper()
        return u["email"]

    def plan_ref(self, p):
        return p["id"] if self.rng.random() < 0.4 else p["name"]

    def group_ref(self, g):
        return g["id"] if self.rng.random() < 0.4 else g["name"]

    def seat_free(self, p):
        return p["seats"] is None or len(p["active"]) < p["seats"]

    def lock_sub(self, sid):
        self.subs[sid]["locked"] = True

    def seal(self, p):
        p["sealed"] = True
        for sid in p["active"]:
            self.lock_sub(sid)

    def movable_subs(self):
        return [s for s in self.subs.values() if s["active"] and not s["locked"]]

    # -- the stream --
    def next(self):
        while True:
            got = self._next()
            if got is not None:
                cmd, status, rule = got
                cmd["command_id"] = self.cid()
                return cmd, status, rule

    def _next(self):
        rng = self.rng
        if len(self.plans) < 2:
            return self.create_plan()
        if len(self.users) < 3:
            return self.register()
        if not self.groups:
            return self.create_group()
        if rng.random() < self.reject_rate:
            return self.rejection()
        r = rng.random()
        if r < 0.18:
            return self.register()
        if r < 0.21:
            return self.create_plan()
        if r < 0.23:
            return self.create_group()
        if r < 0.40:
            return self.subscribe()
        if r < 0.50:
            return self.join()
        if r < 0.58:
            return self.change_plan()
        if r < 0.64:
            return self.cancel()
        if r < 0.80:
            u = rng.choice(self.users)
            return {"command": "RecordLogin", "user": self.user_ref(u)}, "ok", None
        if r < 0.90:
            u = rng.choice(self.users)
            c = {"command": "RenameUser", "user": self.user_ref(u)}
            key = "fullname" if rng.random() < 0.3 else "full_name"
            c[key] = self.name()
            return c, "ok", None
        return self.leave()

    def register(self):
        rng = self.rng
        i = len(self.users)
        local = "%s.%s.%d" % (rng.choice(FIRST).lower().encode("ascii", "ignore").decode() or "x", self.ns, i)
        email = "%s@%s" % (local, rng.choice(["example.com", "Example.org", "mail.test"]))
        u = {"id": None, "email": email}
        c = {"command": "RegisterUser", "email": email if rng.random() < 0.9 else "  %s " % email}
        nm = self.name()
        if nm or rng.random() < 0.5:
            c["fullname" if rng.random() < 0.2 else "full_name"] = nm
        if rng.random() < 0.5:
            u["id"] = self.uid()
            c["id"] = u["id"]
            self.used_ids.add(u["id"])
        else:
            u["id"] = None
        self.user_emails.add(email.lower())
        self.users.append(u)
        self.user_by_key[self.ukey(u)] = u
        if u["id"] is None:
            # without a known id, refer to it by email only
            u["id_unknown"] = True
        return c, "ok", None

    def create_plan(self):
        rng = self.rng
        i = len(self.plans)
        name = "%s-%s-%d" % (rng.choice(PLAN_WORDS), self.ns, i)
        seats = rng.randint(1, 4) if rng.random() < 0.3 else None
        p = {"id": self.uid(), "name": name, "seats": seats, "active": set(), "sealed": False}
        self.used_ids.add(p["id"])
        c = {"command": "CreatePlan", "name": name, "id": p["id"]}
        if rng.random() < 0.8:
            c["price_cents"] = rng.choice([0, 0, 500, 900, 1900, 4000, 12000])
        if seats is not None:
            c["seats"] = seats
        self.plans.append(p)
        self.plan_by[name] = p
        self.plan_names.add(name)
        return c, "ok", None

    def create_group(self):
        rng = self.rng
        name = "%s-%s-%d" % (rng.choice(GROUP_WORDS), self.ns, len(self.groups))
        g = {"id": self.uid(), "name": name}
        c = {"command": "CreateGroup", "name": name}
        if rng.random() < 0.5:
            c["id"] = g["id"]
            self.used_ids.add(g["id"])
        else:
            g["id"] = None
        self.groups.append(g)
        self.group_by_key[name] = g
        self.group_names.add(name)
        return c, "ok", None

    def uref(self, u):
        return self.user_ref(u)

    def gref(self, g):
        return g["name"] if g["id"] is None else self.group_ref(g)

    def ukey(self, u):
        return u["email"].lower()

    def gkey(self, g):
        return g["name"]

    def subscribe(self):
        rng = self.rng
        u = rng.choice(self.users)
        candidates = [p for p in self.plans if (self.ukey(u), p["name"]) not in self.active_by_up and self.seat_free(p)]
        if not candidates:
            return None
        p = rng.choice(candidates)
        sid = self.uid()
        c = {"command": "Subscribe", "user": self.uref(u), "plan": self.plan_ref(p)}
        known = rng.random() < 0.8
        if known:
            c["id"] = sid
            self.used_ids.add(sid)
        self.subs[sid] = {"key": sid, "id": sid if known else None, "user": self.ukey(u), "plan": p["name"],
                          "active": True, "locked": False, "u": u}
        self.active_by_up[(self.ukey(u), p["name"])] = sid
        p["active"].add(sid)
        return c, "ok", None

    def plan_by_name(self, name):
        return self.plan_by[name]

    def sub_target(self, s):
        """Fields naming subscription s: its id (when known) or user + plan."""
        if s["id"] is not None and self.rng.random() < 0.6:
            return {"subscription": s["id"]}
        return {"user": self.uref(s["u"]), "plan": self.plan_ref(self.plan_by_name(s["plan"]))}

    def change_plan(self):
        rng = self.rng
        subs = self.movable_subs()
        if not subs:
            return None
        s = rng.choice(subs)
        targets = [p for p in self.plans if p["name"] != s["plan"] and (s["user"], p["name"]) not in self.active_by_up
                   and self.seat_free(p)]
        if not targets:
            return None
        to = rng.choice(targets)
        c = {"command": "ChangePlan"}
        c.update(self.sub_target(s))
        c["to"] = self.plan_ref(to)
        old = self.plan_by_name(s["plan"])
        old["active"].discard(s["key"])
        del self.active_by_up[(s["user"], s["plan"])]
        s["plan"] = to["name"]
        to["active"].add(self._sid(s))
        self.active_by_up[(s["user"], to["name"])] = self._sid(s)
        return c, "ok", None

    def _sid(self, s):
        return s["key"]

    def cancel(self):
        rng = self.rng
        subs = self.movable_subs()
        if not subs:
            return None
        s = rng.choice(subs)
        c = {"command": "Cancel"}
        c.update(self.sub_target(s))
        sid = self._sid(s)
        s["active"] = False
        self.plan_by_name(s["plan"])["active"].discard(sid)
        del self.active_by_up[(s["user"], s["plan"])]
        if s["id"] is not None:
            self.cancelled.append(s["id"])
        return c, "ok", None

    def join(self):
        rng = self.rng
        u, g = rng.choice(self.users), rng.choice(self.groups)
        pair = (self.ukey(u), self.gkey(g))
        if pair in self.members or pair in self.locked_nonmembers:
            return None
        self.members.add(pair)
        c = {"command": "JoinGroup", "user": self.uref(u), "group": self.gref(g)}
        if rng.random() < 0.3:
            mid = self.uid()
            self.used_ids.add(mid)
            c["id"] = mid
        return c, "ok", None

    def leave(self):
        rng = self.rng
        pairs = sorted(self.members - self.locked_members)
        if not pairs:
            return None
        ukey, gkey = rng.choice(pairs)
        u = self.user_by_key[ukey]
        g = self.group_by_key[gkey]
        self.members.discard((ukey, gkey))
        return {"command": "LeaveGroup", "user": self.uref(u), "group": self.gref(g)}, "ok", None

    # -- permanent rejections --
    def rejection(self):
        rng = self.rng
        kind = rng.randrange(20)
        ghost = "ghost-%s-%d" % (self.ns, rng.randrange(10 ** 6))
        if kind == 0:
            u = rng.choice(self.users)
            return {"command": "RegisterUser", "email": " " + u["email"].upper()}, "rejected", "email_taken"
        if kind == 1:
            p = rng.choice(self.plans)
            return {"command": "CreatePlan", "name": p["name"], "price_cents": 1}, "rejected", "plan_name_taken"
        if kind == 2:
            g = rng.choice(self.groups)
            return {"command": "CreateGroup", "name": g["name"]}, "rejected", "group_name_taken"
        if kind == 3:
            return {"command": "Subscribe", "user": ghost + "@nowhere.test",
                    "plan": rng.choice(self.plans)["name"]}, "rejected", "unknown_user"
        if kind == 4:
            return {"command": "Subscribe", "user": self.uref(rng.choice(self.users)), "plan": ghost}, "rejected", "unknown_plan"
        if kind == 5:
            return {"command": "JoinGroup", "user": self.uref(rng.choice(self.users)), "group": ghost}, "rejected", "unknown_group"
        if kind == 6:
            return {"command": "RegisterUser", "email": "no-at-sign-" + ghost}, "rejected", "invalid_email"
        if kind == 7:
            return {"command": "CreatePlan", "name": ghost, "price_cents": -rng.randint(1, 999)}, "rejected", "negative_price"
        if kind == 8:
            return {"command": "CreatePlan", "name": ghost, "seats": 0}, "rejected", "invalid_seats"
        if kind == 9:
            return {"command": "RecordLogin", "user": self.uref(rng.choice(self.users)), "color": "blue"}, "rejected", "unknown_field"
        if kind == 10:
            return {"command": "CreatePlan", "name": ghost, "price_cents": "900"}, "rejected", "wrong_type"
        if kind == 11:
            return {"command": "RenameUser", "user": self.uref(rng.choice(self.users)), "full_name": "A",
                    "fullname": "B"}, "rejected", "alias_conflict"
        if kind == 12:
            return {"command": "Cancel", "subscription": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "user": self.uref(rng.choice(self.users))}, "rejected", "subscription_reference"
        if kind == 13:
            if not self.used_ids:
                return None
            return {"command": "CreateGroup", "name": ghost, "id": rng.choice(sorted(self.used_ids))}, "rejected", "id_taken"
        if kind == 14:
            if not self.cancelled:
                return None
            return {"command": "Cancel", "subscription": rng.choice(self.cancelled)}, "rejected", "subscription_not_active"
        if kind == 15:
            # already_subscribed: lock the existing active subscription so it stays active.
            subs = [s for s in self.subs.values() if s["active"]]
            if not subs:
                return None
            s = rng.choice(subs)
            self.lock_sub(self._sid(s))
            return {"command": "Subscribe", "user": self.uref(s["u"]), "plan": s["plan"]}, "rejected", "already_subscribed"
        if kind == 16:
            subs = [s for s in self.subs.values() if s["active"]]
            if not subs:
                return None
            s = rng.choice(subs)
            self.lock_sub(self._sid(s))
            c = {"command": "ChangePlan"}
            c.update(self.sub_target(s))
            c["to"] = s["plan"]
            return c, "rejected", "same_plan"
        if kind == 17:
            full = [p for p in self.plans if p["seats"] is not None and len(p["active"]) >= p["seats"]]
            if not full:
                return None
            p = rng.choice(full)
            users = [u for u in self.users if (self.ukey(u), p["name"]) not in self.active_by_up]
            if not users:
                return None
            self.seal(p)
            return {"command": "Subscribe", "user": self.uref(rng.choice(users)), "plan": p["name"]}, "rejected", "team_plan_full"
        if kind == 18:
            if not self.members:
                return None
            ukey, gkey = rng.choice(sorted(self.members))
            self.locked_members.add((ukey, gkey))
            u = self.user_by_key[ukey]
            return {"command": "JoinGroup", "user": self.uref(u), "group": gkey}, "rejected", "already_member"
        if kind == 19:
            u, g = rng.choice(self.users), rng.choice(self.groups)
            pair = (self.ukey(u), self.gkey(g))
            if pair in self.members:
                return None
            self.locked_nonmembers.add(pair)
            return {"command": "LeaveGroup", "user": self.uref(u), "group": self.gref(g)}, "rejected", "not_a_member"
        return None


def dumps(cmd):
    return json.dumps(cmd, ensure_ascii=False, separators=(",", ":"))


def write_commands(path, items):
    with open(path, "w", encoding="utf-8") as f:
        for cmd, _, _ in items:
            f.write(dumps(cmd) + "\n")
