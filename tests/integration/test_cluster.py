"""Three nodes on loopback: agreement on a leader, redirects of writes
(API.md §4), replication and read consistency (§5), failover after kill -9
of the leader, and a restarted node catching up."""

import json
import os

import harness
from harness import Cluster, Conn, path_for, wait_for


def uniq(tag):
    return "%s-%s/" % (tag, os.urandom(4).hex())


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
