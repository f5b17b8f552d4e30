"""Blobs on three nodes (API.md §13.1-13.7, §18.1, §20): a refused
re-upload, a delete seen at once everywhere and the files purged by GC on
every node, after which the key takes new bytes; a follower that was down
during an upload fetches it after its restart; a corrupt file (on a
follower or on the receiving node) is found and replaced by the repair
pass; with the receiving node dead, a restarted node fetches from the
surviving one; concurrent uploads of one key leave exactly one blob; a
node down during a purge, a blobd stalled across a delete, purge and new
upload, a node killed mid-upload or mid-fetch all end consistent; a
200 MiB transfer keeps apid and blobd small; show node and /metrics report
the blobs and the fetches waiting."""

import hashlib
import json
import os
import signal
import threading

from harness import Abort, ClusterTestCase, scaled, wait_for
from test_blobs import BOUNDARY, MP_TYPE, _BlobMixin, multipart, part, sha, uniq

MIB = 1024 * 1024


def file_digest(path):
    """sha256 hex of a file, read in pieces; None when it is not there"""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while True:
                piece = f.read(MIB)
                if not piece:
                    break
                h.update(piece)
    except FileNotFoundError:
        return None
    return h.hexdigest()


class FetchDone(Abort):
    """the fetch to be cut was over before it was seen"""


def tmp_files(node):
    tmp = os.path.join(node.node_dir, "blobs", ".tmp")
    return sorted(os.listdir(tmp)) if os.path.isdir(tmp) else []


def vm_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for pid %d" % (field, pid))


def upload_head(node, key, length, boundary=BOUNDARY):
    """request head and multipart preamble of an upload of length bytes"""
    pre = multipart([part("key", key.encode())], close=False)
    pre += ("--%s\r\nContent-Disposition: form-data; name=\"blob\"; "
            "filename=\"f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            % boundary).encode()
    tail = ("\r\n--%s--\r\n" % boundary).encode()
    head = ("POST /db/api/v1/blob/set HTTP/1.1\r\nHost: x\r\n"
            "Authorization: Bearer %s\r\nContent-Type: %s\r\n"
            "Content-Length: %d\r\n\r\n"
            % (node.root_key, MP_TYPE[1], len(pre) + length + len(tail))).encode()
    return head + pre, tail


class _ClusterCase(_BlobMixin, ClusterTestCase):
    """a three-node cluster for the class; every test starts with all
    three running and agreeing on a leader"""

    cluster_tag = "blobsc"
    extra_yaml = ""

    def setUp(self):
        # a test that failed half-way may have left a node down or frozen
        for m in self.cluster.nodes:
            m.thaw()
            if m.proc is None or m.proc.poll() is not None:
                m.start(wait=False)
        for m in self.cluster.nodes:
            m.wait_ready(60)
        self.lead = self.cluster.wait_leader()
        self.node = self.lead
        self.followers = [m for m in self.cluster.nodes if m is not self.lead]

    def wait_file(self, m, key, data_sha, timeout=30):
        path = self.blob_path(m, key)
        wait_for(lambda: file_digest(path) == data_sha, timeout,
                 "%s: %s with the uploaded bytes" % (m.name, path))

    def wait_get(self, m, key, data, timeout=20, query=None):
        def served():
            r = self.bget(key, node=m, query=query)
            if r.status == 503:
                return None
            if r.status != 200:
                raise Abort("%s: blob/get %s" % (m.name, r.describe()))
            return r
        r = wait_for(served, timeout, "%s: blob/get 200 for %s" % (m.name, key))
        self.assertEqual(r.body, data, "%s serves other bytes" % m.name)
        self.assertEqual(r.header("ETag"), '"%s"' % sha(data), r.describe())


class BlobsClusterLifecycle(_ClusterCase):
    """short GC and repair intervals: deletes, purges, restarts, repair"""

    cluster_tag = "blobsl"
    extra_yaml = "blobs:\n  gc_interval: 1s\n  repair_interval: 1s\n"

    def test_reupload_delete_gc_and_upload_again(self):
        key = uniq("life/cycle")
        first = os.urandom(300 * 1024)
        self.expect_json(self.upload(key, first, node=self.lead), {})
        for m in self.cluster.nodes:
            self.wait_file(m, key, sha(first))
        r = self.upload(key, os.urandom(10), node=self.lead)
        self.expect(r, 409, "KEY_EXISTS")
        self.assertEqual(r.header("X-Blob-Already-Exists"), "true", r.describe())
        for m in self.cluster.nodes:
            self.wait_get(m, key, first)
        r = self.bdelete(key, node=self.lead)
        self.assertEqual(r.status, 202, r.describe())
        self.assertEqual(r.json(), {})
        # at once: a linearizable read on any node sees the tombstone
        lin = {"consistency": "linearizable"}
        for m in self.cluster.nodes:
            self.expect(self.bget(key, node=m, query=lin), 404, "KEY_NOT_FOUND",
                        msg="%s: " % m.name)
            r = self.biter(dict(lin, prefix=key), node=m)
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual(r.json(), {"data": []}, "%s lists a deleted blob%s"
                             % (m.name, r.describe()))
        self.expect(self.bget(key, node=self.lead), 404, "KEY_NOT_FOUND")
        # GC (1 s) purges the file on every node
        for m in self.cluster.nodes:
            path = self.blob_path(m, key)
            wait_for(lambda path=path: not os.path.exists(path), 20,
                     "%s: %s removed by GC" % (m.name, path))
        second = os.urandom(200 * 1024 + 7)
        r = self.upload(key, second, node=self.lead)
        self.expect_json(r, {})
        self.assertEqual(r.header("X-Blob-Tombstone-Exists"), "false", r.describe())
        for m in self.cluster.nodes:
            self.wait_file(m, key, sha(second))
            self.wait_get(m, key, second)

    def test_deleted_keys_blobs_go_from_every_node(self):
        lead = self.lead
        r = lead.request("POST", "admin/api/create", {"key_name": uniq("gone")},
                         binding="private")
        self.assertEqual(r.status, 200, r.describe())
        tok = r.json()["key"]
        r = lead.request("POST", "admin/insight/entity", {"root_api_key": tok},
                         binding="private")
        self.assertEqual(r.status, 200, r.describe())
        ds = r.json()["entity"]["data_scope_uuid"]
        keys = [uniq("k%d" % i) for i in range(3)]
        data = os.urandom(64 * 1024)
        for key in keys:
            self.expect_json(self.upload(key, data, node=lead,
                                         auth="Bearer " + tok), {})
        for m in self.cluster.nodes:
            for key in keys:
                path = self.blob_path(m, key, scope=ds)
                wait_for(lambda path=path: file_digest(path) == sha(data), 30,
                         "%s: %s replicated" % (m.name, path))
        r = lead.request("POST", "admin/api/delete", {"key": tok},
                         binding="private")
        self.assertEqual(r.status, 200, r.describe())
        # the leader's key cleanup (every 30 s) purges the scope's blobs,
        # and every node deletes the files
        for m in self.cluster.nodes:
            for key in keys:
                path = self.blob_path(m, key, scope=ds)
                wait_for(lambda path=path: not os.path.exists(path), 90,
                         "%s: %s removed with its key" % (m.name, path))

    def test_follower_down_during_upload_fetches_after_restart(self):
        down = self.followers[1]
        self.assertEqual(down.stop(), 0, down.log_tail())
        key = uniq("while/down")
        data = os.urandom(700 * 1024)
        self.expect_json(self.upload(key, data, node=self.lead), {})
        self.wait_file(self.followers[0], key, sha(data))
        path = self.blob_path(down, key)
        self.assertFalse(os.path.exists(path), "a stopped node got the file")
        down.start(wait=False)
        down.wait_ready(60)
        self.wait_file(down, key, sha(data))
        self.wait_get(down, key, data)

    def test_corrupt_file_is_repaired(self):
        self.corrupt_and_repair(self.followers[0])

    def test_corrupt_file_on_receiving_node_is_repaired(self):
        # the first source a fetch asks is the receiving node: here the
        # copy must come from another node
        self.corrupt_and_repair(self.lead)

    def corrupt_and_repair(self, victim):
        key = uniq("corrupt")
        data = os.urandom(256 * 1024)
        self.expect_json(self.upload(key, data, node=self.lead), {})
        for m in self.cluster.nodes:
            self.wait_file(m, key, sha(data))
        path = self.blob_path(victim, key)
        st = os.stat(path)
        with open(path, "r+b") as f:
            f.seek(len(data) // 2)
            piece = f.read(4096)
            f.seek(len(data) // 2)
            f.write(bytes(b ^ 0xa5 for b in piece))
            f.flush()
            os.fsync(f.fileno())
        # same size and times: only the hash tells
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        self.assertEqual(os.path.getsize(path), len(data))
        self.assertNotEqual(file_digest(path), sha(data))
        self.wait_file(victim, key, sha(data), timeout=30)
        self.wait_get(victim, key, data)
        # the other copies were left as they were
        for m in self.cluster.nodes:
            self.assertEqual(file_digest(self.blob_path(m, key)), sha(data), m.name)

    def test_node_down_during_purge_drops_its_copy(self):
        down = self.followers[0]
        key = uniq("purged/while/down")
        data = os.urandom(64 * 1024)
        self.expect_json(self.upload(key, data, node=self.lead), {})
        for m in self.cluster.nodes:
            self.wait_file(m, key, sha(data))
        self.assertEqual(down.stop(), 0, down.log_tail())
        self.assertEqual(self.bdelete(key, node=self.lead).status, 202)
        for m in self.cluster.nodes:
            if m is not down:
                path = self.blob_path(m, key)
                wait_for(lambda path=path: not os.path.exists(path), 20,
                         "%s: %s removed by GC" % (m.name, path))
        self.assertTrue(os.path.exists(self.blob_path(down, key)))
        down.start(wait=False)
        down.wait_ready(60)
        path = self.blob_path(down, key)
        wait_for(lambda: not os.path.exists(path), 30,
                 "%s: its copy of a purged blob removed" % down.name)
        self.expect(self.bget(key, node=down, query={"consistency": "linearizable"}),
                    404, "KEY_NOT_FOUND")

    def test_node_down_during_delete_purge_and_new_upload(self):
        # it comes back holding the old bytes, of the new blob's size
        down = self.followers[0]
        key = uniq("same/size/down")
        old, new = os.urandom(96 * 1024), os.urandom(96 * 1024)
        self.expect_json(self.upload(key, old, node=self.lead), {})
        for m in self.cluster.nodes:
            self.wait_file(m, key, sha(old))
        self.assertEqual(down.stop(), 0, down.log_tail())
        self.assertEqual(self.bdelete(key, node=self.lead).status, 202)
        for m in self.cluster.nodes:
            if m is not down:
                path = self.blob_path(m, key)
                wait_for(lambda path=path: not os.path.exists(path), 20,
                         "%s: %s removed by GC" % (m.name, path))
        self.expect_json(self.upload(key, new, node=self.lead), {})
        down.start(wait=False)
        down.wait_ready(60)
        # a linearizable read knows the new blob: the first bytes served
        # must be its own, not the old file of the same size
        self.wait_get(down, key, new, timeout=30,
                      query={"consistency": "linearizable"})
        self.wait_file(down, key, sha(new))

    def test_stalled_blobd_sees_delete_purge_and_new_upload(self):
        # one follower's blobd stopped while the key is uploaded, deleted,
        # purged and uploaded again with other bytes of the same size: it
        # must end with the new bytes, never serve the old ones
        slow = self.followers[0]
        pid = slow.roles()["blobd"]
        self.assertIsInstance(pid, int)
        key = uniq("same/size")
        old, new = os.urandom(128 * 1024), os.urandom(128 * 1024)
        os.kill(pid, signal.SIGSTOP)
        try:
            self.expect_json(self.upload(key, old, node=self.lead), {})
            self.wait_file(self.followers[1], key, sha(old))
            self.assertEqual(self.bdelete(key, node=self.lead).status, 202)
            for m in (self.lead, self.followers[1]):
                path = self.blob_path(m, key)
                wait_for(lambda path=path: not os.path.exists(path), 20,
                         "%s: %s removed by GC" % (m.name, path))
            self.expect_json(self.upload(key, new, node=self.lead), {})
            self.wait_file(self.followers[1], key, sha(new))
        finally:
            os.kill(pid, signal.SIGCONT)
        self.wait_file(slow, key, sha(new))
        self.wait_get(slow, key, new)

    def test_receiving_node_dead_others_replicate(self):
        lead = self.lead
        holder, late = self.followers
        self.assertEqual(late.stop(), 0, late.log_tail())
        key = uniq("orphan/source")
        data = os.urandom(900 * 1024)
        self.expect_json(self.upload(key, data, node=lead), {})
        self.wait_file(holder, key, sha(data))
        # the receiving node dies; the late node can only fetch from holder
        lead.kill_group()
        late.start(wait=False)
        late.wait_ready(60)
        self.cluster.wait_leader(60)
        self.wait_file(late, key, sha(data), timeout=60)
        self.wait_get(late, key, data)
        self.wait_get(holder, key, data)
        lead.start(wait=False)
        lead.wait_ready(60)
        self.cluster.wait_leader(60)
        self.wait_file(lead, key, sha(data))

    def test_concurrent_uploads_of_one_key(self):
        key = uniq("race")
        n = 8
        datas = [os.urandom(150 * 1024 + i) for i in range(n)]
        barrier = threading.Barrier(n, timeout=scaled(30))
        results = [None] * n

        def one(i):
            head, tail = upload_head(self.lead, key, len(datas[i]))
            with self.lead.conn() as c:
                c.sock.sendall(head + datas[i][:-100])
                barrier.wait()
                c.sock.sendall(datas[i][-100:] + tail)
                c.sent.append(b"POST blob/set #%d" % i)
                results[i] = c.read_response()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(60))
        self.assertTrue(all(not t.is_alive() for t in threads), "an upload hung")
        self.assertTrue(all(r is not None for r in results), "an upload failed")
        winners = [i for i, r in enumerate(results) if r.status == 200]
        self.assertEqual(len(winners), 1, "statuses %s"
                         % [r.status for r in results])
        for i, r in enumerate(results):
            if i != winners[0]:
                self.expect(r, 409, "KEY_EXISTS", msg="upload %d: " % i)
        won = datas[winners[0]]
        for m in self.cluster.nodes:
            self.wait_file(m, key, sha(won))
            self.wait_get(m, key, won)
        for m in self.cluster.nodes:
            wait_for(lambda m=m: not tmp_files(m), 10,
                     "%s: blobs/.tmp empty" % m.name)

    def test_receiving_node_killed_mid_upload(self):
        lead = self.lead
        key = uniq("cut/upload")
        head, _ = upload_head(lead, key, 8 * MIB)
        with lead.conn() as c:
            c.sock.sendall(head + os.urandom(3 * MIB))
            wait_for(lambda: tmp_files(lead), 10,
                     "%s: a temporary file for the upload" % lead.name)
            lead.kill_group()
        self.assertTrue(tmp_files(lead), "the killed node left no temporary file")
        lead.start(wait=False)
        lead.wait_ready(60)
        # temporary files are cleaned at start; nothing was stored
        wait_for(lambda: not tmp_files(lead), 15,
                 "%s: blobs/.tmp cleaned at start" % lead.name)
        now = self.cluster.wait_leader(60)
        for m in self.cluster.nodes:
            self.expect(self.bget(key, node=m, query={"consistency": "linearizable"}),
                        404, "KEY_NOT_FOUND", msg="%s: " % m.name)
            self.assertFalse(os.path.exists(self.blob_path(m, key)), m.name)
        data = os.urandom(4096)
        self.expect_json(self.upload(key, data, node=now), {})
        for m in self.cluster.nodes:
            self.wait_file(m, key, sha(data))

    def test_node_killed_mid_fetch_fetches_after_restart(self):
        late = self.followers[0]
        self.assertEqual(late.stop(), 0, late.log_tail())
        key = uniq("cut/fetch")
        size = 64 * MIB
        head, tail = upload_head(self.lead, key, size)
        digest = hashlib.sha256()
        with self.lead.conn() as c:
            c.sock.settimeout(scaled(60))
            c.sock.sendall(head)
            for piece in blocks(size, os.urandom(MIB)):
                digest.update(piece)
                c.sock.sendall(piece)
            c.sock.sendall(tail)
            c.sent.append(b"POST blob/set (64 MiB)")
            self.expect_json(c.read_response(), {})
        want = digest.hexdigest()
        late.start(wait=False)

        def fetching():
            late._check_running()
            for name in tmp_files(late):
                try:
                    if os.path.getsize(os.path.join(
                            late.node_dir, "blobs", ".tmp", name)) > 0:
                        return True
                except FileNotFoundError:
                    pass
            if file_digest(self.blob_path(late, key)) == want:
                raise FetchDone()
            return False
        try:
            wait_for(fetching, 30, "%s: a fetch under way" % late.name,
                     interval=0.002)
        except FetchDone:
            pass        # too fast to catch: the restart below still counts
        late.kill_group()
        late.start(wait=False)
        late.wait_ready(60)
        self.wait_file(late, key, want, timeout=60)
        wait_for(lambda: not tmp_files(late), 15, "%s: blobs/.tmp empty" % late.name)

    def test_show_node_counts_what_is_on_disk(self):
        # after the deletes, purges, kills and repairs above: blobd's count
        # and bytes are those of the files in place
        key = uniq("last")
        self.expect_json(self.upload(key, b"z" * 321, node=self.lead), {})

        def on_disk(m):
            scope = os.path.join(m.node_dir, "blobs", "root")
            names = os.listdir(scope)
            return len(names), sum(os.path.getsize(os.path.join(scope, n))
                                   for n in names)

        def agrees(m):
            t = m.ctl("-j", "show", "node")
            if t.returncode != 0:
                raise Abort(t.stderr.decode())
            s = json.loads(t.stdout.decode())["blobd"]
            return (s["blob_count"], s["blob_bytes"]) == on_disk(m) and \
                s["replication_queue"] == 0
        for m in self.cluster.nodes:
            self.wait_file(m, key, sha(b"z" * 321))
            wait_for(lambda m=m: agrees(m), 20,
                     "%s: show node counts the files on disk" % m.name)
            self.assertGreaterEqual(on_disk(m)[0], 1)


def blocks(size, seed):
    """size bytes from one 1 MiB random block, each block made distinct by
    its index: never more than a block in memory"""
    base = bytearray(seed)
    i = 0
    while size > 0:
        base[:8] = i.to_bytes(8, "little")
        piece = bytes(base[:min(size, len(base))])
        size -= len(piece)
        i += 1
        yield piece


class BlobsClusterLarge(_ClusterCase):
    """default intervals: a quiet cluster for counts and a large transfer"""

    cluster_tag = "blobsbig3"
    SIZE = 200 * MIB
    # VmHWM limit of apid and blobd (the peak resident size since start)
    PEAK_KIB = 64 * 1024

    def blob_status(self, m):
        t = m.ctl("-j", "show", "node")
        self.assertEqual(t.returncode, 0, t.stderr.decode())
        doc = json.loads(t.stdout.decode())
        self.assertIsInstance(doc.get("blobd"), dict, "show node: %r" % doc)
        return doc["blobd"]

    def metric(self, m, name):
        r = m.request("GET", "/metrics", binding="private", auth=False)
        self.assertEqual(r.status, 200, r.describe())
        for line in r.body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def test_show_node_and_metrics(self):
        # the class's cluster starts empty
        for m in self.cluster.nodes:
            s = self.blob_status(m)
            self.assertEqual((s.get("blob_count"), s.get("blob_bytes")), (0, 0),
                             "%s: %r" % (m.name, s))
        sizes = (1000, 2345, 0)
        for i, size in enumerate(sizes):
            self.expect_json(self.upload(uniq("count%d" % i), os.urandom(size),
                                         node=self.lead), {})

        def counted(m):
            s = self.blob_status(m)
            return s.get("blob_count") == len(sizes) and \
                s.get("blob_bytes") == sum(sizes)
        for m in self.cluster.nodes:
            wait_for(lambda m=m: counted(m), 20,
                     "%s: show node with %d blobs of %d bytes"
                     % (m.name, len(sizes), sum(sizes)))
            # the count is of files on disk
            scope = os.path.join(m.node_dir, "blobs", "root")
            self.assertEqual(len(os.listdir(scope)), len(sizes), m.name)
        for m in self.cluster.nodes:
            wait_for(lambda m=m: self.metric(m, "insidb_blob_replication_queue") == 0,
                     20, "%s: insidb_blob_replication_queue 0" % m.name)
        # a node that is down: the others' counts stay, it catches up
        down = self.followers[0]
        self.assertEqual(down.stop(), 0)
        key = uniq("count-late")
        self.expect_json(self.upload(key, b"x" * 77, node=self.lead), {})
        down.start(wait=False)
        down.wait_ready(60)
        wait_for(lambda: self.blob_status(down).get("blob_bytes") == sum(sizes) + 77,
                 30, "%s: show node counts the late blob" % down.name)

    def test_replication_queue_counts_a_waiting_fetch(self):
        # late comes back while no node can serve the blob (the receiving
        # node dead, the other copy gone): its fetch waits in the queue
        lead = self.lead
        holder, late = self.followers
        self.assertEqual(late.stop(), 0, late.log_tail())
        key = uniq("queued")
        data = os.urandom(5000)
        self.expect_json(self.upload(key, data, node=lead), {})
        self.wait_file(holder, key, sha(data))
        lead.kill_group()
        os.unlink(self.blob_path(holder, key))
        late.start(wait=False)
        late.wait_ready(60)

        def waiting():
            gauge = self.metric(late, "insidb_blob_replication_queue")
            return gauge is not None and gauge >= 1 and \
                self.blob_status(late).get("replication_queue", 0) >= 1
        wait_for(waiting, 30, "%s: a fetch in insidb_blob_replication_queue "
                 "and show node" % late.name)
        self.assertIsNone(file_digest(self.blob_path(late, key)))
        # the receiving node is back: the fetch is retried and ends
        lead.start(wait=False)
        lead.wait_ready(60)
        self.wait_file(late, key, sha(data), timeout=60)
        wait_for(lambda: self.metric(late, "insidb_blob_replication_queue") == 0,
                 30, "%s: insidb_blob_replication_queue back to 0" % late.name)
        self.assertEqual(self.blob_status(late)["replication_queue"], 0)

    def stream_upload(self, node, key, seed):
        digest = hashlib.sha256()
        head, tail = upload_head(node, key, self.SIZE)
        with node.conn() as c:
            c.sock.settimeout(scaled(120))
            c.sock.sendall(head)
            for piece in blocks(self.SIZE, seed):
                digest.update(piece)
                c.sock.sendall(piece)
            c.sock.sendall(tail)
            c.sent.append(b"POST blob/set (200 MiB)")
            r = c.read_response()
        self.expect_json(r, {})
        return digest.hexdigest()

    def stream_download(self, node, key):
        digest = hashlib.sha256()
        got = 0
        with node.conn() as c:
            c.sock.settimeout(scaled(120))
            c.send(("GET /db/api/v1/blob/get?key=%s HTTP/1.1\r\nHost: x\r\n"
                    "Authorization: Bearer %s\r\n\r\n" % (key, node.root_key)).encode())
            r = c.read_response(head=True)
            self.assertEqual(r.status, 200, r.describe())
            length = int(r.header("Content-Length"))
            while got < length:
                piece = c.rfile.read(min(MIB, length - got))
                if not piece:
                    break
                digest.update(piece)
                got += len(piece)
        self.assertEqual(got, self.SIZE, "%s: short download" % node.name)
        return digest.hexdigest(), r.header("ETag")

    def test_large_transfer_keeps_memory_small(self):
        check_memory = scaled(1) == 1
        key = uniq("large")
        want = self.stream_upload(self.lead, key, os.urandom(MIB))
        got, etag = self.stream_download(self.lead, key)
        self.assertEqual(got, want, "the leader returned other bytes")
        self.assertEqual(etag, '"%s"' % want)
        far = self.followers[0]
        self.wait_file(far, key, want, timeout=120)
        self.wait_file(self.followers[1], key, want, timeout=120)
        got, etag = self.stream_download(far, key)
        self.assertEqual(got, want, "%s returned other bytes" % far.name)
        for m in self.cluster.nodes:
            wait_for(lambda m=m: not tmp_files(m), 10,
                     "%s: blobs/.tmp empty" % m.name)
        if not check_memory:
            return
        for m in self.cluster.nodes:
            roles = m.roles()
            for role in ("apid", "blobd"):
                pid = roles.get(role)
                self.assertIsInstance(pid, int, "%s: %s pid %r" % (m.name, role, roles))
                peak = vm_kib(pid, "VmHWM")
                self.assertLess(peak, self.PEAK_KIB, "%s: %s peaked at %d KiB"
                                % (m.name, role, peak))

