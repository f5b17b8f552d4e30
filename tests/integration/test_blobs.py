"""API.md §13 blob routes and the internal download of §18.1: upload with
the key part first, after the blob part (step 1 then: conflicts, bad keys,
no temporary file left) or in the query, byte-exact download with its headers,
ranges, conditionals, HEAD, conflicts, delete and iterate, the upload
errors (415, 413 for blobs.max_size and for non-file parts, 400 for
missing or doubled parts and for the disk quota), the file on disk, the
internal download, op_blobs and the replication-queue gauge; then three
nodes: the file reaches every node and followers serve it."""

import email.utils
import hashlib
import os
import socket
import time

from harness import ClusterTestCase, NodeTestCase, scaled, wait_for

BOUNDARY = "insidbBlobTest-7f3a"
MAX_SIZE = 1024 * 1024
# more than one chunk of the apid <-> blobd transfer (256 KiB)
BIG = 600 * 1024


def uniq(tag):
    return "%s-%s" % (tag, os.urandom(4).hex())


def part(name, data, filename=None, ctype=None):
    return (name, data, filename, ctype)


def multipart(parts, boundary=BOUNDARY, close=True):
    out = b"preamble to ignore\r\n"
    for name, data, filename, ctype in parts:
        out += b"--" + boundary.encode() + b"\r\n"
        disp = 'form-data; name="%s"' % name
        if filename is not None:
            disp += '; filename="%s"' % filename
        out += ("Content-Disposition: %s\r\n" % disp).encode()
        if ctype is not None:
            out += ("Content-Type: %s\r\n" % ctype).encode()
        out += b"\r\n" + data + b"\r\n"
    if close:
        out += b"--" + boundary.encode() + b"--\r\nepilogue"
    return out


def tricky_bytes(n):
    """random bytes with delimiter look-alikes inside"""
    near = b"\r\n--" + BOUNDARY.encode()[:-1] + b"x\r\n--\r\n" + \
        b"\r\r\n-" + BOUNDARY.encode()
    data = bytearray(os.urandom(n))
    for off in range(0, n - len(near), max(n // 7, len(near) + 1)):
        data[off:off + len(near)] = near
    return bytes(data)


def sha(b):
    return hashlib.sha256(b).hexdigest()


MP_TYPE = ("Content-Type", "multipart/form-data; boundary=%s" % BOUNDARY)


class _BlobMixin:
    def upload(self, key, data, query_key=False, filename="f.bin",
               ctype="application/pdf", node=None, extra=(), key_last=False,
               **kw):
        parts = list(extra)
        parts.append(part("blob", data, filename, ctype))
        if key_last:
            parts.append(part("key", key.encode("utf-8")))
        elif not query_key:
            parts.insert(0, part("key", key.encode("utf-8")))
        q = {"key": key} if query_key else None
        return (node or self.node).request(
            "POST", "blob/set", multipart(parts), query=q,
            headers=[MP_TYPE], **kw)

    def raw_upload(self, body, query=None, ctype=MP_TYPE[1], **kw):
        return self.node.request("POST", "blob/set", body, query=query,
                                 headers=[("Content-Type", ctype)], **kw)

    def bget(self, key, node=None, headers=(), method="GET", query=None, **kw):
        q = {"key": key}
        q.update(query or {})
        return (node or self.node).request(method, "blob/get", query=q,
                                           headers=list(headers), **kw)

    def biter(self, query, node=None, **kw):
        return (node or self.node).request("GET", "blob/iterate/prefix",
                                           query=query, **kw)

    def bdelete(self, key, node=None, **kw):
        return (node or self.node).request("POST", "blob/delete",
                                           {"key": key}, **kw)

    def expect_blob(self, resp, data, ctype, msg=""):
        ctx = msg + resp.describe()
        self.assertEqual(resp.status, 200, ctx)
        self.assertEqual(resp.body, data, "bytes differ" + ctx)
        self.assertEqual(resp.header("Content-Type"), ctype, ctx)
        self.assertEqual(resp.header("Content-Length"), str(len(data)), ctx)
        self.assertEqual(resp.header("ETag"), '"%s"' % sha(data), ctx)
        self.assertEqual(resp.header("Accept-Ranges"), "bytes", ctx)
        self.assertEqual(resp.header("X-Content-Type-Options"), "nosniff", ctx)
        self.assertEqual(resp.header("Content-Security-Policy"), "sandbox", ctx)
        lm = resp.header("Last-Modified")
        self.assertRegex(lm or "", r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} "
                         r"\d\d:\d\d:\d\d GMT$", ctx)
        when = email.utils.parsedate_to_datetime(lm).timestamp()
        self.assertLess(abs(when - time.time()), 600, "Last-Modified far off" + ctx)

    def blob_path(self, node, key, scope="root"):
        return os.path.join(node.node_dir, "blobs", scope,
                            sha(key.encode("utf-8")))


class Blobs(_BlobMixin, NodeTestCase):
    node_tag = "blobs"
    node_options = {"extra_yaml": "blobs:\n  max_size: %d\n" % MAX_SIZE}

    def test_upload_key_part_first_and_download(self):
        key = uniq("reports/2024") + ".pdf"
        data = tricky_bytes(BIG)
        r = self.upload(key, data, filename="2024.pdf")
        self.expect_json(r, {})
        self.assertEqual(r.header("X-Blob-Already-Exists"), "false", r.describe())
        self.assertEqual(r.header("X-Blob-Tombstone-Exists"), "false", r.describe())
        self.expect_blob(self.bget(key), data, "application/pdf")
        r = self.bget(key, query={"consistency": "linearizable"})
        self.expect_blob(r, data, "application/pdf")
        # the file under blobs/<ds>/<sha256(key)>, byte-equal
        with open(self.blob_path(self.node, key), "rb") as f:
            self.assertEqual(f.read(), data)

    def test_upload_key_in_query(self):
        key = uniq("q key/with spaces")
        data = b"\x00\x01 small blob \r\n--" + BOUNDARY.encode()[:-1]
        # a key part is ignored when the query names the key; a media type
        # that is not valid becomes application/octet-stream
        r = self.upload(key, data, query_key=True, ctype="not a type",
                        extra=[part("key", b"other-key")])
        self.expect_json(r, {})
        self.expect_blob(self.bget(key), data, "application/octet-stream")
        self.expect(self.bget("other-key"), 404, "KEY_NOT_FOUND")

    def test_key_part_after_blob(self):
        key = uniq("late/key")
        data = tricky_bytes(BIG)
        # another part between, the key last
        r = self.upload(key, data, filename="late.pdf", key_last=True,
                        extra=[part("note", b"ignored")])
        self.expect_json(r, {})
        self.assertEqual(r.header("X-Blob-Already-Exists"), "false", r.describe())
        self.assertEqual(r.header("X-Blob-Tombstone-Exists"), "false", r.describe())
        self.expect_blob(self.bget(key), data, "application/pdf")
        with open(self.blob_path(self.node, key), "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(self.biter({"prefix": key}).json(), {"data": [key]})
        # the query wins over a key part after the blob too
        key2 = uniq("late-q")
        body = multipart([part("blob", b"by query", "q"),
                          part("key", b"late-ignored")])
        self.expect_json(self.raw_upload(body, query={"key": key2}), {})
        self.expect_blob(self.bget(key2), b"by query", "application/octet-stream")
        self.expect(self.bget("late-ignored"), 404, "KEY_NOT_FOUND")
        # a second key part after the blob is just another part
        key3 = uniq("late-twice")
        body = multipart([part("blob", b"twice", "t"), part("key", key3.encode()),
                          part("key", b"second-ignored")])
        self.expect_json(self.raw_upload(body), {})
        self.expect_blob(self.bget(key3), b"twice", "application/octet-stream")
        self.expect(self.bget("second-ignored"), 404, "KEY_NOT_FOUND")
        self.assertEqual(self.tmp_files(), [])

    def test_late_key_conflicts(self):
        key = uniq("late-exists")
        first = os.urandom(2000)
        self.expect_json(self.upload(key, first), {})
        # the whole second blob streams before its key is known
        r = self.upload(key, tricky_bytes(BIG), key_last=True)
        self.expect(r, 409, "KEY_EXISTS", names="key")
        self.assertEqual(r.header("X-Blob-Already-Exists"), "true", r.describe())
        self.assertEqual(r.header("X-Blob-Tombstone-Exists"), "false", r.describe())
        wait_for(lambda: not self.tmp_files(), 10,
                 "no temporary file after the refused upload")
        self.expect_blob(self.bget(key), first, "application/pdf")
        with open(self.blob_path(self.node, key), "rb") as f:
            self.assertEqual(f.read(), first)
        # deleted, waiting for GC
        self.assertEqual(self.bdelete(key).status, 202)
        r = self.upload(key, b"again", key_last=True)
        self.expect(r, 409, "BLOB_TOMBSTONED")
        self.assertEqual(r.header("X-Blob-Tombstone-Exists"), "true", r.describe())
        self.assertEqual(r.header("X-Blob-Already-Exists"), "false", r.describe())
        self.assertEqual(r.header("Retry-After"), "31", r.describe())
        wait_for(lambda: not self.tmp_files(), 10,
                 "no temporary file after the tombstoned upload")

    def test_late_key_invalid_or_missing(self):
        data = tricky_bytes(BIG)
        # the key's rules of §2.6, as for a key part first
        for bad, status, etype in ((b"", 400, "BAD_REQUEST"),
                                   (b"a\x00b", 400, "BAD_REQUEST"),
                                   (b"k" * 4097, 413, "PAYLOAD_TOO_LARGE")):
            r = self.raw_upload(multipart([part("blob", data, "a"),
                                           part("key", bad)]))
            self.expect(r, status, etype, names="key", msg=repr(bad[:8]))
            self.assertIsNone(r.header("X-Blob-Already-Exists"), r.describe())
        # no key anywhere: 400 naming key once the body ends
        r = self.raw_upload(multipart([part("blob", data, "a"),
                                       part("other", b"x")]))
        self.expect(r, 400, "BAD_REQUEST", names="key")
        wait_for(lambda: not self.tmp_files(), 10,
                 "no temporary file after the refused uploads")

    def test_chunked_upload(self):
        key = uniq("chunked")
        data = tricky_bytes(300 * 1024)
        body = multipart([part("key", key.encode()),
                          part("blob", data, "c.txt", "text/plain; charset=utf-8")])
        out, i, step = b"", 0, 1
        while i < len(body):
            piece = body[i:i + step]
            out += b"%x\r\n" % len(piece) + piece + b"\r\n"
            i += len(piece)
            step = step * 3 + 1
        out += b"0\r\n\r\n"
        r = self.node.request("POST", "blob/set", out, headers=[
            MP_TYPE, ("Transfer-Encoding", "chunked")])
        self.expect_json(r, {})
        self.expect_blob(self.bget(key), data, "text/plain; charset=utf-8")

    def test_empty_blob_and_no_filename(self):
        key = uniq("empty")
        self.expect_json(self.upload(key, b"", filename=None, ctype=None), {})
        self.expect_blob(self.bget(key), b"", "application/octet-stream")
        self.expect(self.bget(key, headers=[("Range", "bytes=0-")]), 416,
                    "RANGE_NOT_SATISFIABLE")

    def test_ranges(self):
        key = uniq("range")
        data = os.urandom(1000)
        self.expect_json(self.upload(key, data), {})
        for rng, first, last in (("bytes=10-19", 10, 19), ("bytes=990-", 990, 999),
                                 ("bytes=-5", 995, 999), ("bytes=900-5000", 900, 999),
                                 ("bytes=-5000", 0, 999)):
            r = self.bget(key, headers=[("Range", rng)])
            self.assertEqual(r.status, 206, rng + r.describe())
            self.assertEqual(r.body, data[first:last + 1], rng)
            self.assertEqual(r.header("Content-Range"),
                             "bytes %d-%d/1000" % (first, last), rng)
            self.assertEqual(r.header("ETag"), '"%s"' % sha(data))
        for rng in ("bytes=1000-", "bytes=5000-6000", "bytes=-0"):
            r = self.bget(key, headers=[("Range", rng)])
            self.expect(r, 416, "RANGE_NOT_SATISFIABLE", msg=rng)
            self.assertEqual(r.header("Content-Range"), "bytes */1000", rng)
        # several ranges, bad syntax, another ETag in If-Range: the whole
        for hdrs in ([("Range", "bytes=0-1,5-6")], [("Range", "bytes=x-y")],
                     [("Range", "items=0-1")], [("Range", "bytes=5-1")],
                     [("Range", "bytes=0-1"), ("If-Range", '"%s"' % ("0" * 64))]):
            self.expect_blob(self.bget(key, headers=hdrs), data,
                             "application/pdf", msg=repr(hdrs))
        r = self.bget(key, headers=[("Range", "bytes=0-1"),
                                    ("If-Range", '"%s"' % sha(data))])
        self.assertEqual((r.status, r.body), (206, data[:2]), r.describe())

    def test_conditional_and_head(self):
        key = uniq("cond")
        data = os.urandom(3000)
        self.expect_json(self.upload(key, data), {})
        etag = '"%s"' % sha(data)
        for inm in (etag, "*", 'W/%s' % etag, '"abc", %s' % etag):
            r = self.bget(key, headers=[("If-None-Match", inm)])
            self.assertEqual(r.status, 304, inm + r.describe())
            self.assertEqual(r.body, b"")
            self.assertEqual(r.header("ETag"), etag)
        self.expect_blob(self.bget(key, headers=[("If-None-Match", '"nope"')]),
                         data, "application/pdf")
        r = self.bget(key, method="HEAD")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.body, b"")
        self.assertEqual(r.header("Content-Length"), "3000")
        self.assertEqual(r.header("ETag"), etag)
        self.assertEqual(r.header("Content-Type"), "application/pdf")
        self.expect(self.bget(uniq("absent"), method="HEAD"), 404)
        # keep-alive survives a streamed body: two gets on one connection,
        # then pipelined: a get, a head, a ranged get, in order
        path = "/db/api/v1/blob/get?key=" + key
        auth = "Authorization: Bearer %s\r\n" % self.node.root_key
        with self.node.conn() as c:
            for _ in range(2):
                r = c.request("GET", path, None, self.node.auth_headers(True))
                self.assertEqual(r.body, data)
            c.send(("GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n"
                    "HEAD %s HTTP/1.1\r\nHost: x\r\n%s\r\n"
                    "GET %s HTTP/1.1\r\nHost: x\r\n%sRange: bytes=1-2\r\n\r\n"
                    % (path, auth, path, auth, path, auth)).encode())
            self.assertEqual(c.read_response().body, data)
            r = c.read_response(head=True)
            self.assertEqual((r.status, r.body), (200, b""))
            r = c.read_response()
            self.assertEqual((r.status, r.body), (206, data[1:3]))

    def test_reupload_is_refused(self):
        key = uniq("twice")
        self.expect_json(self.upload(key, b"first"), {})
        for q in (False, True):
            r = self.upload(key, b"second", query_key=q)
            self.expect(r, 409, "KEY_EXISTS")
            self.assertEqual(r.header("X-Blob-Already-Exists"), "true", r.describe())
            self.assertEqual(r.header("X-Blob-Tombstone-Exists"), "false")
        self.expect_blob(self.bget(key), b"first", "application/pdf")

    def test_delete(self):
        key = uniq("del")
        self.expect_json(self.upload(key, b"to delete"), {})
        self.assertEqual(self.biter({"prefix": key}).json(), {"data": [key]})
        r = self.bdelete(key)
        self.assertEqual(r.status, 202, r.describe())
        self.assertEqual(r.json(), {})
        self.expect(self.bget(key), 404, "KEY_NOT_FOUND")
        self.expect(self.bget(key, method="HEAD"), 404)
        self.assertEqual(self.biter({"prefix": key}).json(), {"data": []})
        # deleting again: absent
        self.expect(self.bdelete(key), 404, "KEY_NOT_FOUND")
        # uploading while the tombstone waits for GC
        r = self.upload(key, b"again")
        self.expect(r, 409, "BLOB_TOMBSTONED")
        self.assertEqual(r.header("X-Blob-Tombstone-Exists"), "true", r.describe())
        self.assertEqual(r.header("Retry-After"), "31", r.describe())
        # DELETE with the key in the query
        key2 = uniq("del2")
        self.expect_json(self.upload(key2, b"x"), {})
        r = self.node.request("DELETE", "blob/delete", query={"key": key2})
        self.assertEqual(r.status, 202, r.describe())
        self.expect(self.bget(key2), 404, "KEY_NOT_FOUND")

    def test_iterate(self):
        pre = uniq("it") + "/"
        keys = [pre + k for k in ("b", "a", "c")]
        # three uploads on one keep-alive connection
        with self.node.conn() as c:
            for k in keys:
                body = multipart([part("key", k.encode()),
                                  part("blob", k.encode(), "f")])
                self.expect_json(c.request(
                    "POST", "/db/api/v1/blob/set", body,
                    self.node.auth_headers(True) + [MP_TYPE]), {})
        self.expect_json(self.biter({"prefix": pre}), {"data": sorted(keys)})
        self.expect_json(self.biter({"prefix": pre + "*", "offset": 1, "limit": 1}),
                         {"data": [pre + "b"]})
        self.expect(self.biter({"prefix": pre, "limit": 0}), 400, "BAD_REQUEST",
                    names="limit")
        # values are another namespace
        self.expect_json(self.req("GET", "iterate/prefix", query={"prefix": pre}),
                         {"data": []})

    def test_media_type_and_parts(self):
        self.expect(self.raw_upload(b"{}", ctype="application/json"), 415,
                    "UNSUPPORTED_MEDIA_TYPE")
        self.expect(self.node.request("POST", "blob/set", b"x"), 415,
                    "UNSUPPORTED_MEDIA_TYPE")
        self.expect(self.raw_upload(b"x", ctype="multipart/form-data"), 400,
                    "BAD_REQUEST")
        key = uniq("parts")
        # no blob part, no key, two blob parts
        self.expect(self.raw_upload(multipart([part("key", key.encode())])),
                    400, "BAD_REQUEST", names="blob")
        self.expect(self.raw_upload(multipart([part("blob", b"x", "a")])),
                    400, "BAD_REQUEST", names="key")
        self.expect(self.raw_upload(multipart([
            part("key", key.encode()), part("blob", b"x", "a"),
            part("blob", b"y", "b")])), 400, "BAD_REQUEST", names="blob")
        # the key's own rules
        self.expect(self.raw_upload(multipart([
            part("key", b""), part("blob", b"x", "a")])), 400, "BAD_REQUEST",
            names="key")
        self.expect(self.raw_upload(multipart([
            part("key", b"k" * 4097), part("blob", b"x", "a")])), 413,
            "PAYLOAD_TOO_LARGE", names="key")
        # no closing boundary
        self.expect(self.raw_upload(multipart([
            part("key", key.encode()), part("blob", b"x", "a")], close=False)),
            400, "BAD_REQUEST")
        # nothing of it was stored
        self.expect(self.bget(key), 404, "KEY_NOT_FOUND")
        self.assertEqual(self.biter({"prefix": key}).json(), {"data": []})

    def test_size_limits(self):
        key = uniq("big")
        r = self.upload(key, os.urandom(MAX_SIZE + 1))
        self.expect(r, 413, "PAYLOAD_TOO_LARGE", names="blob")
        self.assertEqual(r.header("X-Blob-Already-Exists"), "false", r.describe())
        self.expect(self.bget(key), 404, "KEY_NOT_FOUND")
        self.assertFalse(os.path.exists(self.blob_path(self.node, key)))
        # exactly the limit is fine
        data = os.urandom(MAX_SIZE)
        self.expect_json(self.upload(key, data), {})
        self.expect_blob(self.bget(key), data, "application/pdf")
        # non-file parts over 64 KiB together
        r = self.upload(uniq("nf"), b"x", extra=[
            part("note1", b"n" * 40000), part("note2", b"n" * 30000)])
        self.expect(r, 413, "PAYLOAD_TOO_LARGE")

    def test_disk_limit(self):
        r = self.req("POST", "admin/api/create", {"key_name": uniq("blobq")},
                     binding="private")
        self.assertEqual(r.status, 200, r.describe())
        tok = r.json()["key"]
        auth = "Bearer " + tok
        r = self.req("POST", "admin/limits/set", {
            "api_key": tok, "limits": {"bytes_on_disk": 1000}}, binding="private")
        self.assertEqual(r.status, 200, r.describe())
        r = self.upload("q1", os.urandom(1001), auth=auth)
        self.expect(r, 400, "DISK_LIMIT_EXCEEDED")
        self.assertEqual(r.header("X-Current-Disk-Usage"), "0", r.describe())
        self.assertEqual(r.header("X-Disk-Usage-Limit"), "1000", r.describe())
        self.expect_json(self.upload("q1", b"a" * 600, auth=auth), {})
        r = self.req("GET", "limits", auth=auth)
        self.assertEqual(r.json()["usage"]["bytes_on_disk"], 600, r.describe())
        r = self.upload("q2", b"b" * 401, auth=auth)
        self.expect(r, 400, "DISK_LIMIT_EXCEEDED")
        self.assertEqual(r.header("X-Current-Disk-Usage"), "600", r.describe())
        # the key after the blob: the quota as known when the blob starts
        r = self.upload("q2", b"b" * 401, auth=auth, key_last=True)
        self.expect(r, 400, "DISK_LIMIT_EXCEEDED")
        self.assertEqual(r.header("X-Current-Disk-Usage"), "600", r.describe())
        self.assertEqual(r.header("X-Disk-Usage-Limit"), "1000", r.describe())
        self.expect_json(self.upload("q2", b"b" * 400, auth=auth,
                                     key_last=True), {})
        self.expect_blob(self.bget("q2", auth=auth), b"b" * 400,
                         "application/pdf")
        r = self.req("GET", "limits", auth=auth)
        self.assertEqual(r.json()["usage"]["bytes_on_disk"], 1000, r.describe())
        self.assertEqual(self.bdelete("q2", auth=auth).status, 202)
        # the tenant's blobs are its own
        self.expect_blob(self.bget("q1", auth=auth), b"a" * 600, "application/pdf")
        self.expect(self.bget("q1"), 404, "KEY_NOT_FOUND")
        # delete gives the bytes back
        self.assertEqual(self.bdelete("q1", auth=auth).status, 202)
        r = self.req("GET", "limits", auth=auth)
        self.assertEqual(r.json()["usage"]["bytes_on_disk"], 0, r.describe())

    def tmp_files(self):
        tmp = os.path.join(self.node.node_dir, "blobs", ".tmp")
        return os.listdir(tmp) if os.path.isdir(tmp) else []

    def test_client_gone_mid_upload(self):
        key = uniq("gone")
        head = multipart([part("key", key.encode())], close=False)
        head += ("--%s\r\nContent-Disposition: form-data; name=\"blob\"\r\n"
                 "\r\n" % BOUNDARY).encode()
        with self.node.conn() as c:
            c.sock.sendall(("POST /db/api/v1/blob/set HTTP/1.1\r\nHost: x\r\n"
                            "Authorization: Bearer %s\r\nContent-Type: %s\r\n"
                            "Content-Length: %d\r\n\r\n"
                            % (self.node.root_key, MP_TYPE[1],
                               len(head) + MAX_SIZE)).encode())
            c.sock.sendall(head + os.urandom(700 * 1024))
            wait_for(lambda: self.tmp_files(), 5,
                     "a temporary file for the upload")
        # the connection is gone: the upload is aborted, its file removed
        wait_for(lambda: not self.tmp_files(), 15,
                 "the temporary file to go after the client left")
        self.expect(self.bget(key), 404, "KEY_NOT_FOUND")
        self.expect_json(self.upload(key, b"complete"), {})
        self.expect_blob(self.bget(key), b"complete", "application/pdf")

    def test_not_replicated(self):
        key = uniq("lost")
        self.expect_json(self.upload(key, b"will vanish"), {})
        os.unlink(self.blob_path(self.node, key))
        for method in ("GET", "HEAD"):
            r = self.bget(key, method=method)
            self.expect(r, 503, "BLOB_NOT_REPLICATED", msg=method)
            self.assertEqual(r.header("Retry-After"), "1", r.describe())
        r = self.req("GET", "/db/internal/v1/blob/download",
                     query={"key": key, "scope": "root"}, binding="private")
        self.expect(r, 503, "BLOB_NOT_REPLICATED")
        # still listed: the metadata is there
        self.assertEqual(self.biter({"prefix": key}).json(), {"data": [key]})

    def test_get_errors(self):
        self.expect(self.req("GET", "blob/get"), 400, "BAD_REQUEST", names="key")
        self.expect(self.bget(uniq("none")), 404, "KEY_NOT_FOUND")
        self.expect(self.bget("k", query={"consistency": "x"}), 400,
                    "BAD_REQUEST", names="consistency")
        self.expect(self.req("PUT", "blob/get"), 405, "METHOD_NOT_ALLOWED")
        self.expect(self.req("GET", "blob/set"), 405, "METHOD_NOT_ALLOWED")

    def test_internal_download(self):
        key = uniq("internal")
        data = os.urandom(5000)
        self.expect_json(self.upload(key, data), {})
        route = "/db/internal/v1/blob/download"
        q = {"key": key, "scope": "root"}
        r = self.req("GET", route, query=q, binding="private")
        self.expect_blob(r, data, "application/pdf")
        r = self.req("GET", route, query=q, binding="private",
                     headers=[("Range", "bytes=4000-")])
        self.assertEqual((r.status, r.body), (206, data[4000:]), r.describe())
        self.expect(self.req("GET", route, query={"key": key}, binding="private"),
                    400, "BAD_REQUEST", names="scope")
        self.expect(self.req("GET", route, query={"scope": "root"},
                             binding="private"), 400, "BAD_REQUEST", names="key")
        self.expect(self.req("GET", route, query={"key": key, "scope": "other"},
                             binding="private"), 404, "KEY_NOT_FOUND")
        self.expect(self.req("GET", route, query=q, binding="private",
                             auth="Bearer insi_nope"), 401, "AUTHENTICATION_FAILED")
        self.expect(self.req("GET", route, query=q), 404, "NOT_FOUND")

    def test_metrics(self):
        self.expect_json(self.upload(uniq("m"), b"m"), {})

        def rate():
            r = self.req("GET", "admin/metrics/ops", binding="private")
            return r.status == 200 and r.json()["op_blobs"] > 0
        wait_for(rate, 5, "op_blobs above zero")

        def gauge():
            r = self.req("GET", "/metrics", binding="private", auth=False)
            for line in r.body.decode().splitlines():
                if line.startswith("insidb_blob_replication_queue "):
                    return int(float(line.split()[1])) >= 0
            return False
        wait_for(gauge, 5, "insidb_blob_replication_queue in /metrics")


class BlobCluster(_BlobMixin, ClusterTestCase):
    """three nodes: the bytes reach every node; followers serve them"""

    cluster_tag = "blobs3"

    def test_replicated_to_every_node(self):
        lead = self.cluster.wait_leader()
        followers = [m for m in self.cluster.nodes if m is not lead]
        key = uniq("repl/file")
        data = tricky_bytes(BIG)
        r = self.upload(key, data, node=followers[0])
        self.assertEqual(r.status, 307, r.describe())
        self.expect_json(self.upload(key, data, node=lead), {})
        for m in self.cluster.nodes:
            path = self.blob_path(m, key)

            def present(path=path):
                if not os.path.exists(path):
                    return False
                with open(path, "rb") as f:
                    return f.read() == data
            wait_for(present, scaled(20), "%s: %s" % (m.name, path))
        for m in followers:
            r = wait_for(lambda m=m: (lambda r: r if r.status == 200 else None)(
                self.bget(key, node=m)), scaled(10), "%s: blob/get 200" % m.name)
            self.expect_blob(r, data, "application/pdf", msg="%s: " % m.name)
        # a delete is seen everywhere
        self.assertEqual(self.bdelete(key, node=lead).status, 202)
        for m in self.cluster.nodes:
            wait_for(lambda m=m: self.bget(key, node=m).status == 404,
                     scaled(10), "%s: 404 after delete" % m.name)


def vm_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for pid %d" % (field, pid))


class BlobsLarge(_BlobMixin, NodeTestCase):
    """a blob far larger than apid's buffers: it never lives in apid's
    memory whole, on the way in or out (sanitizer builds keep freed memory
    in quarantine, so there only the bytes are checked)"""

    node_tag = "blobsbig"
    node_options = {"extra_yaml": "blobs:\n  max_size: 0\n"}
    SIZE = 48 * 1024 * 1024
    # apid may grow by a few chunks and its output buffer, not by the blob
    GROWTH_KIB = 16 * 1024

    def apid_pid(self):
        pid = self.node.roles().get("apid")
        self.assertIsInstance(pid, int)
        return pid

    def test_large_upload_and_slow_download(self):
        check_memory = scaled(1) == 1
        pid = self.apid_pid()
        before = vm_kib(pid, "VmRSS")
        block = os.urandom(1024 * 1024)
        digest = hashlib.sha256()
        head = multipart([part("key", b"large")], close=False)
        head += ("--%s\r\nContent-Disposition: form-data; name=\"blob\"; "
                 "filename=\"big\"\r\n\r\n" % BOUNDARY).encode()
        tail = ("\r\n--%s--\r\n" % BOUNDARY).encode()
        total = len(head) + self.SIZE + len(tail)
        with self.node.conn() as c:
            c.sock.sendall(("POST /db/api/v1/blob/set HTTP/1.1\r\nHost: x\r\n"
                            "Authorization: Bearer %s\r\nContent-Type: %s\r\n"
                            "Content-Length: %d\r\n\r\n"
                            % (self.node.root_key, MP_TYPE[1], total)).encode())
            c.sock.sendall(head)
            for i in range(self.SIZE // len(block)):
                chunk = bytes([i & 0xff]) + block[1:]
                digest.update(chunk)
                c.sock.sendall(chunk)
            c.sock.sendall(tail)
            r = c.read_response()
        self.expect_json(r, {})
        grown = vm_kib(pid, "VmHWM") - before
        if check_memory:
            self.assertLess(grown, self.GROWTH_KIB,
                            "apid grew by %d KiB during the upload" % grown)
        with self.node.conn() as c:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            c.send(("GET /db/api/v1/blob/get?key=large HTTP/1.1\r\nHost: x\r\n"
                    "Authorization: Bearer %s\r\n\r\n"
                    % self.node.root_key).encode())
            # a client that does not read: apid stops reading from blobd
            time.sleep(scaled(1.5))
            stalled = vm_kib(pid, "VmRSS") - before
            r = c.read_response()
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(len(r.body), self.SIZE)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), digest.hexdigest())
        self.assertEqual(r.header("ETag"), '"%s"' % digest.hexdigest())
        if check_memory:
            self.assertLess(stalled, self.GROWTH_KIB,
                            "apid grew by %d KiB for a stalled download" % stalled)
