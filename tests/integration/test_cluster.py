"""Three nodes on loopback: agreement on a leader, the admin/cluster view
(API.md §17.3), redirects of writes and private routes (§4), replication
and read consistency (§5), failover after kill -9 of the leader with a
writer running through it, and a restarted node catching up."""

import json
import os
import re
import threading
import time

import harness
from harness import Cluster, Conn, path_for, scaled, wait_for


def uniq(tag):
    return "%s-%s/" % (tag, os.urandom(4).hex())


VIEW_KEYS = {"leader", "term", "commit_index", "nodes"}
MEMBER_KEYS = {"id", "raft_address", "public_url", "private_url", "role", "voter",
               "match_index", "last_contact_ms", "healthy"}


def check_view(tc, node, members, leader, voters):
    """admin/cluster of node (private binding, root key) has the §17.3
    shape, names leader, lists members (Node objects, in configuration
    order) with exactly the voters given; returns the document"""
    r = node.request("GET", "admin/cluster", binding="private")
    tc.expect(r, 200)
    ctx = "admin/cluster of %s:%s" % (node.name, r.describe())
    doc = r.json()
    tc.assertEqual(set(doc), VIEW_KEYS, ctx)
    tc.assertEqual(doc["leader"], leader, ctx)
    for k in ("term", "commit_index"):
        tc.assertIsInstance(doc[k], int, ctx)
        tc.assertGreaterEqual(doc[k], 1, ctx)
    tc.assertEqual([n.get("id") for n in doc["nodes"]], [m.name for m in members],
                   "members or their order" + ctx)
    for n, m in zip(doc["nodes"], members):
        tc.assertEqual(set(n), MEMBER_KEYS, ctx)
        tc.assertEqual(n["raft_address"], "127.0.0.1:%d" % m.raft, ctx)
        tc.assertEqual(n["public_url"], "http://127.0.0.1:%d" % m.public, ctx)
        tc.assertEqual(n["private_url"], "http://127.0.0.1:%d" % m.private, ctx)
        tc.assertIs(n["voter"], m.name in voters, ctx)
        if m.name == leader:
            tc.assertEqual(n["role"], "leader", ctx)
        else:
            tc.assertEqual(n["role"], "follower" if m.name in voters else "learner", ctx)
        for k, typ in (("match_index", int), ("last_contact_ms", int), ("healthy", bool)):
            if n[k] is not None:
                tc.assertIsInstance(n[k], typ, "%s of %s%s" % (k, m.name, ctx))
        known = node.name == leader or m.name in (node.name, leader)
        if known:
            # the leader knows everyone; a follower itself and its leader
            tc.assertIsInstance(n["last_contact_ms"], int, "%s: %s" % (m.name, ctx))
            tc.assertIsInstance(n["healthy"], bool, "%s: %s" % (m.name, ctx))
        if m.name == node.name:
            tc.assertIsInstance(n["match_index"], int, ctx)
            tc.assertIs(n["healthy"], True, ctx)
        if node.name == leader:
            tc.assertIsInstance(n["match_index"], int, ctx)
            tc.assertIs(n["healthy"], True, "a member of a running cluster" + ctx)
            if m.name == leader:
                tc.assertEqual(n["last_contact_ms"], 0, ctx)
    return doc


def ctl_table(text):
    """rows of an aligned `insidbctl show cluster` table as dicts"""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for i, ln in enumerate(lines):
        cols = ln.split()
        if cols[:2] == ["id", "raft_address"]:
            return [dict(zip(cols, row.split())) for row in lines[i + 1:]
                    if len(row.split()) == len(cols)]
    return None


def follow(resp):
    """port of the 127.0.0.1 URL in Location and the path after it"""
    m = re.match(r"^http://127\.0\.0\.1:(\d+)(/.*)$", resp.header("Location") or "")
    return (int(m.group(1)), m.group(2)) if m else (None, None)


class Writer(threading.Thread):
    """sets key<seq> = value<seq> through whatever leader there is, following
    307s; records every acknowledged (200) write with the time of the ack"""

    def __init__(self, cluster, prefix):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.prefix = prefix
        self.acked = {}             # key -> value
        self.ack_times = []         # monotonic time of each ack
        self.refusals = {}          # status/error -> count
        self.done = threading.Event()
        self.target = None
        self.seq = 0

    def pick_target(self):
        for m in self.cluster.running():
            try:
                r = m.request("GET", "ping")
                name = r.json().get("leader") if r.status == 200 else None
            except Exception:   # noqa: BLE001 - a node may be down
                continue
            if name in self.cluster.by_name:
                return self.cluster.by_name[name].public
        return None

    def one(self, key, value):
        body = json.dumps({"key": key, "value": value})
        port = self.target
        for _ in range(3):
            with Conn(port, timeout=15) as c:
                r = c.request("POST", path_for("set"), body,
                              [("Authorization", "Bearer " + self.cluster.nodes[0].root_key)])
            if r.status != 307:
                return r
            port, _ = follow(r)
            if port is None:
                return r
        return r

    def run(self):
        while not self.done.is_set():
            key = "%s%06d" % (self.prefix, self.seq)
            value = "v%d" % self.seq
            self.seq += 1
            if self.target is None:
                self.target = self.pick_target()
                if self.target is None:
                    time.sleep(0.05)
                    continue
            try:
                r = self.one(key, value)
            except Exception as e:  # noqa: BLE001 - refused, reset, timeout
                self.refusals[type(e).__name__] = self.refusals.get(type(e).__name__, 0) + 1
                self.target = None
                time.sleep(0.02)
                continue
            if r.status == 200:
                self.acked[key] = value
                self.ack_times.append(time.monotonic())
            else:
                what = "%d %s" % (r.status, (r.json() if r.body[:1] == b"{" else {}).get(
                    "error_type", ""))
                self.refusals[what] = self.refusals.get(what, 0) + 1
                self.target = None
                time.sleep(0.02)

    def stop(self):
        self.done.set()
        self.join(scaled(30))

    def acks_after(self, t):
        return sum(1 for x in self.ack_times if x > t)


def all_keys(node, prefix, **query):
    """every key under prefix on node, in pages of 1000 (the most a
    page holds, API.md §11), or None when a page is refused"""
    keys = []
    while len(keys) < 1000000:
        r = node.request("GET", "iterate/prefix", query=dict(
            query, prefix=prefix, offset=len(keys), limit=1000))
        if r.status != 200:
            return None
        page = r.json()["data"]
        keys += page
        if len(page) < 1000:
            break
    return keys


def check_all_on(tc, node, prefix, expected, timeout=20):
    """every key of expected (key -> value) is on node, default read"""
    def has_all():
        keys = all_keys(node, prefix)
        return keys is not None and set(expected) <= set(keys)
    try:
        wait_for(has_all, timeout, "%d keys on %s" % (len(expected), node.name))
    except AssertionError:
        missing = sorted(set(expected) - set(all_keys(node, prefix) or []))
        tc.fail("%s misses %d acknowledged keys, first %s"
                % (node.name, len(missing), missing[:5]))
    with Conn(node.public) as c:
        for k, v in sorted(expected.items()):
            r = c.request("GET", path_for("get", {"key": k}), None,
                          node.auth_headers(True))
            tc.assertEqual((r.status, r.json() if r.status == 200 else r.body),
                           (200, {"data": v}), "%s on %s%s" % (k, node.name, r.describe()))


class Cluster3(harness.NodeTestCase):
    size = 3

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster("c3", cls.size)
        cls.node = cls.cluster.nodes[0]      # for the NodeTestCase helpers
        try:
            cls.cluster.start()
        except BaseException:
            cls.cluster.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        left = cls.cluster.cleanup()
        slow = [m.name for m in cls.cluster.nodes if not m.stopped_cleanly]
        if slow:
            raise AssertionError("no exit within 20 s of SIGTERM (killed): %s" % slow)
        if left:
            raise AssertionError("processes left running after stop (killed): %s" % left)

    def leader(self, exclude=()):
        return self.cluster.wait_leader(exclude=exclude)

    def followers(self, leader):
        return [m for m in self.cluster.running() if m is not leader]

    def test_agree_on_leader(self):
        lead = self.leader()
        for m in self.cluster.nodes:
            r = m.request("GET", "ping")
            self.expect(r, 200)
            self.assertEqual(r.json()["leader"], lead.name, r.describe())
            self.assertEqual(r.header("X-Insidb-Node"), m.name, r.describe())
        badges = {m.request("GET", "ping").json()["node-badge-id"] for m in self.cluster.nodes}
        self.assertEqual(len(badges), self.size, "badge ids must differ per node")

    def test_formed_by_auto_join(self):
        """no node was joined by hand: every one reports the same leader, term
        and every member a voter, in configuration order (§17.2, §17.3)"""
        lead = self.leader()
        names = {m.name for m in self.cluster.nodes}

        def settled():
            docs = [check_view(self, m, self.cluster.nodes, lead.name, names)
                    for m in self.cluster.nodes]
            return docs if len({d["term"] for d in docs}) == 1 else None
        wait_for(settled, 10, "one term in every view")
        for m in self.cluster.nodes:
            if m is not lead:
                self.assertFalse(m.start_args, "started with %s" % m.start_args)
        # root key, private binding only
        for m in self.cluster.nodes:
            self.expect(m.request("GET", "admin/cluster", binding="private", auth=False),
                        401, "AUTHENTICATION_FAILED")
            self.expect(m.request("GET", "admin/cluster"), 404, "NOT_FOUND",
                        msg="admin/cluster on the public binding (§2.1): ")
        # a write on the leader reaches every follower (default read)
        p = uniq("form")
        self.expect_json(lead.request("POST", "set", {"key": p + "k", "value": "w"}), {})
        for f in self.followers(lead):
            def local_read(f=f):
                r = f.request("GET", "get", query={"key": p + "k"})
                return r if r.status == 200 else None
            r = wait_for(local_read, 10, "the write to reach %s" % f.name)
            self.expect_json(r, {"data": "w"})

    def test_private_route_redirect(self):
        """leader routes of the private binding are redirected to the
        leader's PRIVATE binding, path and query byte for byte (§4, §17.1)"""
        lead = self.leader()
        for f in self.followers(lead):
            other = [m for m in self.cluster.nodes if m is not f][0]
            r = f.request("POST", "admin/cluster/transfer", {"node_id": lead.name},
                          binding="private")
            self.expect(r, 307, "NOT_LEADER")
            self.assertEqual(r.header("Location"), "http://127.0.0.1:%d/db/api/v1/"
                             "admin/cluster/transfer" % lead.private, r.describe())
            self.assertEqual(r.header("X-Insidb-Leader"), lead.name, r.describe())
            q = "followerId=%s&followerAddr=127.0.0.1%%3A%d" % (other.name, other.raft)
            r = f.request("GET", "join", query=q, binding="private")
            self.expect(r, 307, "NOT_LEADER")
            self.assertEqual(r.header("Location"), "http://127.0.0.1:%d/db/api/v1/join?%s"
                             % (lead.private, q), r.describe())
            r = f.request("POST", "admin/cluster/remove", {"node_id": "nodeX"},
                          binding="private")
            self.expect(r, 307, "NOT_LEADER")
            self.assertEqual(r.header("Location"), "http://127.0.0.1:%d/db/api/v1/"
                             "admin/cluster/remove" % lead.private, r.describe())
            # following it: the member is there at the same address -> 200 at once
            port, path = follow(f.request("GET", "join", query=q, binding="private"))
            self.assertEqual(port, lead.private)
            with Conn(port) as c:
                r = c.request("GET", path, None, lead.auth_headers(True))
            self.expect(r, 200, msg="join of a member followed to the leader: ")
            self.assertEqual(r.json(), {"node_id": other.name,
                                        "raft_address": "127.0.0.1:%d" % other.raft,
                                        "voter": True}, r.describe())
            # a public write followed to Location succeeds
            p = uniq("follow")
            r = f.request("POST", "set", {"key": p + "k", "value": "f"})
            self.expect(r, 307, "NOT_LEADER")
            port, path = follow(r)
            self.assertEqual(port, lead.public, r.describe())
            with Conn(port) as c:
                r = c.request("POST", path, json.dumps({"key": p + "k", "value": "f"}),
                              lead.auth_headers(True))
            self.expect_json(r, {})
            r = lead.request("GET", "get", query={"key": p + "k"})
            self.expect_json(r, {"data": "f"})

    def test_linearizable_read_right_after_write(self):
        """each write acknowledged by the leader is returned at once by a
        linearizable read on every follower, with no wait in between"""
        lead = self.leader()
        p = uniq("lin")
        fs = self.followers(lead)
        with Conn(lead.public) as w:
            conns = [(f, Conn(f.public)) for f in fs]
            try:
                for i in range(40):
                    body = json.dumps({"key": p + "k", "value": "v%d" % i})
                    r = w.request("POST", path_for("set"), body, lead.auth_headers(True))
                    self.expect_json(r, {})
                    for f, c in conns:
                        r = c.request("GET", path_for("get", {
                            "key": p + "k", "consistency": "linearizable"}), None,
                            f.auth_headers(True))
                        self.expect_json(r, {"data": "v%d" % i},
                                         "linearizable read %d on %s: " % (i, f.name))
                        self.assertEqual(r.header("X-Insidb-Consistency"), "linearizable",
                                         r.describe())
            finally:
                for _, c in conns:
                    c.close()

    def test_failover_under_writes(self):
        """kill -9 of the leader while a writer runs: a new leader within 3 s,
        writes continue, the old leader rejoins as a follower and catches up,
        and no acknowledged write is lost on any node"""
        self.cluster.wait_voters()
        old = self.leader()
        p = uniq("writer")
        writer = Writer(self.cluster, p)
        writer.start()
        try:
            wait_for(lambda: len(writer.acked) >= 30, 10, "30 writes before the kill")
            old.kill_group()
            killed_at = time.monotonic()
            self.assertEqual(old.wait_gone(15), [], "processes of %s survived kill -9"
                             % old.name)
            new = self.leader(exclude=(old.name,))
            elected = time.monotonic() - killed_at
            self.assertLess(elected, scaled(3.0),
                            "no new leader within 3 s of kill -9 (took %.2fs)" % elected)
            wait_for(lambda: writer.acks_after(killed_at) >= 30, 10,
                     "30 acknowledged writes after the failover (refusals %s)"
                     % writer.refusals)
            old.start(wait=False)
            old.wait_ready(30)
            self.assertEqual(self.leader().name, new.name)
            restarted = time.monotonic()
            wait_for(lambda: writer.acks_after(restarted) >= 30, 10,
                     "30 acknowledged writes after the restart")
        finally:
            writer.stop()
        self.assertFalse(writer.is_alive(), "the writer did not stop")
        check_view(self, new, self.cluster.nodes, new.name,
                   {m.name for m in self.cluster.nodes})
        r = old.request("GET", "admin/cluster", binding="private")
        self.expect(r, 200)
        self.assertEqual(r.json()["leader"], new.name, r.describe())
        for m in self.cluster.nodes:
            check_all_on(self, m, p, writer.acked)
        r = old.request("POST", "set", {"key": p + "x", "value": "x"})
        self.expect(r, 307, "NOT_LEADER")

    def test_write_redirect(self):
        lead = self.leader()
        p = uniq("redir")
        for f in self.followers(lead):
            body = {"key": p + f.name, "value": "v"}
            r = f.request("POST", "set", body, query="a=1%2B2&b")
            self.expect(r, 307, "NOT_LEADER")
            self.assertEqual(r.header("Location"),
                             "http://127.0.0.1:%d/db/api/v1/set?a=1%%2B2&b" % lead.public,
                             r.describe())
            self.assertEqual(r.header("X-Insidb-Leader"), lead.name, r.describe())
            self.assertEqual(r.json().get("leader"), lead.name, r.describe())
            self.assertEqual(r.header("X-Insidb-Node"), f.name, r.describe())
            # no query: no "?"
            r = f.request("POST", "bump", {"key": p + "n", "value": 1})
            self.expect(r, 307, "NOT_LEADER")
            self.assertEqual(r.header("Location"),
                             "http://127.0.0.1:%d/db/api/v1/bump" % lead.public, r.describe())
            # the client resends to Location
            self.expect_json(lead.request("POST", "set", body), {})
            # authentication comes before leader routing
            r = f.request("POST", "set", body, auth=False)
            self.expect(r, 401, "AUTHENTICATION_FAILED")

    def test_replication_and_consistency(self):
        lead = self.leader()
        p = uniq("repl")
        self.expect_json(lead.request("POST", "set", {"key": p + "k", "value": "v1"}), {})
        for f in self.followers(lead):
            r = f.request("GET", "get", query={"key": p + "k", "consistency": "linearizable"})
            self.expect_json(r, {"data": "v1"}, "linearizable read on %s: " % f.name)
            self.assertEqual(r.header("X-Insidb-Consistency"), "linearizable", r.describe())

            def local_read():
                r = f.request("GET", "get", query={"key": p + "k"})
                return r if r.status == 200 else None
            r = wait_for(local_read, 10, "the write to reach %s" % f.name)
            self.expect_json(r, {"data": "v1"})
            self.assertEqual(r.header("X-Insidb-Consistency"), "local",
                             "a default read on a follower is local" + r.describe())
            r = f.request("GET", "iterate/prefix",
                          query={"prefix": p, "consistency": "linearizable"})
            self.expect_json(r, {"data": [p + "k"]})

    def test_failover_and_catch_up(self):
        old = self.leader()
        p = uniq("fail")
        keys = [p + "%03d" % i for i in range(50)]
        with Conn(old.public) as c:
            for k in keys:
                r = c.request("POST", path_for("set"), json.dumps({"key": k, "value": k}),
                              old.auth_headers(True))
                self.expect_json(r, {})
        old.kill_group()
        self.assertEqual(old.wait_gone(15), [], "processes of %s survived kill -9" % old.name)
        new = self.leader(exclude=(old.name,))
        self.assertNotEqual(new.name, old.name)
        # every acknowledged write is on the new leader
        r = new.request("GET", "iterate/prefix", query={"prefix": p, "limit": 1000,
                                                         "consistency": "linearizable"})
        self.expect_json(r, {"data": keys})
        self.expect_json(new.request("POST", "set", {"key": p + "after", "value": "a"}), {})
        # the old leader comes back as a follower and catches up
        old.start(wait=False)
        old.wait_ready(30)
        self.assertEqual(self.leader().name, new.name)

        def caught_up():
            r = old.request("GET", "get", query={"key": p + "after"})
            return r.status == 200 and r.json() == {"data": "a"}
        wait_for(caught_up, 20, "%s to catch up" % old.name)
        r = old.request("POST", "set", {"key": p + "x", "value": "x"})
        self.expect(r, 307, "NOT_LEADER")


class Cluster5(Cluster3):
    """five nodes: two may fail and the rest still serve writes"""
    size = 5

    # the three-node cases that are not repeated here
    test_write_redirect = None
    test_replication_and_consistency = None
    test_failover_and_catch_up = None
    test_private_route_redirect = None
    test_linearizable_read_right_after_write = None
    test_failover_under_writes = None

    def test_two_failures_tolerated(self):
        p = uniq("five")
        first = self.leader()
        self.expect_json(first.request("POST", "set", {"key": p + "a", "value": "1"}), {})
        first.kill_group()
        self.assertEqual(first.wait_gone(15), [])
        second = self.leader(exclude=(first.name,))
        self.expect_json(second.request("POST", "set", {"key": p + "b", "value": "2"}), {})
        # a follower goes too: three of five remain, a majority
        victim = [m for m in self.cluster.running() if m is not second][0]
        victim.kill_group()
        self.assertEqual(victim.wait_gone(15), [])
        lead = self.leader()
        self.expect_json(lead.request("POST", "set", {"key": p + "c", "value": "3"}), {})
        r = lead.request("GET", "iterate/prefix", query={"prefix": p,
                                                          "consistency": "linearizable"})
        self.expect_json(r, {"data": [p + "a", p + "b", p + "c"]})
        # both come back and catch up
        for m in (first, victim):
            m.start(wait=False)
        for m in (first, victim):
            m.wait_ready(30)

            def has_c(m=m):
                r = m.request("GET", "get", query={"key": p + "c"})
                return r.status == 200
            wait_for(has_c, 20, "%s to catch up" % m.name)
