"""Cluster operations on loopback: a minority of stalled nodes (SIGSTOP)
refuses writes and linearizable reads but serves default reads (API.md §5),
a far-behind follower converges through a snapshot, membership by hand
(join, remove, transfer: §17, CLI.md show cluster), a whole-cluster restart
keeps every acknowledged write, and scripts/cluster-3node.sh runs a copy of
etc/insid-3node.yaml."""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Cluster, Conn, path_for, scaled, wait_for
from test_cluster import Writer, all_keys, check_all_on, check_view, ctl_table, uniq

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


class _ClusterCase(harness.NodeTestCase):
    """a cluster of size nodes for the class, all started (auto-join)"""

    size = 3
    tag = "ops"
    extra_yaml = ""

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(cls.tag, cls.size, extra_yaml=cls.extra_yaml)
        cls.node = cls.cluster.nodes[0]
        try:
            cls.start_cluster()
        except BaseException:
            cls.cluster.cleanup()
            raise

    @classmethod
    def start_cluster(cls):
        cls.cluster.start()

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

    def write(self, node, key, value):
        self.expect_json(node.request("POST", "set", {"key": key, "value": value}), {})

    def error_type(self, r):
        try:
            return r.json().get("error_type")
        except ValueError:
            return None


class ClusterMinority(_ClusterCase):
    """two of three nodes stalled by SIGSTOP of every process"""

    tag = "minority"

    def refused(self, node, stalled_leader=None):
        """a write on node is refused as §5 says for a minority: 503
        NO_LEADER with Retry-After, or 307 to the stalled leader"""
        r = node.request("POST", "set", {"key": uniq("minority") + "w", "value": "x"})
        self.assertNotEqual(r.status, 200, "a write acknowledged by a minority"
                            + r.describe())
        if r.status == 503 and self.error_type(r) == "COMMIT_UNKNOWN":
            return None     # proposed before it saw the majority gone
        if r.status == 307 and stalled_leader is not None:
            self.expect(r, 307, "NOT_LEADER")
            self.assertEqual(r.header("Location"), "http://127.0.0.1:%d/db/api/v1/set"
                             % stalled_leader.public, r.describe())
            return r
        self.expect(r, 503, "NO_LEADER", msg="write on a minority: ")
        self.assertEqual(r.header("Retry-After"), "1", r.describe())
        return r

    def check_minority(self, node, stalled_leader, key):
        wait_for(lambda: self.refused(node, stalled_leader), 15,
                 "%s to refuse writes" % node.name)
        for _ in range(3):
            self.refused(node, stalled_leader)
        r = node.request("GET", "get", query={"key": key, "consistency": "linearizable"})
        self.expect(r, 503, "NO_LEADER", msg="linearizable read on a minority: ")
        r = node.request("GET", "iterate/prefix",
                         query={"prefix": key, "consistency": "linearizable"})
        self.expect(r, 503, "NO_LEADER", msg="linearizable read on a minority: ")
        r = node.request("GET", "get", query={"key": key})
        self.expect_json(r, {"data": "before"}, "default read on a minority: ")
        self.assertEqual(r.header("X-Insidb-Consistency"), "local", r.describe())

    def stall_and_recover(self, keep):
        """freezes every node but keep, checks keep, thaws, checks recovery"""
        lead = self.leader()
        key = uniq("minority") + "before"
        self.write(lead, key, "before")
        for m in self.cluster.nodes:
            check_all_on(self, m, key, {key: "before"})
        stalled = [m for m in self.cluster.nodes if m is not keep]
        try:
            for m in stalled:
                self.assertTrue(m.freeze(), "no process of %s to stop" % m.name)
            self.check_minority(keep, None if keep is lead else lead, key)
        finally:
            for m in stalled:
                m.thaw()
        self.cluster.wait_voters(30)
        lead = self.leader()
        after = uniq("minority") + "after"

        def write_ok():
            r = lead.request("POST", "set", {"key": after, "value": "a"})
            return r.status == 200
        wait_for(write_ok, 15, "a write after SIGCONT")
        for m in self.cluster.nodes:
            check_all_on(self, m, key, {key: "before"})
            check_all_on(self, m, after, {after: "a"})
            r = m.request("GET", "get", query={"key": after, "consistency": "linearizable"})
            self.expect_json(r, {"data": "a"}, "linearizable read after recovery: ")

    def test_follower_alone(self):
        """the leader and one follower stalled: the other follower"""
        lead = self.leader()
        self.stall_and_recover(self.followers(lead)[0])

    def test_leader_alone(self):
        """both followers stalled: the leader loses its majority"""
        self.stall_and_recover(self.leader())


class ClusterSnapshot(_ClusterCase):
    """a follower stopped while the log moves far past it gets a snapshot"""

    tag = "snap"
    extra_yaml = "raft:\n  snapshot_threshold: 16\n  snapshot_trailing: 0\n"

    def test_far_behind_follower_gets_a_snapshot(self):
        lead = self.leader()
        victim = self.followers(lead)[0]
        p = uniq("snap")
        self.write(lead, p + "first", "0")
        check_all_on(self, victim, p, {p + "first": "0"})
        self.assertEqual(victim.stop(), 0, "exit status of %s after SIGTERM" % victim.name)
        self.assertEqual(victim.wait_gone(15), [])
        expected = {p + "first": "0"}
        with Conn(lead.public) as c:
            for i in range(300):
                k, v = p + "%04d" % i, "v%d" % i
                r = c.request("POST", path_for("set"), json.dumps({"key": k, "value": v}),
                              lead.auth_headers(True))
                self.expect_json(r, {})
                expected[k] = v
        self.assertIn("snapshot at index", lead.log_text(),
                      "the leader took no snapshot with snapshot_threshold 16")
        victim.start(wait=False)
        victim.wait_ready(30)
        check_all_on(self, victim, p, expected, timeout=30)
        self.assertRegex(victim.log_text(), r"installed snapshot \d+",
                         "%s caught up without a snapshot install" % victim.name)
        # it keeps following after the install
        self.write(lead, p + "last", "z")
        check_all_on(self, victim, p + "last", {p + "last": "z"})
        r = victim.request("GET", "get", query={"key": p + "0299",
                                                 "consistency": "linearizable"})
        self.expect_json(r, {"data": "v299"})
        # §19.2 counts snapshots; checked where /metrics is served
        r = victim.request("GET", "/metrics", binding="private", auth=False)
        if r.status == 200:
            m = re.search(rb"(?m)^insidb_raft_snapshots_total(?:\{[^}]*\})? (\S+)$", r.body)
            self.assertIsNotNone(m, "no insidb_raft_snapshots_total" + r.describe())
            self.assertGreaterEqual(float(m.group(1)), 1, r.describe())


class ClusterMembership(_ClusterCase):
    """node3 is configured but started with -J: it waits to be joined by
    hand; then removal and leadership transfer"""

    size = 4
    tag = "member"

    @classmethod
    def start_cluster(cls):
        c = cls.cluster
        cls.first = c.nodes[:3]
        cls.extra = c.nodes[3]
        cls.extra.start_args = ["-J"]
        for m in cls.first:
            m.start(wait=False)
        for m in cls.first:
            m.wait_ready(60)
        wait_for(lambda: cls.voters_of(cls.first) == {m.name for m in cls.first}, 30,
                 "three voters")
        cls.extra.start(wait=False)

        def answers():
            cls.extra._check_running()
            return cls.extra.request("GET", "ping").status == 200
        wait_for(answers, 30, "node3 to answer ping")

    @classmethod
    def lead_of(cls, members):
        """the leader every node of members agrees on, or None"""
        names = set()
        for m in members:
            r = m.request("GET", "ping")
            if r.status != 200:
                return None
            names.add(r.json().get("leader"))
        name = names.pop() if len(names) == 1 else None
        return cls.cluster.by_name.get(name) if name else None

    @classmethod
    def voters_of(cls, members):
        lead = cls.lead_of(members)
        if lead is None:
            return None
        r = lead.request("GET", "admin/cluster", binding="private")
        return {n["id"] for n in r.json()["nodes"] if n["voter"] is True} \
            if r.status == 200 else None

    def members_lead(self, members):
        return wait_for(lambda: self.lead_of(members), 15,
                        "%s to agree on a leader" % [m.name for m in members])

    def show_cluster(self, node):
        """(text table rows, JSON) of insidbctl show cluster on node"""
        t = node.ctl("show", "cluster")
        self.assertEqual(t.returncode, 0, t.stderr.decode())
        rows = ctl_table(t.stdout.decode())
        self.assertIsNotNone(rows, "no member table in:\n" + t.stdout.decode())
        j = node.ctl("-j", "show", "cluster")
        self.assertEqual(j.returncode, 0, j.stderr.decode())
        return rows, json.loads(j.stdout.decode())

    def check_ctl_members(self, node, lead, members, voters):
        rows, doc = self.show_cluster(node)
        ctx = "\nshow cluster on %s: %s\n%s" % (node.name, rows, doc)
        self.assertEqual([r["id"] for r in rows], [m.name for m in members], ctx)
        for r, m in zip(rows, members):
            self.assertEqual(r["raft_address"], "127.0.0.1:%d" % m.raft, ctx)
            self.assertEqual(r["voter"], "true" if m.name in voters else "false", ctx)
            self.assertEqual(r["role"], "leader" if m is lead else
                             ("follower" if m.name in voters else "learner"), ctx)
        self.assertEqual(doc.get("leader"), lead.name, ctx)
        self.assertEqual([n["id"] for n in doc["nodes"]], [m.name for m in members], ctx)
        self.assertEqual({n["id"] for n in doc["nodes"] if n["voter"] is True},
                         set(voters), ctx)

    def test_1_no_auto_join_with_J(self):
        time.sleep(scaled(2.5))     # auto-join would have asked by now (1 s)
        lead = self.members_lead(self.first)
        check_view(self, lead, self.first, lead.name, {m.name for m in self.first})
        r = self.extra.request("GET", "ping")
        self.expect(r, 200)
        self.assertEqual(r.json().get("leader"), "", r.describe())
        r = self.extra.request("POST", "set", {"key": uniq("j") + "k", "value": "v"})
        self.expect(r, 503, "NO_LEADER", msg="write on a node never joined: ")

    def test_2_join_by_hand(self):
        lead = self.members_lead(self.first)
        node0 = self.cluster.by_name["node0"]
        x = self.extra
        # an address other than its raft binding is refused (§17.1)
        r = lead.request("GET", "join", query={"followerId": x.name,
                                               "followerAddr": "127.0.0.1:%d" % x.public},
                         binding="private")
        self.expect(r, 400, msg="join with another address: ")
        p = node0.ctl("join", x.name, "127.0.0.1:%d" % x.raft)
        self.assertEqual(p.returncode, 0, "insidbctl join: %s%s" % (p.stdout.decode(),
                                                                    p.stderr.decode()))
        everyone = self.cluster.nodes
        wait_for(lambda: self.voters_of(self.first) == {m.name for m in everyone}, 20,
                 "node3 to be promoted to voter")
        lead = self.members_lead(everyone)
        names = {m.name for m in everyone}
        for m in everyone:
            wait_for(lambda m=m: check_view(self, m, everyone, lead.name, names), 10,
                     "the view of %s to list four voters" % m.name)
        self.check_ctl_members(lead, lead, everyone, names)
        # joining a member again is idempotent
        r = lead.request("GET", "join", query={"followerId": x.name,
                                               "followerAddr": "127.0.0.1:%d" % x.raft},
                         binding="private")
        self.expect(r, 200)
        self.assertEqual(r.json(), {"node_id": x.name, "raft_address": "127.0.0.1:%d"
                                    % x.raft, "voter": True}, r.describe())
        # it replicates
        k = uniq("joined") + "k"
        self.write(lead, k, "j")
        check_all_on(self, x, k, {k: "j"})
        r = x.request("GET", "get", query={"key": k, "consistency": "linearizable"})
        self.expect_json(r, {"data": "j"})

    def test_3_transfer(self):
        everyone = self.cluster.nodes
        names = {m.name for m in everyone}
        lead = self.members_lead(everyone)
        target = [m for m in everyone if m is not lead and m is not self.extra][0]
        r = lead.request("POST", "admin/cluster/transfer", {"node_id": "node9"},
                         binding="private")
        self.expect(r, 404, "NODE_NOT_FOUND")
        r = lead.request("POST", "admin/cluster/transfer", {"node_id": lead.name},
                         binding="private")
        self.expect_json(r, {"success": True, "leader": lead.name}, "transfer to itself: ")
        r = lead.request("POST", "admin/cluster/transfer", {"node_id": target.name},
                         binding="private")
        self.expect_json(r, {"success": True, "leader": target.name})
        new = self.members_lead(everyone)
        self.assertEqual(new.name, target.name)
        for m in everyone:
            wait_for(lambda m=m: check_view(self, m, everyone, target.name, names), 10,
                     "the view of %s to name %s" % (m.name, target.name))
        self.check_ctl_members(lead, target, everyone, names)
        self.write(target, uniq("transfer") + "k", "t")
        r = lead.request("POST", "set", {"key": uniq("transfer") + "k", "value": "t"})
        self.expect(r, 307, "NOT_LEADER")

    def transfer_by_ctl(self, via, to):
        everyone = self.cluster.nodes
        p = via.ctl("leader", "transfer", to.name)
        self.assertEqual(p.returncode, 0, "insidbctl -N %s leader transfer %s: %s%s"
                         % (via.name, to.name, p.stdout.decode(), p.stderr.decode()))
        self.assertEqual(self.members_lead(everyone).name, to.name)
        self.check_ctl_members(via, to, everyone, {m.name for m in everyone})

    def test_3b_transfer_by_insidbctl(self):
        everyone = self.cluster.nodes
        lead = self.members_lead(everyone)
        voters = [m for m in everyone if m is not lead and m is not self.extra]
        # on the leader
        self.transfer_by_ctl(lead, voters[0])
        # on a follower it is relayed to the leader (CLI.md)
        self.transfer_by_ctl(voters[1], lead)

    def test_4_remove(self):
        everyone = self.cluster.nodes
        lead = self.members_lead(everyone)
        x = self.extra
        self.assertIsNot(lead, x)
        r = lead.request("POST", "admin/cluster/remove", {"node_id": lead.name},
                         binding="private")
        self.expect(r, 409, "INVALID_MEMBERSHIP_CHANGE", msg="removing the leader: ")
        r = lead.request("POST", "admin/cluster/remove", {"node_id": "node9"},
                         binding="private")
        self.expect(r, 404, "NODE_NOT_FOUND")
        r = lead.request("POST", "admin/cluster/remove", {"node_id": x.name},
                         binding="private")
        self.expect_json(r, {"success": True})
        rest = self.first
        names = {m.name for m in rest}
        for m in rest:
            wait_for(lambda m=m: check_view(self, m, rest, lead.name, names), 10,
                     "the view of %s without node3" % m.name)
        self.check_ctl_members(lead, lead, rest, names)
        r = lead.request("POST", "admin/cluster/remove", {"node_id": x.name},
                         binding="private")
        self.expect(r, 404, "NODE_NOT_FOUND", msg="removing a removed node: ")
        # the rest goes on; the removed node gets nothing new
        k = uniq("removed") + "k"
        self.write(lead, k, "r")
        for m in rest:
            check_all_on(self, m, k, {k: "r"})
        time.sleep(scaled(1))
        r = x.request("GET", "get", query={"key": k})
        self.expect(r, 404, msg="a removed node applied a later write: ")
        r = x.request("POST", "set", {"key": k, "value": "x"})
        self.assertNotEqual(r.status, 200, "a removed node took a write" + r.describe())


class ClusterRestart(_ClusterCase):
    """SIGTERM to every node with a writer running, then all start again"""

    tag = "restart"

    def test_whole_cluster_restart_keeps_acknowledged_writes(self):
        self.leader()
        p = uniq("restart")
        writer = Writer(self.cluster, p)
        writer.start()
        try:
            wait_for(lambda: len(writer.acked) >= 100, 20, "100 acknowledged writes")
            for m in self.cluster.nodes:
                m.proc.send_signal(signal.SIGTERM)
            for m in self.cluster.nodes:
                try:
                    rc = m.proc.wait(scaled(20))
                except subprocess.TimeoutExpired:
                    m.stopped_cleanly = False
                    rc = m.stop()
                self.assertEqual(rc, 0, "exit status of %s after SIGTERM" % m.name)
        finally:
            writer.stop()
        for m in self.cluster.nodes:
            self.assertEqual(m.wait_gone(15), [], "processes of %s left" % m.name)
        acked = dict(writer.acked)
        self.cluster.start(60)
        lead = self.leader()
        for m in self.cluster.nodes:
            check_all_on(self, m, p, acked, timeout=30)
        keys = all_keys(lead, p, consistency="linearizable")
        self.assertIsNotNone(keys, "a linearizable iterate/prefix on the leader failed")
        self.assertLessEqual(set(acked), set(keys))
        self.write(lead, p + "after", "a")
        for m in self.cluster.nodes:
            check_all_on(self, m, p + "after", {p + "after": "a"})


class ThreeNodeScript(unittest.TestCase):
    """scripts/cluster-3node.sh start|status|stop on a copy of
    etc/insid-3node.yaml whose ports are free ones"""

    SCRIPT = os.path.join(REPO, "scripts", "cluster-3node.sh")

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="insidb-integ-script-")
        os.chmod(cls.dir, 0o755)
        with open(os.path.join(REPO, "etc", "insid-3node.yaml")) as f:
            src = f.read()
        ports = iter(harness.free_ports(9))
        cfg = re.sub(r"127\.0\.0\.1:\d+", lambda m: "127.0.0.1:%d" % next(ports), src)
        cfg = re.sub(r"(?m)^insid_home:.*$", "insid_home: home", cfg)
        cfg = re.sub(r"(?m)^control_socket:.*$", "control_socket: home/insid-{node}.sock",
                     cfg)
        if os.geteuid() == 0:
            cfg += "user: %s\n" % harness.run_user()[0]
        cls.config = os.path.join(cls.dir, "insid.yaml")
        with open(cls.config, "w") as f:
            f.write(cfg)
        m = re.search(r'(?m)^instance_secret: "([^"]*)"', cfg)
        cls.root_key = harness.root_key(m.group(1))
        cls.public = [int(x) for x in re.findall(r"public_binding: 127\.0\.0\.1:(\d+)", cfg)]
        cls.run_dir = os.path.join(cls.dir, "run")
        cls.env = dict(os.environ, INSID=harness.INSID, CONFIG=cls.config,
                       RUN_DIR=cls.run_dir, WAIT=str(int(scaled(30))))
        cls.seen = set()

    @classmethod
    def tearDownClass(cls):
        left = [pid for pid in cls.seen if harness.alive(pid)]
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if not harness.KEEP_DIRS:
            shutil.rmtree(cls.dir, ignore_errors=True)
        if left:
            raise AssertionError("processes left running (killed): %s" % left)

    def script(self, verb):
        p = subprocess.run([self.SCRIPT, verb], env=self.env, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=scaled(90))
        return p.returncode, p.stdout.decode() + p.stderr.decode()

    def pids(self):
        out = {}
        for n in ("node0", "node1", "node2"):
            with open(os.path.join(self.run_dir, n + ".pid")) as f:
                out[n] = int(f.read().strip())
        return out

    def test_start_status_stop(self):
        pids = {}
        rc, out = self.script("start")
        try:
            self.assertEqual(rc, 0, out)
            pids = self.pids()
            for n, pid in pids.items():
                self.assertIn("%s: started (pid %d)" % (n, pid), out)
                self.assertIn("-N", harness.proc_cmdline(pid), n)
                self.seen.add(pid)
                self.seen.update(harness.descendants(pid))
                self.assertTrue(os.path.getsize(os.path.join(self.run_dir, n + ".log")) > 0)
            # the three form one cluster with node0 leading
            auth = [("Authorization", "Bearer " + self.root_key)]

            def agreed():
                names = set()
                for port in self.public:
                    with Conn(port) as c:
                        r = c.request("GET", path_for("ping"), None, auth)
                    names.add(r.json().get("leader") if r.status == 200 else None)
                return names == {"node0"}
            wait_for(agreed, 30, "the three nodes to agree on node0")
            with Conn(self.public[0]) as c:
                r = c.request("POST", path_for("set"), '{"key":"s","value":"1"}', auth)
            self.assertEqual(r.status, 200, r.describe())
            rc, out = self.script("status")
            self.assertEqual(rc, 0, out)
            for n, pid in pids.items():
                self.assertIn("%s: running (pid %d)" % (n, pid), out)
            rc, again = self.script("start")
            self.assertEqual(rc, 0, again)
            self.assertEqual(self.pids(), pids, "a second start replaced pid files")
            self.assertEqual(again.count("already running"), 3, again)
            for pid in pids.values():
                self.seen.update(harness.descendants(pid))
        finally:
            rc, out = self.script("stop")
        self.assertEqual(rc, 0, out)
        for n in pids:
            self.assertIn("%s: stopped" % n, out)
            self.assertFalse(os.path.exists(os.path.join(self.run_dir, n + ".pid")))
        wait_for(lambda: not [p for p in self.seen if harness.alive(p)], 10,
                 "every process of the three nodes to exit")
        rc, out = self.script("status")
        self.assertEqual(rc, 3, out)
        self.assertEqual(out.count("stopped"), 3, out)
        rc, out = self.script("stop")
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.count("not running"), 3, out)
