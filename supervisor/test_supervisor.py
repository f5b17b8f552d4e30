"""Process management of insid, with stand-in raftd and apid (insid_fake):
-n, start-up layout and listeners, fd hand-off, jail, insidbctl, reload,
restart after a crash, the crash loop (exit 3), stop order, bad control
requests.  Usage: test_supervisor.py INSID_FAKE INSIDBCTL"""

import base64
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

INSID = INSIDBCTL = None
SECRET = "0123456789abcdef-test-secret"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(fn, timeout=10, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        if int(st.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(d))
    return out


def role_of(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return None
    for i, a in enumerate(args):
        if a == b"-P" and i + 1 < len(args):
            return args[i + 1].decode()
    return None


def listening_inodes():
    """{port: "socket:[inode]"} of listening TCP sockets"""
    out = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            for ln in f.read().splitlines()[1:]:
                x = ln.split()
                if x[3] == "0A":
                    out[int(x[1].split(":")[1], 16)] = "socket:[%s]" % x[9]
    return out


class Node:
    def __init__(self, extra=""):
        self.dir = tempfile.mkdtemp(prefix="insid-sup-")
        os.chmod(self.dir, 0o755)
        self.home = os.path.join(self.dir, "home")
        self.sock = os.path.join(self.dir, "ctl-{node}.sock")
        self.public, self.private, self.raft = free_port(), free_port(), free_port()
        self.config = os.path.join(self.dir, "insid.yaml")
        self.write_config(extra)
        self.proc = None
        self.start_args = []
        self.logf = None
        self.log = os.path.join(self.dir, "insid.log")

    def write_config(self, extra="", level="info", values_limit=None):
        if values_limit is not None:
            extra += "rate_limiters:\n  values: {limit: %s}\n" % values_limit
        with open(self.config, "w") as f:
            f.write('instance_secret: "%s"\ndefault_leader: node0\n'
                    'insid_home: "%s"\ncontrol_socket: "%s"\n'
                    'logging:\n  level: %s\n%s'
                    'nodes:\n  node0:\n'
                    '    public_binding: 127.0.0.1:%d\n'
                    '    private_binding: 127.0.0.1:%d\n'
                    '    raft_binding: 127.0.0.1:%d\n'
                    % (SECRET, self.home, self.sock, level, extra,
                       self.public, self.private, self.raft))

    @property
    def socket(self):
        return self.sock.replace("{node}", "node0")

    def start(self, wait=True):
        readies = self.text().count("info: ready\n") if os.path.exists(self.log) else 0
        if self.logf is not None:
            self.logf.close()
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([INSID, "-d", "-f", self.config] + self.start_args,
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=self.logf, start_new_session=True)
        if wait:
            wait_for(lambda: self.proc.poll() is not None or
                     self.text().count("info: ready\n") > readies, 20, "ready")
            self.check_running()

    def check_running(self):
        if self.proc.poll() is not None:
            raise AssertionError("insid exited %d:\n%s" % (self.proc.returncode, self.text()))

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def roles(self):
        out = {}
        for pid in children(self.proc.pid):
            r = role_of(pid)
            if r:
                out[r] = pid
        return out

    def ctl(self, *args, sock=True):
        cmd = [INSIDBCTL] + (["-s", self.socket] if sock else []) + list(args)
        return subprocess.run(cmd, capture_output=True, timeout=30,
                              stdin=subprocess.DEVNULL)

    def status(self):
        r = self.ctl("-j", "status")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def cleanup(self):
        self.stop()
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        if self.logf is not None:
            self.logf.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def badge(self):
        with open(os.path.join(self.home, "node0", "badge_id")) as f:
            return f.read()


def ctl_raw(path, data, shut=True):
    """sends raw bytes to the control socket, returns (status, json) or None"""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    buf = b""
    while True:
        try:
            c = s.recv(65536)
        except socket.timeout:
            break
        if not c:
            break
        buf += c
    s.close()
    if len(buf) < 12:
        return None
    magic, ver, typ, n = struct.unpack(">IHHI", buf[:12])
    assert magic == 0x49444243 and typ == 2 and len(buf) == 12 + n, buf
    st, slen = struct.unpack(">HI", buf[12:18])
    return st, json.loads(buf[18:18 + slen])


def request(words, version=1, typ=1):
    p = struct.pack(">I", len(words))
    for w in words:
        b = w.encode()
        p += struct.pack(">I", len(b)) + b
    return struct.pack(">IHHI", 0x49444243, version, typ, len(p)) + p


class Check(unittest.TestCase):
    """insid -n and command-line errors"""

    def setUp(self):
        self.node = Node()

    def tearDown(self):
        self.node.cleanup()

    def run_insid(self, *args):
        return subprocess.run([INSID] + list(args), capture_output=True, timeout=30,
                              stdin=subprocess.DEVNULL)

    def test_check_ok(self):
        r = self.run_insid("-n", "-f", self.node.config)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"configuration OK\n")
        r = self.run_insid("-n", "-v", "-f", self.node.config)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"raft_binding", r.stdout)
        self.assertNotIn(SECRET.encode(), r.stdout + r.stderr)

    def test_check_errors(self):
        with open(self.node.config, "a") as f:
            f.write("bogus: 1\n")
        r = self.run_insid("-n", "-f", self.node.config, "-D", "nope=1")
        self.assertEqual(r.returncode, 1)
        err = r.stderr.decode()
        self.assertRegex(err, r"insid\.yaml:\d+: bogus: ")
        self.assertRegex(err, r"-D:1: nope: ")
        self.assertEqual(r.stdout, b"")

    def test_unknown_node(self):
        r = self.run_insid("-n", "-f", self.node.config, "-N", "node9")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"node9", r.stderr)

    def test_usage(self):
        self.assertEqual(self.run_insid("-Z").returncode, 2)
        self.assertEqual(self.run_insid("-n", "extra").returncode, 2)
        self.assertEqual(self.run_insid("-f", self.node.config, "--restore").returncode, 2)
        self.assertEqual(self.run_insid("-P").returncode, 2)

    def test_port_in_use(self):
        blocker = socket.socket()
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", self.node.raft))
        blocker.listen(1)
        try:
            self.node.start(wait=False)
            self.assertEqual(self.node.proc.wait(20), 1)
        finally:
            blocker.close()
        text = self.node.text()
        self.assertIn("raft binding 127.0.0.1:%d: Address already in use" % self.node.raft,
                      text)
        self.assertFalse(os.path.exists(self.node.socket))


class Running(unittest.TestCase):
    """one node for the class; tests that change it come last"""

    @classmethod
    def setUpClass(cls):
        cls.node = Node()
        cls.node.start()

    @classmethod
    def tearDownClass(cls):
        cls.node.cleanup()

    def test_01_listeners_logged(self):
        t = self.node.text()
        n = self.node
        self.assertIn("public http://127.0.0.1:%d\n" % n.public, t)
        self.assertIn("private http://127.0.0.1:%d\n" % n.private, t)
        self.assertIn("raft 127.0.0.1:%d\n" % n.raft, t)
        self.assertIn("insidbctl -f %s -N node0 rootkey" % n.config, t)
        self.assertIn("bootstrapping", t)
        self.assertNotIn(SECRET, t)

    def test_02_layout(self):
        nd = os.path.join(self.node.home, "node0")
        for sub in ("raft", "blobs", "blobs/.tmp", "run", "empty"):
            self.assertTrue(os.path.isdir(os.path.join(nd, sub)), sub)
        self.assertEqual(os.stat(os.path.join(nd, "run")).st_mode & 0o777, 0o750)
        self.assertEqual(os.stat(nd).st_mode & 0o777, 0o750)
        with open(os.path.join(nd, "badge_id")) as f:
            self.assertRegex(f.read(), r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
                             r"[89ab][0-9a-f]{3}-[0-9a-f]{12}\n$")
        with open(os.path.join(nd, "run", "insid.pid")) as f:
            self.assertEqual(int(f.read()), self.node.proc.pid)
        st = os.stat(self.node.socket)
        self.assertEqual(st.st_mode & 0o777, 0o660)
        if os.geteuid() == 0:
            empty = os.stat(os.path.join(nd, "empty"))
            self.assertEqual((empty.st_uid, empty.st_mode & 0o777), (0, 0o755))
            user = pwd.getpwnam("_insidb")
            self.assertEqual(os.stat(nd).st_uid, user.pw_uid)
            self.assertEqual(st.st_gid, user.pw_gid)

    def test_03_fd_handoff(self):
        n = self.node
        t = n.text()
        self.assertRegex(t, r"raftd\[\d+\] info: fake raftd: 1 fds, ports %d," % n.raft)
        self.assertRegex(t, r"apid\[\d+\] info: fake apid: 2 fds, ports %d %d,"
                         % (n.public, n.private))
        roles = n.roles()
        self.assertEqual(sorted(roles), ["apid", "blobd", "raftd"])
        inode = listening_inodes()
        want = {"raftd": {3: inode[n.raft]},
                "apid": {3: inode[n.public], 4: inode[n.private]}, "blobd": {}}
        for role, pid in roles.items():
            held = {}
            for fd in os.listdir("/proc/%d/fd" % pid):
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                if link in inode.values():
                    held[int(fd)] = link
            self.assertEqual(held, want[role], role)

    def test_04_jail(self):
        if os.geteuid() != 0:
            self.skipTest("not root")
        user = pwd.getpwnam("_insidb")
        nd = os.path.join(self.node.home, "node0")
        jails = {"raftd": nd, "apid": nd + "/empty", "blobd": nd + "/blobs"}
        for role, pid in self.node.roles().items():
            self.assertEqual(os.readlink("/proc/%d/root" % pid), jails[role])
            with open("/proc/%d/status" % pid) as f:
                st = dict(ln.split(":", 1) for ln in f.read().splitlines())
            self.assertEqual(st["Uid"].split(), [str(user.pw_uid)] * 4, role)
            self.assertEqual(st["Gid"].split(), [str(user.pw_gid)] * 4, role)
            self.assertEqual(st["Groups"].split(), [str(user.pw_gid)], role)
            self.assertEqual(st["NoNewPrivs"].strip(), "1", role)

    def test_05_status(self):
        doc = self.node.status()
        self.assertEqual(doc["node_id"], "node0")
        self.assertEqual(doc["raft"]["role"], "leader")
        self.assertEqual(doc["raft"]["fd_port"], self.node.raft)
        roles = self.node.roles()
        procs = {p["role"]: p for p in doc["processes"]}
        for role, pid in roles.items():
            self.assertEqual(procs[role]["pid"], pid)
            self.assertEqual(procs[role]["state"], "ready")
        self.assertEqual(procs["insid"]["pid"], self.node.proc.pid)
        # the pids the supervisor announced reached raftd
        self.assertEqual(doc["raft"]["apid_pid"], roles["apid"])
        r = self.node.ctl("status")
        self.assertEqual(r.returncode, 0)
        out = r.stdout.decode()
        self.assertRegex(out, r"(?m)^node_id +node0$")
        self.assertRegex(out, r"(?m)^raftd +%d +ready +0$" % roles["raftd"])

    def test_06_rootkey(self):
        want = base64.b64encode(hashlib.sha256(SECRET.encode()).hexdigest().encode())
        r = self.node.ctl("rootkey")
        self.assertEqual((r.returncode, r.stdout), (0, want + b"\n"))
        r = subprocess.run([INSIDBCTL, "-f", self.node.config, "rootkey"],
                           capture_output=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout), (0, want + b"\n"), r.stderr)

    def test_07_unprivileged_peer(self):
        if os.geteuid() != 0:
            self.skipTest("not root")
        def as_insidb(*args):
            return subprocess.run(["setpriv", "--reuid=_insidb", "--regid=_insidb",
                                   "--init-groups", INSIDBCTL, "-s", self.node.socket]
                                  + list(args), capture_output=True, timeout=30)
        r = as_insidb("rootkey")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"permission denied", r.stderr)
        self.assertEqual(r.stdout, b"")
        self.assertEqual(as_insidb("log", "level", "debug").returncode, 1)
        self.assertEqual(as_insidb("status").returncode, 0)

    def test_08_usage_and_unreachable(self):
        self.assertEqual(self.node.ctl("bogus").returncode, 2)
        self.assertEqual(self.node.ctl("log", "level").returncode, 2)
        self.assertEqual(self.node.ctl().returncode, 2)
        r = self.node.ctl("log", "level", "loud")
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([INSIDBCTL, "-s", self.node.dir + "/none.sock", "status"],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 3)
        self.assertIn(b"cannot reach", r.stderr)

    def test_09_relayed(self):
        r = self.node.ctl("-j", "show", "cluster")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["members"][0]["id"], "node0")
        r = self.node.ctl("join", "node7", "127.0.0.1:7777")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"not supported yet", r.stderr)

    def test_09_show_node(self):
        n = self.node
        scope = os.path.join(n.home, "node0", "blobs", "root")
        os.makedirs(scope, exist_ok=True)
        with open(os.path.join(scope, "ab" * 32), "wb") as f:
            f.write(b"x" * 1000)
        with open(os.path.join(n.home, "node0", "blobs", ".tmp", "partial"), "wb") as f:
            f.write(b"y" * 10)
        r = n.ctl("-j", "show", "node")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["listeners"], {"public": "http://127.0.0.1:%d" % n.public,
                                            "private": "http://127.0.0.1:%d" % n.private,
                                            "raft": "127.0.0.1:%d" % n.raft})
        self.assertEqual(doc["data_dir"], os.path.join(n.home, "node0"))
        self.assertEqual((doc["blobd"]["blob_count"], doc["blobd"]["blob_bytes"]), (1, 1000))
        self.assertEqual(doc["raftd"]["role"], "leader")
        r = n.ctl("show", "node")
        self.assertRegex(r.stdout.decode(), r"(?m)^blobd\.blob_count +1$")

    def test_09c_backup(self):
        n = self.node
        dest = os.path.join(n.dir, "backup")
        r = n.ctl("-j", "backup", dest)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"backup": dest})
        self.assertEqual(sorted(os.listdir(dest)), ["backup.json", "blobs", "raft"])
        with open(os.path.join(dest, "raft", "CURRENT")) as f:
            self.assertEqual(f.read(), "checkpoint\n")
        with open(os.path.join(dest, "blobs", "root", "ab" * 32), "rb") as f:
            self.assertEqual(f.read(), b"x" * 1000)
        self.assertFalse(os.path.exists(os.path.join(dest, "blobs", ".tmp")))
        with open(os.path.join(dest, "backup.json")) as f:
            meta = json.load(f)
        self.assertEqual((meta["format"], meta["node_id"]), (1, "node0"))
        self.assertNotIn(SECRET, json.dumps(meta))
        left = [f for f in os.listdir(os.path.join(n.home, "node0")) if "backup" in f]
        self.assertEqual(left, [], "the checkpoint stays in the node directory")
        # refused: a directory that is not empty, a relative path
        r = n.ctl("backup", dest)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"not an empty directory", r.stderr)
        self.assertEqual(n.ctl("backup", "relative/dir").returncode, 1)

    def test_10_malformed_requests(self):
        path = self.node.socket
        self.assertEqual(ctl_raw(path, request(["status"], version=9))[0], 2)
        self.assertEqual(ctl_raw(path, request(["status"], typ=2))[0], 2)
        self.assertEqual(ctl_raw(path, b"GET / HTTP/1.0\r\n\r\n")[0], 2)
        self.assertEqual(ctl_raw(path, struct.pack(">IHHI", 0x49444243, 1, 1,
                                                   1 << 30))[0], 2)
        self.assertEqual(ctl_raw(path, request([]))[0], 2)
        self.assertEqual(ctl_raw(path, request(["status", "x" * 2000]))[0], 2)
        self.assertEqual(ctl_raw(path, request(["sta\ntus"]))[0], 2)
        bad = request(["status"])
        self.assertEqual(ctl_raw(path, bad[:-2] + b"\xff\xff")[0], 2)  # short word
        self.assertIsNone(ctl_raw(path, bad[:10]))     # cut short: closed, no reply
        st, doc = ctl_raw(path, request(["status"]))
        self.assertEqual((st, doc["node_id"]), (0, "node0"))
        self.node.check_running()

    def test_11_log_level(self):
        r = self.node.ctl("log", "level", "debug")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.node.status()
        wait_for(lambda: "insid[%d] debug: control: status" % self.node.proc.pid
                 in self.node.text(), 5, "a debug line")
        self.assertEqual(self.node.ctl("log", "level", "info").returncode, 0)

    def test_12_reload(self):
        n = self.node
        with open(n.config) as f:
            good = f.read()
        with open(n.config, "w") as f:
            f.write(good.replace("default_leader: node0", "default_leader: [x"))
        r = n.ctl("reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"nothing changed", r.stderr)
        n.write_config(level="warn", extra="cache:\n  keys: 5s\n")
        r = n.ctl("-j", "reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        notes = json.loads(r.stdout)["notes"]
        self.assertEqual(notes, ["cache.keys changed: cannot be reloaded, old value kept"])
        before = n.text()
        n.status()   # would log at debug/info only: nothing new at warn
        time.sleep(0.3)
        self.assertNotIn("control: status", n.text()[len(before):])
        n.write_config(level="info")
        n.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "log level info" in n.text()[len(before):], 5, "SIGHUP reload")

    def test_12b_reload_pushes_reloadable_keys(self):
        n = self.node
        before = len(n.text())
        n.write_config(values_limit=7)
        r = n.ctl("-j", "reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["notes"],
                         ["rate_limiters changed: sent to the roles"])
        wait_for(lambda: re.search(r"apid\[\d+\] info: fake apid reload: values limit 7,",
                                   n.text()[before:]), 5, "apid to get the reload")
        # a role without a reload hook (blobd) keeps running
        self.assertEqual(n.status()["processes"][3]["state"], "ready")
        # an apid started later gets the reloaded keys after READY
        old = n.roles()["apid"]
        os.kill(old, signal.SIGKILL)
        new = wait_for(lambda: n.roles().get("apid") not in (None, old) and
                       n.roles().get("apid"), 10, "a new apid")
        wait_for(lambda: "apid[%d] info: fake apid reload: values limit 7," % new
                 in n.text(), 10, "the new apid to get the reloaded keys")
        # the same file again changes nothing: no push
        mark = len(n.text())
        r = n.ctl("-j", "reload")
        self.assertEqual(json.loads(r.stdout)["notes"], [])
        time.sleep(0.3)
        self.assertNotIn("fake apid reload", n.text()[mark:])
        n.write_config()

    def test_12c_stalled_raftd(self):
        n = self.node
        pid = n.roles()["raftd"]
        os.kill(pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            r = n.ctl("-j", "status")
            waited = time.monotonic() - t0
        finally:
            os.kill(pid, signal.SIGCONT)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertIsNone(doc["raft"])
        self.assertGreater(waited, 4)
        self.assertLess(waited, 15)
        # its late answer is dropped; the next status is whole again
        self.assertEqual(n.status()["raft"]["role"], "leader")

    def test_13_restart_after_kill(self):
        n = self.node
        old = n.roles()["raftd"]
        os.kill(old, signal.SIGKILL)
        wait_for(lambda: n.roles().get("raftd") not in (None, old), 10, "a new raftd")
        wait_for(lambda: n.status()["processes"][1]["state"] == "ready", 10, "ready")
        doc = n.status()
        self.assertEqual(doc["processes"][1]["restarts"], 1)
        self.assertEqual(doc["processes"][2]["restarts"], 1)  # test_12b killed apid
        self.assertIn("raftd (pid %d) killed by signal 9" % old, n.text())
        self.assertIn("restarting raftd in 100 ms", n.text())

    def test_14_second_instance_refused(self):
        r = subprocess.run([INSID, "-d", "-f", self.node.config], capture_output=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"already running", r.stderr)
        self.node.check_running()

    def test_15_sigterm(self):
        n = self.node
        roles = n.roles()
        n.proc.send_signal(signal.SIGTERM)
        self.assertEqual(n.proc.wait(20), 0)
        t = n.text()
        # raftd stops last
        raftd_exit = t.index("raftd (pid %d) exited" % roles["raftd"])
        self.assertLess(t.index("apid (pid %d) exited" % roles["apid"]), raftd_exit)
        self.assertLess(t.index("blobd (pid %d) exited" % roles["blobd"]), raftd_exit)
        self.assertFalse(os.path.exists(n.socket))
        self.assertEqual(os.listdir(os.path.join(n.home, "node0", "run")), [])
        for port in (n.public, n.private, n.raft):
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
        for pid in roles.values():
            self.assertFalse(os.path.exists("/proc/%d" % pid))


class Tls(unittest.TestCase):
    def test_tls_material_pushed(self):
        d = tempfile.mkdtemp(prefix="insid-tls-")

        def gen(cert, key):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=x",
                            "-addext", "subjectAltName=IP:127.0.0.1"],
                           check=True, capture_output=True)
        try:
            cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
            gen(cert, key)
            n = Node(extra="tls:\n  cert: %s\n  key: %s\n" % (cert, key))
            try:
                n.start()
                t = n.text()
                self.assertIn("public https://127.0.0.1:%d\n" % n.public, t)
                self.assertIn("raft 127.0.0.1:%d (tls)\n" % n.raft, t)
                self.assertRegex(t, r"fake raftd: .*, tls cert key\n")
                self.assertRegex(t, r"fake apid: .*, tls cert key\n")
                # a renewed certificate at the same path is reloaded
                os.rename(cert, cert + ".old")
                gen(cert, key)
                with open(cert, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                r = n.ctl("-j", "reload")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout)["notes"],
                                 ["tls changed: sent to the roles"])
                wait_for(lambda: "fake apid reload: values limit 1000, cert %s"
                         % digest[:12] in n.text(), 5, "the new certificate in apid")
                # an unreadable certificate: nothing changes
                os.rename(cert, cert + ".gone")
                r = n.ctl("reload")
                self.assertEqual(r.returncode, 1)
                self.assertIn(b"nothing changed", r.stderr)
            finally:
                n.cleanup()
        finally:
            shutil.rmtree(d, ignore_errors=True)


    def test_certificate_for_another_host_refused(self):
        d = tempfile.mkdtemp(prefix="insid-tls-")
        try:
            cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=x",
                            "-addext", "subjectAltName=DNS:elsewhere.example"],
                           check=True, capture_output=True)
            n = Node(extra="tls:\n  cert: %s\n  key: %s\n" % (cert, key))
            try:
                n.start(wait=False)
                self.assertEqual(n.proc.wait(20), 1, n.text())
                self.assertIn("127.0.0.1", n.text())
                self.assertEqual(children(n.proc.pid), [])
            finally:
                n.cleanup()
        finally:
            shutil.rmtree(d, ignore_errors=True)


class Restore(unittest.TestCase):
    def setUp(self):
        self.nodes = []

    def tearDown(self):
        for n in self.nodes:
            n.cleanup()

    def node(self, *args):
        n = Node()
        self.nodes.append(n)
        return n

    def test_backup_then_restore(self):
        a = self.node()
        a.start()
        scope = os.path.join(a.home, "node0", "blobs", "root")
        os.makedirs(scope)
        with open(os.path.join(scope, "cd" * 32), "wb") as f:
            f.write(b"blob")
        dest = os.path.join(a.dir, "bk")
        r = a.ctl("backup", dest)
        self.assertEqual(r.returncode, 0, r.stderr)
        a.stop()
        b = self.node()
        b.start_args = ["--restore", dest, "--force-new-cluster"]
        b.start()
        nd = os.path.join(b.home, "node0")
        with open(os.path.join(nd, "raft", "CURRENT")) as f:
            self.assertEqual(f.read(), "checkpoint\n")
        with open(os.path.join(nd, "blobs", "root", "cd" * 32), "rb") as f:
            self.assertEqual(f.read(), b"blob")
        self.assertIn("restored node node0 from %s" % dest, b.text())
        self.assertIn("fake raftd: force new cluster", b.text())
        if os.geteuid() == 0:
            uid = pwd.getpwnam("_insidb").pw_uid
            self.assertEqual(os.stat(os.path.join(nd, "raft", "CURRENT")).st_uid, uid)
        # only the first raftd start forces a new cluster
        os.kill(b.roles()["raftd"], signal.SIGKILL)
        wait_for(lambda: b.text().count("raftd ready") == 2, 10, "raftd back")
        self.assertEqual(b.text().count("force new cluster"), 1)
        self.assertEqual(b.stop(), 0)
        # a node that has state is not overwritten
        b.start_args = ["--restore", dest]
        b.start(wait=False)
        self.assertEqual(b.proc.wait(20), 1)
        self.assertIn("refusing to overwrite", b.text())

    def test_restore_usage(self):
        n = self.node()
        r = subprocess.run([INSID, "-d", "-f", n.config, "--force-new-cluster"],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([INSID, "-d", "-f", n.config, "--restore", n.dir],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"not a backup", r.stderr)


class CrashLoop(unittest.TestCase):
    def setUp(self):
        self.node = Node()

    def tearDown(self):
        self.node.cleanup()

    def test_fifth_crash_exits_3(self):
        n = self.node
        n.start()
        badge = n.badge()
        for i in range(5):
            pid = wait_for(lambda: n.roles().get("apid"), 10, "apid %d" % i)
            wait_for(lambda: "apid ready (pid %d)" % pid in n.text(), 10, "ready")
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not os.path.exists("/proc/%d/status" % pid) or
                     n.proc.poll() is not None, 10, "apid to go")
        self.assertEqual(n.proc.wait(20), 3, n.text())
        t = n.text()
        self.assertIn("apid crashed 5 times within 60 s", t)
        for ms in (100, 200, 400, 800):
            self.assertIn("restarting apid in %d ms" % ms, t)
        self.assertEqual(children(n.proc.pid), [])
        # a new start keeps the badge
        n.start()
        self.assertEqual(n.badge(), badge)
        self.assertEqual(n.stop(), 0)


if __name__ == "__main__":
    INSID, INSIDBCTL = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    del sys.argv[1:3]
    unittest.main(verbosity=2)
