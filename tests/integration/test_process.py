"""Process model: the supervisor and its three roles, privilege separation
when run as root, role restart after kill -9, restart of the whole node,
insidbctl status/rootkey/exit codes, and SIGTERM."""

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import unittest

import harness

from harness import (NodeTestCase, Conn, path_for, proc_cmdline,
                     proc_stat, proc_status, descendants, role_of, alive, wait_for,
                     Abort, run_user)

ROLES = ("raftd", "apid", "blobd")


def uniq(tag):
    return "%s-%s/" % (tag, os.urandom(4).hex())


def set_many(test, keys, value_of):
    """acknowledged sets over one keep-alive connection"""
    auth = test.node.auth_headers(True)
    with Conn(test.node.public) as c:
        for k in keys:
            r = c.request("POST", path_for("set"),
                          json.dumps({"key": k, "value": value_of(k)}), auth)
            test.expect_json(r, {}, "set %r: " % k)


def check_all(test, keys, value_of):
    auth = test.node.auth_headers(True)
    missing = []
    with Conn(test.node.public) as c:
        for k in keys:
            r = c.request("GET", path_for("get", {"key": k}), None, auth)
            if r.status != 200 or r.json() != {"data": value_of(k)}:
                missing.append((k, r.status, r.body[:100]))
    test.assertEqual(missing, [], "%d of %d acknowledged writes lost or wrong; first: %r"
                     % (len(missing), len(keys), missing[:5]))


def wait_serving(test, key, value, timeout=30):
    """ping answers as leader and key reads back"""
    n = test.node

    def ok():
        n._check_running()
        r = n.request("GET", "ping")
        if r.status != 200 or r.json().get("leader") != "node0":
            return False
        r = n.request("GET", "get", query={"key": key})
        return r.status == 200 and r.json() == {"data": value}
    try:
        wait_for(ok, timeout, "the node to serve again")
    except (AssertionError, Abort) as e:
        test.fail("%s; log:\n%s" % (e, n.log_tail()))


def find_role_pids(doc):
    """{role: pid} from insidbctl -j status, whatever its nesting"""
    found = {}

    def walk(x, under=None):
        if isinstance(x, dict):
            name = None
            for v in x.values():
                if isinstance(v, str) and v in ROLES:
                    name = v
            if name is None and under in ROLES:
                name = under
            if name is not None and isinstance(x.get("pid"), int):
                found.setdefault(name, x["pid"])
            for k, v in x.items():
                if k in ROLES and isinstance(v, int) and not isinstance(v, bool):
                    found.setdefault(k, v)
                walk(v, k if k in ROLES else None)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(doc)
    return found


def strings_in(doc):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield k
            yield from strings_in(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from strings_in(v)
    elif isinstance(doc, str):
        yield doc


class Processes(NodeTestCase):
    node_tag = "proc"
    maxDiff = None

    def test_four_processes(self):
        n = self.node
        roles = n.wait_roles()
        sup = n.proc.pid
        desc = descendants(sup)
        described = {pid: proc_cmdline(pid) for pid in desc}
        self.assertEqual(len(desc), 3, "supervisor %d must have exactly 3 descendants: %r"
                         % (sup, described))
        self.assertEqual(sorted(role_of(c) for c in described.values()), sorted(ROLES),
                         "the descendants must be one raftd, one apid, one blobd: %r"
                         % described)
        for role in ROLES:
            pid = roles[role]
            self.assertEqual(proc_stat(pid)[1], sup, "%s is not a child of the supervisor"
                             % role)
            exe = os.readlink("/proc/%d/exe" % pid).replace(" (deleted)", "")
            self.assertEqual(os.path.realpath(exe), os.path.realpath(harness.INSID),
                             "%s does not run the insid binary: %r" % (role, exe))
        # nothing else runs with our temp dir in its command line
        others = [p for p in n.leftovers() if p != sup and p not in desc]
        self.assertEqual(others, [], "unexpected processes: %r"
                         % {p: proc_cmdline(p) for p in others})

    def test_open_file_limit_raised(self):
        n = self.node
        roles = n.wait_roles()
        for name, pid in [("supervisor", n.proc.pid)] + sorted(roles.items()):
            with open("/proc/%d/limits" % pid) as f:
                line = [ln for ln in f if ln.startswith("Max open files")][0]
            soft, hard = line.split()[3:5]
            self.assertEqual(soft, hard, "%s: open-file limit not raised to the hard "
                             "limit: %s" % (name, line.strip()))

    def test_roles_privileges(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("not root: roles keep our uid, no jail")
        n = self.node
        roles = n.wait_roles()
        name, uid, gid = n.user
        jails = {"raftd": n.node_dir, "apid": os.path.join(n.node_dir, "empty"),
                 "blobd": os.path.join(n.node_dir, "blobs")}
        problems = []
        for role in ROLES:
            pid = roles[role]
            st = proc_status(pid)
            uids = st["Uid"].split()
            gids = st["Gid"].split()
            if uids != [str(uid)] * 4:
                problems.append("%s uid %r, want %s (%d) x4" % (role, uids, name, uid))
            if gids != [str(gid)] * 4:
                problems.append("%s gid %r, want %d x4" % (role, gids, gid))
            groups = st.get("Groups", "").split()
            if any(g != str(gid) for g in groups):
                problems.append("%s keeps supplementary groups %r" % (role, groups))
            # every thread, those started before the drop included: the
            # filter is loaded with TSYNC and brings NoNewPrivs along
            for tid in os.listdir("/proc/%d/task" % pid):
                ts = proc_status("%d/task/%s" % (pid, tid))
                if ts is None:
                    continue    # the thread ended meanwhile
                if ts.get("NoNewPrivs") != "1":
                    problems.append("%s thread %s NoNewPrivs %r"
                                    % (role, tid, ts.get("NoNewPrivs")))
                if ts.get("Seccomp") != "2":
                    problems.append("%s thread %s Seccomp %r, want 2 (filter)"
                                    % (role, tid, ts.get("Seccomp")))
            root = os.readlink("/proc/%d/root" % pid)
            if os.path.realpath(root) != os.path.realpath(jails[role]):
                problems.append("%s root %r, want %r" % (role, root, jails[role]))
            cap_eff = st.get("CapEff", "")
            if cap_eff.strip("0"):
                problems.append("%s has effective capabilities %s" % (role, cap_eff))
        self.assertEqual(problems, [])

    def test_roles_user_is_insidb(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("not root")
        if run_user()[0] != "_insidb":
            raise unittest.SkipTest("user _insidb does not exist on this machine; "
                                    "the privilege test used %r" % run_user()[0])
        self.assertEqual(self.node.user[0], "_insidb")

    def test_data_layout(self):
        n = self.node
        for sub in ("raft", "blobs"):
            self.assertTrue(os.path.isdir(os.path.join(n.node_dir, sub)),
                            "<insid_home>/node0/%s missing" % sub)
        with open(os.path.join(n.node_dir, "badge_id")) as f:
            self.assertRegex(f.read().strip(), r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
                             r"[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

    def test_insidbctl_status_text(self):
        n = self.node
        roles = n.wait_roles()
        r = n.ctl("status")
        out = r.stdout.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, "insidbctl status exit %d\nstdout:\n%s\nstderr:\n%s"
                         % (r.returncode, out, r.stderr.decode("utf-8", "replace")))
        self.assertIn("node0", out)
        for role in ROLES:
            lines = [ln for ln in out.splitlines() if role in ln]
            self.assertTrue(any(str(roles[role]) in ln.split() or
                                ("%d" % roles[role]) in ln for ln in lines),
                            "status does not show %s with pid %d:\n%s"
                            % (role, roles[role], out))

    def test_insidbctl_status_json(self):
        n = self.node
        roles = n.wait_roles()
        r = self._ctl_json("status")
        out = r.stdout.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, "insidbctl -j status exit %d: %s"
                         % (r.returncode, r.stderr.decode("utf-8", "replace")))
        try:
            doc = json.loads(out)
        except ValueError as e:
            self.fail("insidbctl -j status is not JSON (%s):\n%s" % (e, out))
        self.assertIn("node0", set(strings_in(doc)), out)
        self.assertEqual(find_role_pids(doc), roles,
                         "role pids in -j status differ from /proc:\n%s" % out)

    def _ctl_json(self, *args):
        return harness.run_bounded([harness.INSIDBCTL, "-j", "-f", self.node.config,
                                    "-N", "node0"] + list(args), 30)

    def test_insidbctl_socket_flag(self):
        n = self.node
        r = n.ctl("-s", n.socket, "status", config=False)
        self.assertEqual(r.returncode, 0, r.stderr.decode("utf-8", "replace"))
        self.assertIn("node0", r.stdout.decode("utf-8", "replace"))

    def test_insidbctl_rootkey(self):
        r = self.node.ctl("rootkey")
        self.assertEqual(r.returncode, 0, r.stderr.decode("utf-8", "replace"))
        self.assertEqual(r.stdout.decode().strip(), self.node.root_key)
        self.assertEqual(len(self.node.root_key), 88)

    def test_insidbctl_unreachable(self):
        n = self.node
        missing = os.path.join(n.dir, "no-such.sock")
        r = n.ctl("-s", missing, "status", config=False)
        self.assertEqual(r.returncode, 3, "exit %d for a missing socket: %s"
                         % (r.returncode, r.stderr))
        self.assertTrue(r.stderr.strip(), "no message on stderr")
        # a socket file nobody listens on
        dead = os.path.join(n.dir, "dead.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(dead)
        s.close()
        r = n.ctl("-s", dead, "status", config=False)
        self.assertEqual(r.returncode, 3, "exit %d for a dead socket: %s"
                         % (r.returncode, r.stderr))
        # a configuration whose node is not running
        cfg = os.path.join(n.dir, "other.yaml")
        with open(n.config) as f:
            text = f.read().replace(n.socket, missing)
        with open(cfg, "w") as f:
            f.write(text)
        r = harness.run_bounded([harness.INSIDBCTL, "-f", cfg, "-N", "node0", "status"], 30)
        self.assertEqual(r.returncode, 3, "exit %d for a config whose socket is absent: %s"
                         % (r.returncode, r.stderr))

    def test_insidbctl_usage(self):
        r = self.node.ctl("no-such-command")
        self.assertEqual(r.returncode, 2, "exit %d for an unknown command: %s"
                         % (r.returncode, r.stderr))
        r = self.node.ctl(config=False)
        self.assertEqual(r.returncode, 2, "exit %d without a command" % r.returncode)


class RaftdRestart(NodeTestCase):
    node_tag = "raftkill"

    def test_kill_raftd_keeps_acknowledged_writes(self):
        n = self.node
        p = uniq("ack")
        keys = [p + "%03d" % i for i in range(200)]
        value_of = lambda k: "value-of-" + k  # noqa: E731
        set_many(self, keys, value_of)
        before = n.wait_roles()
        old = before["raftd"]
        old_start = proc_stat(old)[4]
        os.kill(old, signal.SIGKILL)

        def restarted():
            n._check_running()
            r = n.roles()
            pid = r.get("raftd")
            return isinstance(pid, int) and pid != old and not alive(old, old_start)
        try:
            wait_for(restarted, 30, "a new raftd process")
        except (AssertionError, Abort) as e:
            self.fail("%s; log:\n%s" % (e, n.log_tail()))
        wait_serving(self, keys[0], value_of(keys[0]))
        check_all(self, keys, value_of)
        # and writes work again
        k = p + "after"

        def write_ok():
            return n.request("POST", "set", {"key": k, "value": "x"}).status == 200
        wait_for(write_ok, 30, "a write after the raftd restart")
        self.expect_json(self.get(k), {"data": "x"})
        after = n.wait_roles()
        self.assertEqual(after["raftd"], n.roles()["raftd"])
        self.assertEqual(len(descendants(n.proc.pid)), 3,
                         "exactly 3 roles after the restart: %r"
                         % {q: proc_cmdline(q) for q in descendants(n.proc.pid)})


class RaftdKillUnderLoad(NodeTestCase):
    node_tag = "raftload"

    def test_kill_raftd_during_writes(self):
        """a writer keeps setting keys and bumping a counter while raftd is
        killed: every acknowledged set survives, and the counter is at least
        the acknowledged bumps and at most those plus the unanswered ones"""
        n = self.node
        p = uniq("load")
        counter = p + "counter"
        state = {"acked": [], "bumps_acked": 0, "bumps_unknown": 0, "errors": 0,
                 "stop": False, "after_kill": None}

        def writer():
            auth = n.auth_headers(True)
            conn = None
            i = 0
            while not state["stop"] and i < 20000:
                i += 1
                key = p + "%05d" % i
                try:
                    if conn is None:
                        conn = Conn(n.public, timeout=15)
                    r = conn.request("POST", path_for("set"),
                                     json.dumps({"key": key, "value": "v" + key}), auth)
                    if r.status == 200:
                        state["acked"].append(key)
                    else:
                        state["errors"] += 1
                    r = conn.request("POST", path_for("bump"),
                                     json.dumps({"key": counter, "value": 1}), auth)
                    if r.status == 200:
                        state["bumps_acked"] += 1
                    elif r.status == 503 or r.status >= 500:
                        state["bumps_unknown"] += 1
                    if (r.header("Connection") or "").lower() == "close":
                        conn.close()
                        conn = None
                except (OSError, harness.ProtocolError):
                    # the bump may or may not have been sent
                    state["bumps_unknown"] += 1
                    state["errors"] += 1
                    if conn is not None:
                        conn.close()
                    conn = None
                    time.sleep(0.01)
            if conn is not None:
                conn.close()

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        try:
            wait_for(lambda: len(state["acked"]) >= 100, 30, "100 acknowledged writes")
            old = n.wait_roles()["raftd"]
            old_start = proc_stat(old)[4]
            os.kill(old, signal.SIGKILL)
            at_kill = len(state["acked"])
            try:
                wait_for(lambda: (isinstance(n.roles().get("raftd"), int) and
                                  n.roles()["raftd"] != old and not alive(old, old_start)),
                         30, "a new raftd")
                wait_for(lambda: len(state["acked"]) >= at_kill + 100, 30,
                         "100 acknowledged writes after the restart")
            except AssertionError as e:
                self.fail("%s; log:\n%s" % (e, n.log_tail()))
        finally:
            state["stop"] = True
            t.join(harness.scaled(30))
        self.assertFalse(t.is_alive(), "writer did not stop")
        print("  writer: %d sets acknowledged, %d bumps acknowledged, %d unanswered, %d errors"
              % (len(state["acked"]), state["bumps_acked"], state["bumps_unknown"],
                 state["errors"]))
        check_all(self, state["acked"], lambda k: "v" + k)
        r = self.get(counter)
        self.expect(r, 200)
        total = int(r.json()["data"])
        self.assertGreaterEqual(total, state["bumps_acked"],
                                "acknowledged bumps lost: %r" % state)
        self.assertLessEqual(total, state["bumps_acked"] + state["bumps_unknown"],
                             "bumps applied that were refused: %r" % state)


class GroupKillRestart(NodeTestCase):
    node_tag = "groupkill"

    def test_kill_group_and_restart(self):
        n = self.node
        p = uniq("grp")
        keys = [p + "%03d" % i for i in range(100)]
        value_of = lambda k: k[::-1]  # noqa: E731
        set_many(self, keys, value_of)
        badge = n.request("GET", "ping").json()["node-badge-id"]
        n.wait_roles()
        n.kill_group()
        left = n.wait_gone(15)
        self.assertEqual(left, [], "processes survived kill -9 of the group: %r"
                         % {q: proc_cmdline(q) for q in left})
        n.start()
        wait_serving(self, keys[0], value_of(keys[0]))
        check_all(self, keys, value_of)
        r = n.request("GET", "ping")
        self.assertEqual(r.json()["node-badge-id"], badge, "badge changed across restart")
        self.expect_json(self.set(p + "new", "n"), {})
        roles = n.wait_roles()
        self.assertEqual(sorted(roles), sorted(ROLES))


class SigtermStop(NodeTestCase):
    node_tag = "sigterm"

    def test_sigterm_stops_everything(self):
        n = self.node
        p = uniq("term")
        self.expect_json(self.set(p + "k", "v"), {})
        roles = n.wait_roles()
        sup = n.proc.pid
        starts = {pid: proc_stat(pid)[4] for pid in list(roles.values()) + [sup]}
        n.proc.send_signal(signal.SIGTERM)
        try:
            rc = n.proc.wait(harness.scaled(20))
        except subprocess.TimeoutExpired:
            self.fail("supervisor still running 20 s after SIGTERM; log:\n%s" % n.log_tail())
        self.assertEqual(rc, 0, "exit status after SIGTERM; log:\n%s" % n.log_tail())

        def all_gone():
            return not any(alive(pid, st) for pid, st in starts.items())
        try:
            wait_for(all_gone, 10, "all four processes to exit")
        except AssertionError:
            self.fail("still running after SIGTERM: %r"
                      % [pid for pid, st in starts.items() if alive(pid, st)])
        for port in (n.public, n.private):
            with self.assertRaises(OSError, msg="port %d still accepts" % port):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()

    def test_insidbctl_after_stop(self):
        n = self.node
        if n.proc.poll() is None:
            n.stop()
        r = n.ctl("status")
        self.assertEqual(r.returncode, 3, "insidbctl status on a stopped node: exit %d: %s"
                         % (r.returncode, r.stderr))

    def test_restart_after_sigterm(self):
        n = self.node
        if n.proc.poll() is None:
            n.stop()
        n.start()
        r = n.request("GET", "iterate/prefix", query={"prefix": "term-"})
        self.expect(r, 200)
        self.assertEqual(len(r.json()["data"]), 1, r.describe())


class RoleCrashLoop(NodeTestCase):
    node_tag = "crashloop"

    def test_fifth_crash_in_a_minute_exits_3(self):
        n = self.node
        for i in range(5):
            def role_up():
                n._check_running()
                pid = n.roles().get("raftd")
                return pid if isinstance(pid, int) else None
            try:
                pid = wait_for(role_up, 30, "raftd (crash %d)" % (i + 1))
            except Abort as e:
                self.fail("supervisor exited before the 5th crash (after %d): %s" % (i, e))
            start = proc_stat(pid)[4]
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not alive(pid, start), 10, "killed raftd to go")
        try:
            rc = n.proc.wait(harness.scaled(30))
        except subprocess.TimeoutExpired:
            self.fail("supervisor still running after 5 raftd crashes; log:\n%s"
                      % n.log_tail())
        self.assertEqual(rc, 3, "exit status after the 5th crash; log:\n%s" % n.log_tail())
        left = n.wait_gone(15)
        self.assertEqual(left, [], "processes left after exit 3: %r"
                         % {q: proc_cmdline(q) for q in left})


class SigintStop(NodeTestCase):
    node_tag = "sigint"

    def test_sigint_stops_everything(self):
        n = self.node
        roles = n.wait_roles()
        starts = {pid: proc_stat(pid)[4] for pid in list(roles.values()) + [n.proc.pid]}
        n.proc.send_signal(signal.SIGINT)
        try:
            rc = n.proc.wait(harness.scaled(20))
        except subprocess.TimeoutExpired:
            self.fail("supervisor still running 20 s after SIGINT")
        self.assertEqual(rc, 0, "exit status after SIGINT; log:\n%s" % n.log_tail())
        wait_for(lambda: not any(alive(p, s) for p, s in starts.items()), 10,
                 "all four processes to exit after SIGINT")


class Startup(NodeTestCase):
    """insid -n and startup errors; nodes are started by the tests"""
    node_tag = "startup"
    start_node = False

    def insid(self, *args, timeout=30):
        return harness.run_bounded([harness.INSID] + list(args), timeout)

    def write(self, name, text):
        path = os.path.join(self.node.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_check_ok(self):
        r = self.insid("-n", "-f", self.node.config, "-N", "node0")
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, out)
        self.assertIn("configuration OK", out)
        self.assertNotIn(self.node.secret, out, "-n printed the instance secret")

    def test_check_reports_every_error_with_line(self):
        with open(self.node.config) as f:
            text = f.read()
        text = text.replace("default_leader: node0",
                            "default_leader: node0\nbogus_key: 1\nroot_prefix: \"a b\"")
        bad = self.write("bad.yaml", text)
        r = self.insid("-n", "-f", bad, "-N", "node0")
        err = (r.stdout + r.stderr).decode("utf-8", "replace")
        self.assertEqual(r.returncode, 1, err)
        lines = text.splitlines()
        ln_bogus = lines.index("bogus_key: 1") + 1
        ln_prefix = lines.index('root_prefix: "a b"') + 1
        self.assertRegex(err, r"bad\.yaml:%d: bogus_key: " % ln_bogus)
        self.assertRegex(err, r"bad\.yaml:%d: root_prefix: " % ln_prefix)
        self.assertNotIn("configuration OK", err)

    def test_check_override_error(self):
        r = self.insid("-n", "-f", self.node.config, "-N", "node0",
                       "-D", "logging.level=debug", "-D", "limits.max_value_size=12")
        err = (r.stdout + r.stderr).decode("utf-8", "replace")
        self.assertEqual(r.returncode, 1, err)
        self.assertRegex(err, r"-D:2: limits\.max_value_size: ")

    def test_wrong_usage_exits_2(self):
        r = self.insid("-Z")
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_port_in_use_exits_1(self):
        n = self.node
        blocker = socket.socket()
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", n.public))
        blocker.listen(1)
        try:
            n.start(wait=False)
            try:
                rc = n.proc.wait(harness.scaled(30))
            except subprocess.TimeoutExpired:
                self.fail("insid keeps running although its public port is taken")
            log = n.log_text()
            self.assertEqual(rc, 1, log)
            self.assertIn(str(n.public), log, "the message does not name the port")
        finally:
            blocker.close()
        self.assertEqual(n.wait_gone(10), [])


class Ctl(NodeTestCase):
    """CLI.md insidbctl commands beyond status"""
    node_tag = "ctl"

    def ok(self, *args):
        r = self.node.ctl(*args)
        out = r.stdout.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, "insidbctl %s: exit %d\nstdout:\n%s\nstderr:\n%s"
                         % (" ".join(args), r.returncode, out,
                            r.stderr.decode("utf-8", "replace")))
        return out

    def test_show_node(self):
        n = self.node
        out = self.ok("show", "node")
        for what in ("127.0.0.1:%d" % n.public, "127.0.0.1:%d" % n.private):
            self.assertIn(what, out, "show node lacks the listener %s" % what)
        self.assertIn(os.path.realpath(n.node_dir), out, "show node lacks the data directory")
        doc = json.loads(self.ok("-j", "show", "node"))
        strings = " ".join(strings_in(doc))
        self.assertIn("127.0.0.1:%d" % n.public, strings)

    def test_show_cluster(self):
        n = self.node
        out = self.ok("show", "cluster")
        self.assertIn("node0", out)
        self.assertIn("127.0.0.1:%d" % n.raft, out)
        doc = json.loads(self.ok("-j", "show", "cluster"))
        self.assertIn("node0", set(strings_in(doc)))

    def test_log_level(self):
        n = self.node
        self.ok("log", "level", "debug")
        before = n.log_text().count(" debug: ")
        self.ok("status")
        n.request("GET", "ping")
        wait_for(lambda: n.log_text().count(" debug: ") > before, 5,
                 "debug lines after `log level debug`")
        self.ok("log", "level", "info")
        r = n.ctl("log", "level", "bogus")
        self.assertIn(r.returncode, (1, 2), "log level bogus: exit %d" % r.returncode)

    def test_snapshot(self):
        p = uniq("snap")
        for i in range(20):
            self.expect_json(self.set(p + str(i), str(i)), {})
        self.ok("snapshot")
        for i in range(20):
            self.expect_json(self.get(p + str(i)), {"data": str(i)})

    def test_backup_and_restore(self):
        n = self.node
        p = uniq("bak")
        keys = [p + "%03d" % i for i in range(50)]
        set_many(self, keys, lambda k: k.upper())
        dest = os.path.join(n.dir, "backup")
        self.ok("backup", dest)
        self.assertTrue(os.path.isdir(dest) and os.listdir(dest), "backup dir is empty")
        self.expect_json(self.set(p + "after-backup", "x"), {})
        # a new node started from the backup has the data of the backup
        other = harness.Node("restore")
        try:
            with open(other.config) as f:
                text = f.read()
            with open(other.config, "w") as f:
                f.write(text.replace(other.secret, n.secret))
            other.secret, other.root_key = n.secret, n.root_key
            other.start_args = ["--restore", dest, "--force-new-cluster"]
            other.start()
            r = other.request("GET", "iterate/prefix", query={"prefix": p, "limit": 1000})
            self.expect_json(r, {"data": keys})
        finally:
            left = other.cleanup()
        self.assertEqual(left, [])


class Reload(NodeTestCase):
    node_tag = "reload"

    def test_reload_rate_limits(self):
        n = self.node
        self.expect(n.request("GET", "get", query={"key": "a"}), 404, "KEY_NOT_FOUND")
        with open(n.config) as f:
            text = f.read()
        new = re.sub(r"  values: \{[^}]*\}", "  values: {limit: 0.1, burst: 1}", text)
        self.assertNotEqual(new, text)
        with open(n.config, "w") as f:
            f.write(new)
        r = n.ctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        codes = []

        def limited():
            codes.append(n.request("GET", "get", query={"key": "a"}).status)
            return codes[-1] == 429
        try:
            wait_for(limited, 5, "a 429 under the reloaded rate limit")
        except AssertionError:
            self.fail("rate_limiters.values not applied by reload: %d requests, statuses %r"
                      % (len(codes), sorted(set(codes))))
        # a broken file is refused and nothing changes
        with open(n.config, "w") as f:
            f.write(new + "bogus_key: 1\n")
        r = n.ctl("reload")
        self.assertEqual(r.returncode, 1, "reload of a bad file: exit %d" % r.returncode)
        self.expect(n.request("GET", "ping"), 200)
