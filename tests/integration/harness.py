"""Integration harness: starts real insid processes on loopback and talks
raw HTTP/1.1 to them.

Everything here uses the standard library only.  Ports come from binding
to port 0; every wait is a poll with a deadline; every process started is
stopped by pid and checked gone through /proc.
"""

import base64
import hashlib
import json
import os
import pwd
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

# set by run.py
INSID = None
INSIDBCTL = None
# multiplies every deadline (sanitizer builds are slower)
TIME_SCALE = float(os.environ.get("INSIDB_TIME_SCALE", "1"))
KEEP_DIRS = os.environ.get("INSIDB_KEEP") == "1"

API = "/db/api/v1/"
UUID4_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


# nodes with processes that may be running, for emergency_stop()
LIVE_NODES = set()


def emergency_stop():
    """on SIGTERM/SIGINT of the harness: SIGKILL everything we started"""
    for node in list(LIVE_NODES):
        for pgid in node.groups:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass
        for pid in node.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if not KEEP_DIRS:
            shutil.rmtree(node.dir, ignore_errors=True)


class Abort(Exception):
    """raised inside a wait condition to stop waiting at once"""


def scaled(seconds):
    return seconds * TIME_SCALE


def root_key(secret):
    hexdigest = hashlib.sha256(secret.encode("utf-8")).hexdigest()
    return base64.b64encode(hexdigest.encode("ascii")).decode("ascii")


def free_ports(n):
    """n distinct free loopback ports (all bound at once, then released)"""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


# reports of AddressSanitizer and UndefinedBehaviorSanitizer in daemon logs
# (LeakSanitizer cannot run inside the jail; its start-up failure is not a
# finding); collected as nodes are cleaned up, checked per test class
SANITIZER_RE = re.compile(r"ERROR: AddressSanitizer|runtime error:|"
                          r"ERROR: LeakSanitizer: detected memory leaks")
SANITIZER_REPORTS = []


def wait_for(cond, timeout, what, interval=0.05):
    """polls cond() until it returns a true value; Abort stops at once"""
    deadline = time.monotonic() + scaled(timeout)
    last = None
    while True:
        try:
            result = cond()
            if result:
                return result
        except Abort:
            raise
        except Exception as e:  # noqa: BLE001 - remembered for the message
            last = e
        if time.monotonic() >= deadline:
            msg = "timed out after %.1fs waiting for %s" % (scaled(timeout), what)
            if last is not None:
                msg += " (last error: %r)" % (last,)
            raise AssertionError(msg)
        time.sleep(interval)


# --- HTTP ---------------------------------------------------------------

class Response:
    def __init__(self, status, reason, headers, body, request):
        self.status = status
        self.reason = reason
        self.headers = headers          # list of (name, value) in order
        self.body = body
        self.request = request          # raw request bytes, for messages

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def describe(self):
        req = self.request
        if len(req) > 600:
            req = req[:600] + b"...(%d bytes)" % len(self.request)
        body = self.body
        if len(body) > 600:
            body = body[:600] + b"...(%d bytes)" % len(self.body)
        hdrs = "".join("%s: %s\r\n" % kv for kv in self.headers)
        return ("\n--- request ---\n%s\n--- response ---\n%d %s\r\n%s\r\n%s\n"
                % (req.decode("utf-8", "replace"), self.status, self.reason,
                   hdrs, body.decode("utf-8", "replace")))

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:200])


class ProtocolError(Exception):
    pass


def path_for(route, query=None):
    path = route if route.startswith("/") else API + route
    if query is not None:
        if isinstance(query, str):
            path += "?" + query
        else:
            path += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    return path


def encode_body(body):
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")


def build_request(method, path, body=None, headers=(), host="127.0.0.1"):
    lines = ["%s %s HTTP/1.1" % (method, path)]
    names = {k.lower() for k, _ in headers}
    if "host" not in names:
        lines.append("Host: %s" % host)
    for k, v in headers:
        lines.append("%s: %s" % (k, v))
    if body is not None and "content-length" not in names \
            and "transfer-encoding" not in names:
        lines.append("Content-Length: %d" % len(body))
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    return head + (body or b"")


class Conn:
    """one HTTP/1.1 connection; requests may be pipelined with send()"""

    MAX_LINE = 1 << 16

    def __init__(self, port, timeout=15):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=scaled(timeout))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb")
        self.sent = []          # raw requests not yet answered

    def close(self):
        try:
            self.rfile.close()
        finally:
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, raw, track=True):
        if track:
            self.sent.append(raw)
        self.sock.sendall(raw)

    def _line(self):
        line = self.rfile.readline(self.MAX_LINE)
        if not line:
            raise ProtocolError("connection closed by server")
        if not line.endswith(b"\r\n"):
            raise ProtocolError("bad line %r" % line[:200])
        return line[:-2]

    def read_response(self, head=False):
        request = self.sent.pop(0) if self.sent else b""
        while True:
            status_line = self._line().decode("latin-1")
            m = re.match(r"^HTTP/1\.[01] (\d{3}) ?(.*)$", status_line)
            if not m:
                raise ProtocolError("bad status line %r" % status_line)
            status, reason = int(m.group(1)), m.group(2)
            headers = []
            while True:
                line = self._line()
                if not line:
                    break
                k, sep, v = line.decode("latin-1").partition(":")
                if not sep:
                    raise ProtocolError("bad header line %r" % line)
                headers.append((k.strip(), v.strip()))
            if 100 <= status < 200 and status != 101:
                continue
            break
        resp = Response(status, reason, headers, b"", request)
        if head or status in (101, 204, 304):
            return resp
        te = resp.header("Transfer-Encoding")
        cl = resp.header("Content-Length")
        if te is not None and "chunked" in te.lower():
            resp.body = self._read_chunked()
        elif cl is not None:
            n = int(cl)
            data = self.rfile.read(n)
            if len(data) != n:
                raise ProtocolError("short body: %d of %d" % (len(data), n))
            resp.body = data
        else:
            resp.body = self.rfile.read()
        return resp

    def _read_chunked(self):
        out = bytearray()
        while True:
            size_line = self._line().split(b";", 1)[0].strip()
            size = int(size_line, 16)
            if size == 0:
                while self._line():
                    pass
                return bytes(out)
            out += self.rfile.read(size)
            if self.rfile.read(2) != b"\r\n":
                raise ProtocolError("bad chunk terminator")

    def request(self, method, path, body=None, headers=(), head=None):
        raw = build_request(method, path, encode_body(body), headers,
                            host="127.0.0.1:%d" % self.port)
        try:
            self.send(raw)
        except (BrokenPipeError, ConnectionResetError) as e:
            # the server may answer early (413) and close: read what it sent
            try:
                return self.read_response(
                    head=(method == "HEAD") if head is None else head)
            except (ProtocolError, OSError):
                raise e
        return self.read_response(head=(method == "HEAD") if head is None else head)


# --- /proc --------------------------------------------------------------

def proc_stat(pid):
    """(state, ppid, pgrp, session, starttime) or None"""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("latin-1")
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[2]), int(rest[3]), int(rest[19])


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode("utf-8", "replace")
                    for a in f.read().split(b"\0") if a]
    except OSError:
        return None


def proc_status(pid):
    out = {}
    try:
        with open("/proc/%s/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.strip("\n").lstrip("\t ")
    except OSError:
        return None
    return out


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def alive(pid, starttime=None):
    st = proc_stat(pid)
    if st is None or st[0] in ("Z", "X"):
        return False
    return starttime is None or st[4] == starttime


def role_of(cmdline):
    """the role named by -P in an insid command line, or None"""
    if not cmdline:
        return None
    for i, a in enumerate(cmdline):
        if a == "-P" and i + 1 < len(cmdline):
            return cmdline[i + 1]
        if a.startswith("-P") and len(a) > 2:
            return a[2:]
    return None


def descendants(root_pid):
    """pids of every live descendant of root_pid"""
    children = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st is None or st[0] in ("Z", "X"):
            continue
        children.setdefault(st[1], []).append(pid)
    out, todo = [], [root_pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def run_bounded(cmd, timeout):
    """subprocess.run in its own session; on timeout every process it
    started is killed by pid and TimeoutExpired raised"""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=scaled(timeout))
    except subprocess.TimeoutExpired:
        kids = descendants(p.pid)
        for pid in [p.pid] + kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        p.communicate()
        raise
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


# --- a node -------------------------------------------------------------

def lower_nofile():
    """insid starts with a soft open-file limit below the hard one, so
    raising it (API.md §2.1) is observable"""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > 1024:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 1024), hard))


def run_user():
    """(name, uid, gid) the roles must run as when we are root"""
    try:
        pw = pwd.getpwnam("_insidb")
        return "_insidb", pw.pw_uid, pw.pw_gid
    except KeyError:
        pw = pwd.getpwnam("nobody")
        return "nobody", pw.pw_uid, pw.pw_gid


class Node:
    """one insid node; alone (a one-node cluster in its own temp dir) or a
    member of a Cluster, which owns the dir and the shared config"""

    ROLES = ("raftd", "apid", "blobd")

    def __init__(self, tag, max_value_size=None, extra_yaml="", rate=None,
                 permitted_ips=None, trusted_proxies=None, name="node0", cluster=None):
        self.name = name
        self.cluster = cluster
        if cluster is None:
            self.dir = tempfile.mkdtemp(prefix="insidb-integ-%s-" % tag)
            os.chmod(self.dir, 0o755)
            self.socket = os.path.join(self.dir, "insid.sock")
            self.secret = "integ-secret-" + os.urandom(12).hex()
            self.public, self.private, self.raft = free_ports(3)
        else:
            self.dir = cluster.dir
            self.socket = os.path.join(self.dir, "insid-%s.sock" % name)
            self.secret = cluster.secret
            self.public, self.private, self.raft = cluster.ports[name]
        self.home = os.path.join(self.dir, "home")
        self.node_dir = os.path.join(self.home, self.name)
        self.config = os.path.join(self.dir, "insid.yaml")
        self.root_key = root_key(self.secret)
        self.max_value_size = max_value_size
        self.rate = dict(rate or {})
        self.permitted_ips = permitted_ips
        self.trusted_proxies = trusted_proxies
        self.proc = None
        self.starts = 0
        self.log_path = None
        self.spawned_at = None
        self.tracked = set()        # (pid, starttime) of every process seen
        self.groups = set()         # process groups of the supervisors started
        self.user = run_user() if os.geteuid() == 0 else None
        self.stopped_cleanly = True
        self.start_args = []        # extra insid arguments (--restore ...)
        self.extra_yaml = extra_yaml
        if cluster is None:
            self._write_config(extra_yaml, [self])

    def repick_ports(self):
        """new free ports (another process took one of ours before insid
        could bind it); alone only, before any data exists"""
        assert self.cluster is None
        self.public, self.private, self.raft = free_ports(3)
        self._write_config(self.extra_yaml, [self])

    def _write_config(self, extra_yaml, members):
        y = [
            "# written by the integration harness",
            'instance_secret: "%s"' % self.secret,
            "default_leader: %s" % members[0].name,
            'insid_home: "%s"' % self.home,
            'control_socket: "%s"' % (self.socket if len(members) == 1 else
                                      os.path.join(self.dir, "insid-{node}.sock")),
        ]
        if self.user is not None:
            y.append("user: %s" % self.user[0])
        y.append("rate_limiters:")
        for cat in ("values", "cache", "events", "system", "default"):
            limit, burst = self.rate.get(cat, (1000000, 1000000))
            y.append("  %s: {limit: %s, burst: %d}" % (cat, limit, burst))
        for name in ("permitted_ips", "trusted_proxies"):
            lst = getattr(self, name)
            if lst is not None:
                y.append("%s: [%s]" % (name, ", ".join('"%s"' % a for a in lst)))
        if self.max_value_size is not None:
            y += ["limits:", "  max_value_size: %s" % self.max_value_size]
        if extra_yaml:
            y.append(extra_yaml.rstrip("\n"))
        y.append("nodes:")
        for m in members:
            y += [
                "  %s:" % m.name,
                '    public_binding: "127.0.0.1:%d"' % m.public,
                '    private_binding: "127.0.0.1:%d"' % m.private,
                '    raft_binding: "127.0.0.1:%d"' % m.raft,
            ]
        with open(self.config, "w") as f:
            f.write("\n".join(y) + "\n")
        os.chmod(self.config, 0o640)

    # -- lifecycle --

    def start(self, wait=True):
        assert self.proc is None or self.proc.poll() is not None
        self.starts += 1
        self.log_path = os.path.join(self.dir, "insid-%s-%d.log" % (self.name, self.starts))
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [INSID, "-d", "-f", self.config, "-N", self.name] + self.start_args,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                cwd=self.dir, start_new_session=True, close_fds=True,
                preexec_fn=lower_nofile)
        self.spawned_at = time.monotonic()
        LIVE_NODES.add(self)
        self.groups.add(self.proc.pid)
        self._track(self.proc.pid)
        if wait:
            self.wait_ready()

    def log_tail(self, n=40):
        if not self.log_path:
            return ""
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def _check_running(self):
        rc = self.proc.poll()
        if rc is not None:
            raise Abort("insid exited with status %d; log:\n%s"
                        % (rc, self.log_tail()))

    def wait_ready(self, timeout=30, leader=None):
        """the node answers ping and names the leader (by default itself
        when alone, any node in a cluster)"""
        if leader is None and self.cluster is None:
            leader = self.name

        def ready():
            self._check_running()
            self.roles()    # tracks the role pids as soon as they exist
            r = self.request("GET", "ping")
            if r.status != 200:
                return False
            got = r.json().get("leader")
            return got == leader if leader is not None else bool(got)
        try:
            wait_for(ready, timeout, "%s to answer ping with leader %s"
                     % (self.name, leader or "(any)"))
        except AssertionError as e:
            raise AssertionError("%s; log:\n%s" % (e, self.log_tail()))

    def _track(self, pid):
        st = proc_stat(pid)
        if st is not None:
            self.tracked.add((pid, st[4]))

    def roles(self):
        """{role: pid} of the live children of the supervisor started with -P"""
        out = {}
        if self.proc is None or self.proc.poll() is not None:
            return out
        for pid in descendants(self.proc.pid):
            role = role_of(proc_cmdline(pid))
            self._track(pid)
            if role is not None:
                out.setdefault(role, []).append(pid)
        return {k: (v[0] if len(v) == 1 else v) for k, v in out.items()}

    def wait_roles(self, timeout=20):
        def all_up():
            self._check_running()
            r = self.roles()
            return r if all(isinstance(r.get(n), int) for n in self.ROLES) else None
        return wait_for(all_up, timeout, "the three role processes")

    def leftovers(self):
        """tracked or tagged processes that are still alive"""
        left = set()
        for pid, start in self.tracked:
            if alive(pid, start):
                left.add(pid)
        insid = os.path.basename(INSID or "insid")
        for pid in all_pids():
            if pid == os.getpid():
                continue
            cmd = proc_cmdline(pid)
            st = proc_stat(pid)
            if not cmd or st is None or not alive(pid):
                continue
            if self._is_mine(cmd):
                left.add(pid)
            elif st[2] in self.groups and (role_of(cmd) is not None or
                                           any(os.path.basename(a) == insid
                                               for a in cmd[:2])):
                left.add(pid)
        return sorted(left)

    def _is_mine(self, cmd):
        if self.cluster is None:
            return any(self.dir in a for a in cmd)
        # members share the dir: a supervisor of this node names it with -N
        return self.config in cmd and "-N" in cmd and \
            cmd.index("-N") + 1 < len(cmd) and cmd[cmd.index("-N") + 1] == self.name

    def wait_gone(self, timeout=15):
        try:
            wait_for(lambda: not self.leftovers(), timeout,
                     "every process of the node to exit")
            return []
        except AssertionError:
            return self.leftovers()

    def stop(self, timeout=20):
        """SIGTERM, wait, SIGKILL fallback; returns the exit status"""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(scaled(timeout))
            except subprocess.TimeoutExpired:
                self.stopped_cleanly = False
                self.proc.kill()
                rc = self.proc.wait()
        return rc

    def kill_group(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def all_pids(self):
        """the supervisor and every live descendant (roles and helpers)"""
        if self.proc is None or self.proc.poll() is not None:
            return []
        return [self.proc.pid] + descendants(self.proc.pid)

    def freeze(self):
        """SIGSTOP the supervisor and every role: the node is there but
        answers nothing (a stalled machine); returns the pids stopped"""
        pids = self.all_pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        self.frozen = pids
        return pids

    def thaw(self):
        """SIGCONT what freeze() stopped (roles first, then the supervisor)"""
        for pid in reversed(getattr(self, "frozen", [])):
            try:
                os.kill(pid, signal.SIGCONT)
            except OSError:
                pass
        self.frozen = []

    def reap_all(self):
        """last resort: SIGKILL whatever is left, by pid; returns what was left"""
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        left = self.wait_gone(10)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        return left

    def sanitizer_reports(self):
        """sanitizer findings in this node's logs (every start): a report
        that did not kill its process would otherwise pass unnoticed"""
        found = []
        if not os.path.isdir(self.dir):
            return found
        for name in sorted(os.listdir(self.dir)):
            if not (name.startswith("insid-%s-" % self.name) and name.endswith(".log")):
                continue
            with open(os.path.join(self.dir, name), "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            for i, ln in enumerate(lines):
                if SANITIZER_RE.search(ln):
                    found.append("%s: %s" % (name, "\n".join(lines[i:i + 12])))
                    break
        return found

    def cleanup(self, keep=False):
        self.thaw()     # a stopped process would hold SIGTERM until killed
        left = self.reap_all()
        SANITIZER_REPORTS.extend(self.sanitizer_reports())
        LIVE_NODES.discard(self)
        if self.cluster is None and not (keep or KEEP_DIRS):
            shutil.rmtree(self.dir, ignore_errors=True)
        return left

    # -- HTTP --

    def port_of(self, binding):
        return {"public": self.public, "private": self.private}[binding]

    def auth_headers(self, auth):
        if auth is True:
            return [("Authorization", "Bearer " + self.root_key)]
        if auth in (False, None):
            return []
        return [("Authorization", auth)]

    def request(self, method, route, body=None, query=None, auth=True,
                headers=(), binding="public"):
        hdrs = self.auth_headers(auth) + list(headers)
        with Conn(self.port_of(binding)) as c:
            return c.request(method, path_for(route, query), body, hdrs)

    def conn(self, binding="public"):
        return Conn(self.port_of(binding))

    def ctl(self, *args, timeout=30, config=True):
        cmd = [INSIDBCTL]
        if config:
            cmd += ["-f", self.config, "-N", self.name]
        cmd += list(args)
        return run_bounded(cmd, timeout)


class Cluster:
    """n nodes node0..node<n-1> of one config file in one temp dir; node0
    is the default leader"""

    def __init__(self, tag, n, **options):
        self.dir = tempfile.mkdtemp(prefix="insidb-integ-%s-" % tag)
        os.chmod(self.dir, 0o755)
        self.secret = "integ-secret-" + os.urandom(12).hex()
        ports = free_ports(3 * n)
        names = ["node%d" % i for i in range(n)]
        self.ports = {nm: tuple(ports[3 * i:3 * i + 3]) for i, nm in enumerate(names)}
        self.nodes = [Node(tag, name=nm, cluster=self, **options) for nm in names]
        extra = options.get("extra_yaml", "")
        self.nodes[0]._write_config(extra, self.nodes)
        self.by_name = {m.name: m for m in self.nodes}

    def start(self, timeout=60):
        for m in self.nodes:
            m.start(wait=False)
        for m in self.nodes:
            m.wait_ready(timeout)
        self.wait_leader(timeout)
        return self.wait_voters(timeout)

    def wait_voters(self, timeout=30):
        """every node is a voter (admin/cluster, API.md §17.3): learners
        cannot elect, so failover tests start from here"""
        def all_voters():
            lead = self.wait_leader(timeout)
            r = lead.request("GET", "admin/cluster", binding="private")
            if r.status != 200:
                return None
            nodes = r.json().get("nodes", [])
            voters = {n.get("id") for n in nodes if n.get("voter") is True}
            return lead if voters == set(self.by_name) else None
        return wait_for(all_voters, timeout, "every node to be a voter")

    def running(self):
        return [m for m in self.nodes if m.proc is not None and m.proc.poll() is None]

    def wait_leader(self, timeout=30, exclude=()):
        """the leader every running node agrees on (not one of exclude)"""
        def agreed():
            names = set()
            for m in self.running():
                r = m.request("GET", "ping")
                if r.status != 200:
                    return None
                names.add(r.json().get("leader"))
            if len(names) == 1:
                name = names.pop()
                if name and name not in exclude and name in self.by_name and \
                        self.by_name[name] in self.running():
                    return self.by_name[name]
            return None
        try:
            return wait_for(agreed, timeout, "the running nodes to agree on a leader")
        except AssertionError as e:
            raise AssertionError("%s; logs:\n%s" % (e, "\n".join(
                "--- %s\n%s" % (m.name, m.log_tail(15)) for m in self.nodes)))

    def cleanup(self):
        left = []
        for m in self.nodes:
            left += m.cleanup()
        if not KEEP_DIRS:
            shutil.rmtree(self.dir, ignore_errors=True)
        return left


# --- test base ----------------------------------------------------------

import unittest  # noqa: E402


class NodeTestCase(unittest.TestCase):
    """a test class with its own node, started once for the class"""

    node_tag = "t"
    maxDiff = None
    max_value_size = None
    node_options = {}
    start_node = True

    @classmethod
    def setUpClass(cls):
        cls.node = Node(cls.node_tag, max_value_size=cls.max_value_size,
                        **cls.node_options)
        if cls.start_node:
            try:
                try:
                    cls.node.start()
                except Abort as e:
                    # a port taken between picking and binding: once more
                    if "in use" not in str(e).lower():
                        raise
                    cls.node.reap_all()
                    shutil.rmtree(cls.node.home, ignore_errors=True)
                    cls.node.repick_ports()
                    cls.node.start()
            except BaseException:
                cls.node.cleanup()
                raise

    @classmethod
    def tearDownClass(cls):
        left = cls.node.cleanup()
        if left:
            raise AssertionError("processes left running after stop (killed): %s"
                                 % left)
        if not cls.node.stopped_cleanly:
            raise AssertionError("the supervisor did not exit within 20 s of SIGTERM "
                                 "(killed); log:\n%s" % cls.node.log_tail())

    # -- request shortcuts --

    def req(self, method, route, body=None, query=None, **kw):
        return self.node.request(method, route, body, query, **kw)

    def set(self, key, value, **kw):
        return self.req("POST", "set", {"key": key, "value": value}, **kw)

    def get(self, key, **kw):
        return self.req("GET", "get", query={"key": key}, **kw)

    # -- assertions --

    def expect(self, resp, status, error_type=None, names=None, msg=""):
        """status, and for errors the JSON shape, error_type and the named field"""
        ctx = (msg + resp.describe()) if msg else resp.describe()
        self.assertEqual(resp.status, status, "unexpected status" + ctx)
        if error_type is None and status < 300:
            return resp
        if resp.request.startswith(b"HEAD "):
            self.assertEqual(resp.body, b"", "HEAD answered with a body" + ctx)
            return resp
        ctype = resp.header("Content-Type") or ""
        self.assertTrue(ctype.startswith("application/json"),
                        "error without JSON Content-Type" + ctx)
        try:
            doc = resp.json()
        except ValueError:
            self.fail("error body is not JSON" + ctx)
        self.assertIsInstance(doc, dict, "error body not an object" + ctx)
        self.assertIsInstance(doc.get("message"), str, "no message" + ctx)
        if error_type is not None:
            self.assertEqual(doc.get("error_type"), error_type,
                             "unexpected error_type" + ctx)
        if names is not None:
            self.assertRegex(doc["message"], r"(?<![A-Za-z0-9_])%s(?![A-Za-z0-9_])"
                             % re.escape(names),
                             "message does not name %r" % names + ctx)
        return resp

    def expect_json(self, resp, value, msg=""):
        """200 with exactly this JSON value, compact, one trailing line feed"""
        ctx = (msg + resp.describe()) if msg else resp.describe()
        self.assertEqual(resp.status, 200, "unexpected status" + ctx)
        self.assertTrue((resp.header("Content-Type") or "").startswith(
            "application/json"), "no JSON Content-Type" + ctx)
        self.assertEqual(resp.header("Cache-Control"), "no-store",
                         "Cache-Control is not no-store" + ctx)
        self.assertTrue(resp.body.endswith(b"\n") and
                        not resp.body[:-1].endswith((b"\n", b" ")),
                        "body is not one value followed by one line feed" + ctx)
        try:
            doc = resp.json()
        except ValueError:
            self.fail("body is not JSON" + ctx)
        self.assertEqual(doc, value, "unexpected body" + ctx)
        outside = re.sub(rb'"(?:[^"\\]|\\.)*"', b'""', resp.body[:-1])
        self.assertNotRegex(outside, rb"\s", "body is not compact JSON" + ctx)
        return doc


class ClusterTestCase(NodeTestCase):
    """a test class with its own cluster of cluster_size nodes, started
    once for the class; self.node is node0 (the default leader)"""

    cluster_tag = "c"
    cluster_size = 3
    extra_yaml = ""

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(cls.cluster_tag, cls.cluster_size,
                              extra_yaml=cls.extra_yaml)
        cls.node = cls.cluster.nodes[0]
        try:
            cls.cluster.start()
        except BaseException:
            cls.cluster.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        left = cls.cluster.cleanup()
        if left:
            raise AssertionError("processes left running after stop (killed): %s"
                                 % left)
