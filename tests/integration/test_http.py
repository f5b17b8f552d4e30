"""API.md §2 and §3 at the HTTP level: authentication, routing, methods,
bindings, common headers, HEAD, keep-alive, pipelining, chunked bodies,
the request head limit, and §15.1 ping."""

import json
import os
import re
import time

from harness import (NodeTestCase, Conn, ProtocolError, build_request, path_for,
                     UUID4_RE, scaled, wait_for)

# the spec's example entity token (made with another instance secret)
FOREIGN_TOKEN = (
    "insi_AAECAwQFBgcICQoLd/MoMF8VRPWCJKpwwaQbKjcGrouAyStb2kQ7sliIiU9f+2kqBDYun7aHea"
    "tIUMa6TkCYiSqFFoX4fduq+utrMngeXPgKm+dJakV+mfDTboLtLxxuCXrsxLLmTqZNV6s8yE7Qjx2rN6g=")

UPTIME_RE = re.compile(
    r"^(?:(?P<h>[1-9][0-9]*)h(?P<hm>[0-9]|[1-5][0-9])m(?P<hs>[0-9]|[1-5][0-9])s"
    r"|(?P<m>[1-9]|[1-5][0-9])m(?P<ms>[0-9]|[1-5][0-9])s"
    r"|(?P<s>[0-9]|[1-5][0-9])s)$")


def uptime_seconds(text):
    m = UPTIME_RE.match(text)
    if not m:
        return None
    g = {k: int(v) for k, v in m.groupdict().items() if v is not None}
    return (g.get("h", 0) * 3600 + g.get("hm", 0) * 60 + g.get("hs", 0)
            + g.get("m", 0) * 60 + g.get("ms", 0) + g.get("s", 0))


def uniq(tag):
    return "%s-%s/" % (tag, os.urandom(4).hex())


class Http(NodeTestCase):
    node_tag = "http"

    # -- authentication (§3.1, §3.2) ----------------------------------

    def test_missing_credential(self):
        for method, route, query in (("GET", "ping", None), ("GET", "get", {"key": "k"}),
                                     ("POST", "set", None),
                                     ("GET", "iterate/prefix", None)):
            body = {"key": "k", "value": "v"} if method == "POST" else None
            r = self.req(method, route, body, query, auth=False)
            self.expect(r, 401, "AUTHENTICATION_FAILED", msg="%s %s: " % (method, route))
            self.assertTrue((r.header("WWW-Authenticate") or "").startswith("Bearer"),
                            "no WWW-Authenticate: Bearer" + r.describe())
        r = self.req("HEAD", "ping", auth=False)
        self.expect(r, 401)
        self.assertTrue((r.header("WWW-Authenticate") or "").startswith("Bearer"),
                        r.describe())

    def test_bad_credentials(self):
        key = self.node.root_key
        flipped = key[:10] + ("A" if key[10] != "A" else "B") + key[11:]
        for value in ("", "Bearer", "Bearer ", "Bearer    ", "Basic " + key, "Bearer x",
                      "Bearer " + key + "x", "Bearer " + key[:-2], "Bearer " + flipped,
                      "Bearer " + key.lower(), "Bearer " + FOREIGN_TOKEN,
                      "Bearer insi_", "Bearer insi_AAAA", "Bearer " + key + " " + key,
                      "Bearer" + key):
            r = self.req("GET", "ping", auth=value)
            self.expect(r, 401, "AUTHENTICATION_FAILED", msg="Authorization %r: " % value)
            self.assertTrue((r.header("WWW-Authenticate") or "").startswith("Bearer"),
                            r.describe())

    def test_credential_forms(self):
        key = self.node.root_key
        for value in ("Bearer " + key, "bearer " + key, "BEARER " + key,
                      "Bearer    " + key, "Bearer " + key + "   ", key, "  " + key + " "):
            r = self.req("GET", "ping", auth=value)
            self.expect(r, 200, msg="Authorization %r: " % value)
            self.assertEqual(r.json().get("entity"), "root", r.describe())
        # the token parameter is for events/subscribe only
        r = self.req("GET", "ping", query={"token": key}, auth=False)
        self.expect(r, 401, "AUTHENTICATION_FAILED")

    # -- processing order (§2.2) --------------------------------------

    def test_order_route_before_auth(self):
        self.expect(self.req("GET", "nope", auth=False), 404, "NOT_FOUND")
        r = self.req("POST", "get", auth=False)
        self.expect(r, 405, "METHOD_NOT_ALLOWED")
        self.assertEqual(r.header("Allow"), "GET, HEAD", r.describe())
        # authentication before the body is read
        self.expect(self.req("POST", "set", b"{", auth=False), 401, "AUTHENTICATION_FAILED")
        self.expect(self.req("POST", "set", b"{"), 400, "BAD_REQUEST")

    # -- routing and methods (§2.1, §2.3, §21) ------------------------

    def test_unknown_paths(self):
        for path in ("/db/api/v1/nope", "/db/api/v1/get/", "/db/api/v1/GET", "/DB/api/v1/get",
                     "/db/api/v2/get", "/", "/db/api/v1/", "/db/api/v1//get",
                     "/db/api/v1/get%2F", "/db/api/v1/iterate", "/db/api/v1/iterate/prefix/x"):
            self.expect(self.req("GET", path), 404, "NOT_FOUND", msg="path %r: " % path)
        r = self.req("HEAD", "/db/api/v1/nope")
        self.expect(r, 404)
        self.assertEqual(r.body, b"")

    def test_query_not_part_of_path(self):
        self.expect(self.req("GET", "ping", query="a=b&c"), 200)
        self.expect(self.req("GET", "/db/api/v1/ping?"), 200)

    def test_bindings(self):
        for route in ("set", "get", "ping", "iterate/prefix", "bump"):
            for method in ("GET", "POST"):
                r = self.req(method, route, binding="private")
                self.expect(r, 404, "NOT_FOUND", msg="%s %s on private: " % (method, route))
        for path in ("/metrics", "/db/api/v1/admin/api/create", "/db/api/v1/join",
                     "/db/api/v1/admin/cluster", "/db/internal/v1/blob/download"):
            for method in ("GET", "POST"):
                r = self.req(method, path)
                self.expect(r, 404, "NOT_FOUND", msg="%s %s on public: " % (method, path))

    def test_methods_and_allow(self):
        cases = (("set", ("GET", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"), "POST"),
                 ("get", ("POST", "PUT", "DELETE", "OPTIONS"), "GET, HEAD"),
                 ("delete", ("GET", "PUT", "HEAD", "OPTIONS"), "POST, DELETE"),
                 ("iterate/prefix", ("POST", "DELETE"), "GET, HEAD"),
                 ("setnx", ("GET", "DELETE"), "POST"),
                 ("cas", ("GET", "PUT"), "POST"),
                 ("bump", ("GET", "HEAD"), "POST"),
                 ("ping", ("POST", "OPTIONS", "DELETE"), "GET, HEAD"))
        for route, methods, allow in cases:
            for method in methods:
                r = self.req(method, route)
                self.expect(r, 405, "METHOD_NOT_ALLOWED" if method != "HEAD" else None,
                            msg="%s %s: " % (method, route))
                self.assertEqual(r.header("Allow"), allow,
                                 "%s %s: wrong Allow" % (method, route) + r.describe())
                self.assertIsNone(r.header("Access-Control-Allow-Origin"), r.describe())

    # -- common headers -----------------------------------------------

    def test_node_header_everywhere(self):
        p = uniq("hdr")
        big = json.dumps({"key": "k", "value": "v" * (2200 * 1024)})
        responses = [
            self.req("GET", "ping"),
            self.req("HEAD", "ping"),
            self.set(p + "k", "v"),
            self.get(p + "k"),
            self.get(p + "absent"),
            self.req("GET", "ping", auth=False),
            self.req("GET", "nope"),
            self.req("PUT", "set"),
            self.req("POST", "set", b"{"),
            self.req("POST", "set", big),
            self.req("GET", "ping", binding="private"),
            self.req("GET", "/metrics", binding="private"),
            self.req("POST", "setnx", {"key": p + "k", "value": "v"}),
            self.req("POST", "cas", {"key": p + "zz", "old_value": "", "new_value": ""}),
        ]
        with Conn(self.node.public) as c:
            c.send(b"GET /db/api/v1/ping HTTP/1.1\r\nHost: x\r\nX-Pad: "
                   + b"a" * (33 * 1024) + b"\r\n\r\n")
            responses.append(c.read_response())
        for r in responses:
            self.assertEqual(r.header("X-Insidb-Node"), "node0",
                             "X-Insidb-Node missing" + r.describe())

    def test_json_error_shape(self):
        r = self.req("GET", "nope")
        self.expect(r, 404, "NOT_FOUND")
        doc = r.json()
        self.assertEqual(sorted(doc), ["error_type", "message"], r.describe())
        self.assertTrue(r.body.endswith(b"\n"), r.describe())

    # -- HEAD (§2.3) --------------------------------------------------

    def test_head_has_no_body(self):
        p = uniq("head")
        self.expect_json(self.set(p + "k", "value-1"), {})
        auth = self.node.auth_headers(True)
        q = path_for("get", {"key": p + "k"})
        with Conn(self.node.public) as c:
            # HEAD then GET pipelined: a body after HEAD would corrupt the GET
            c.send(build_request("HEAD", q, None, auth))
            c.send(build_request("GET", q, None, auth))
            c.send(build_request("HEAD", path_for("get", {"key": p + "absent"}), None, auth))
            c.send(build_request("HEAD", path_for("ping"), None, auth))
            c.send(build_request("GET", path_for("ping"), None, auth))
            try:
                head = c.read_response(head=True)
                get = c.read_response()
                head404 = c.read_response(head=True)
                headping = c.read_response(head=True)
                ping = c.read_response()
            except ProtocolError as e:
                self.fail("pipelined HEAD/GET out of sync (a HEAD answered with a "
                          "body?): %s" % e)
        self.expect(head, 200)
        self.expect_json(get, {"data": "value-1"})
        self.expect(head404, 404)
        self.expect(headping, 200)
        self.expect(ping, 200)
        self.assertEqual(ping.json()["status"], "ok", ping.describe())
        for name in ("Content-Type", "Cache-Control", "X-Insidb-Consistency"):
            self.assertEqual(head.header(name), get.header(name),
                             "HEAD and GET differ in %s" % name + head.describe()
                             + get.describe())
        if head.header("Content-Length") is not None:
            self.assertEqual(int(head.header("Content-Length")), len(get.body),
                             head.describe())

    # -- connections (§2.1) -------------------------------------------

    def test_keep_alive(self):
        p = uniq("ka")
        auth = self.node.auth_headers(True)
        with Conn(self.node.public) as c:
            for i in range(6):
                r = c.request("POST", path_for("set"),
                              json.dumps({"key": p + str(i), "value": str(i)}), auth)
                self.expect_json(r, {})
                self.assertNotEqual((r.header("Connection") or "").lower(), "close",
                                    r.describe())
                r = c.request("GET", path_for("get", {"key": p + str(i)}), None, auth)
                self.expect_json(r, {"data": str(i)})
            # errors keep the connection too
            r = c.request("GET", path_for("get", {"key": p + "absent"}), None, auth)
            self.expect(r, 404, "KEY_NOT_FOUND")
            r = c.request("GET", path_for("ping"), None, auth)
            self.expect(r, 200)

    def test_pipelining(self):
        p = uniq("pipe")
        for i in range(3):
            self.expect_json(self.set(p + str(i), "value-%d" % i), {})
        auth = self.node.auth_headers(True)
        raw = b"".join(build_request("GET", path_for("get", {"key": p + str(i)}), None, auth)
                       for i in range(3))
        with Conn(self.node.public) as c:
            c.send(raw)
            rs = [c.read_response() for _ in range(3)]
        for i, r in enumerate(rs):
            self.expect_json(r, {"data": "value-%d" % i}, "pipelined response %d: " % i)
        # a body in the middle of a pipeline
        raw = (build_request("GET", path_for("get", {"key": p + "0"}), None, auth)
               + build_request("POST", path_for("set"),
                               json.dumps({"key": p + "new", "value": "n"}).encode(), auth)
               + build_request("GET", path_for("get", {"key": p + "2"}), None, auth)
               + build_request("GET", path_for("nope"), None, auth))
        with Conn(self.node.public) as c:
            c.send(raw)
            rs = [c.read_response() for _ in range(4)]
        self.expect_json(rs[0], {"data": "value-0"})
        self.expect_json(rs[1], {})
        self.expect_json(rs[2], {"data": "value-2"})
        self.expect(rs[3], 404, "NOT_FOUND")
        self.expect_json(self.get(p + "new"), {"data": "n"})

    def test_chunked_body(self):
        p = uniq("chunk")
        auth = self.node.auth_headers(True)
        body = json.dumps({"key": p + "k", "value": "chunked-value-" + "x" * 300}).encode()
        parts = [body[:7], body[7:40], body[40:]]
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(x), x) for x in parts) + b"0\r\n\r\n"
        with Conn(self.node.public) as c:
            r = c.request("POST", path_for("set"), chunked,
                          auth + [("Transfer-Encoding", "chunked")])
            self.expect_json(r, {})
            # the connection is still in sync after the last chunk
            r = c.request("GET", path_for("get", {"key": p + "k"}), None, auth)
            self.expect_json(r, {"data": "chunked-value-" + "x" * 300})
            # uppercase hex sizes, a chunk extension and a trailer
            body2 = json.dumps({"key": p + "k2", "value": "y" * 200}).encode()
            chunked2 = (b"%X;ext=1\r\n%s\r\n0\r\nX-Trailer: t\r\n\r\n" % (len(body2), body2))
            r = c.request("POST", path_for("set"), chunked2,
                          auth + [("Transfer-Encoding", "chunked")])
            self.expect_json(r, {})
            r = c.request("GET", path_for("get", {"key": p + "k2"}), None, auth)
            self.expect_json(r, {"data": "y" * 200})

    def test_expect_continue(self):
        p = uniq("cont")
        auth = self.node.auth_headers(True)
        body = json.dumps({"key": p + "k", "value": "c"}).encode()
        with Conn(self.node.public) as c:
            c.send(build_request("POST", path_for("set"), None,
                                 auth + [("Expect", "100-continue"),
                                         ("Content-Length", str(len(body)))]))
            line = c.rfile.readline()
            self.assertTrue(line.startswith(b"HTTP/1.1 100"), "no 100 Continue: %r" % line)
            while c.rfile.readline() not in (b"\r\n", b""):
                pass
            c.send(body, track=False)
            self.expect_json(c.read_response(), {})
            # no 100 Continue when authentication fails: the error comes first
            c2 = Conn(self.node.public)
            try:
                c2.send(build_request("POST", path_for("set"), None,
                                      [("Expect", "100-continue"),
                                       ("Content-Length", str(len(body)))]))
                r = c2.read_response()
                self.expect(r, 401, "AUTHENTICATION_FAILED")
            finally:
                c2.close()

    def test_head_size_limit(self):
        auth = self.node.auth_headers(True)
        # just under 32 KiB: served
        pad = 32 * 1024 - 600
        with Conn(self.node.public) as c:
            r = c.request("GET", path_for("ping"), None, auth + [("X-Pad", "a" * pad)])
            self.expect(r, 200, msg="a %d-byte header under the 32 KiB head limit: " % pad)
        # one large header
        for hdrs in ([("X-Pad", "a" * (33 * 1024))],
                     [("X-Pad-%d" % i, "b" * 100) for i in range(400)]):
            with Conn(self.node.public) as c:
                c.send(build_request("GET", path_for("ping"), None, auth + hdrs))
                try:
                    r = c.read_response()
                except (ProtocolError, ConnectionResetError) as e:
                    self.fail("no 431 response to a >32 KiB head: %r" % e)
                self.expect(r, 431, "HEADERS_TOO_LARGE")

    def test_bad_request_line(self):
        for raw in (b"GARBAGE\r\n\r\n", b"GET /db/api/v1/ping HTTP/9.9\r\nHost: x\r\n\r\n",
                    b"GET /db/api/v1/ping HTTP/1.1\r\nBad Header Line\r\n\r\n"):
            with Conn(self.node.public) as c:
                c.send(raw)
                try:
                    r = c.read_response()
                except (ProtocolError, ConnectionResetError) as e:
                    self.fail("no response to %r: %r" % (raw, e))
                self.assertIn(r.status, (400, 505), r.describe())

    # -- ping (§15.1) -------------------------------------------------

    def test_ping(self):
        r = self.req("GET", "ping")
        self.expect(r, 200)
        doc = r.json()
        self.assertEqual(sorted(doc), ["entity", "leader", "node-badge-id", "status",
                                       "uptime"], r.describe())
        self.assertEqual(doc["entity"], "root", r.describe())
        self.assertEqual(doc["leader"], "node0", r.describe())
        self.assertEqual(doc["status"], "ok", r.describe())
        self.assertRegex(doc["node-badge-id"], UUID4_RE, r.describe())
        with open(os.path.join(self.node.node_dir, "badge_id")) as f:
            badge = f.read().strip()
        self.assertEqual(doc["node-badge-id"], badge,
                         "node-badge-id differs from <insid_home>/node0/badge_id"
                         + r.describe())
        secs = uptime_seconds(doc["uptime"])
        self.assertIsNotNone(secs, "uptime %r is not <h>h<m>m<s>s" % doc["uptime"])
        elapsed = time.monotonic() - self.node.spawned_at
        self.assertLessEqual(secs, elapsed + 1, "uptime %r larger than the process age %.1fs"
                             % (doc["uptime"], elapsed))
        self.expect_json(r, doc)

    def test_ping_uptime_advances(self):
        first = uptime_seconds(self.req("GET", "ping").json()["uptime"])
        self.assertIsNotNone(first)

        def advanced():
            r = self.req("GET", "ping")
            s = uptime_seconds(r.json()["uptime"])
            self.assertIsNotNone(s, r.describe())
            return s > first
        wait_for(advanced, 5, "ping uptime to advance")

    def test_ping_head(self):
        with Conn(self.node.public) as c:
            r = c.request("HEAD", path_for("ping"), None, self.node.auth_headers(True))
            self.expect(r, 200)
            self.assertEqual(r.body, b"")
            # the connection is in sync: no body followed the HEAD answer
            r = c.request("GET", path_for("ping"), None, self.node.auth_headers(True))
            self.expect(r, 200)

    def test_listener_log_lines(self):
        n = self.node

        def logged():
            text = n.log_text()
            return all(re.search(pat, text) for pat in (
                r"public http://127\.0\.0\.1:%d\b" % n.public,
                r"private http://127\.0\.0\.1:%d\b" % n.private,
                r"raft \S*127\.0\.0\.1:%d\b" % n.raft))
        try:
            wait_for(logged, 5, "the three listener lines on stderr")
        except AssertionError as e:
            self.fail("%s; log:\n%s" % (e, n.log_tail()))
        self.assertNotIn(n.secret, n.log_text(), "the instance secret was logged")
        self.assertNotIn(n.root_key, n.log_text(), "the root key was logged")

    # -- early answers and body draining (§2.1) -----------------------

    def test_early_answer_small_body_keeps_connection(self):
        body = json.dumps({"key": "k", "value": "v" * (10 * 1024)}).encode()
        auth = self.node.auth_headers(True)
        with Conn(self.node.public) as c:
            # 401 before the body is read: a body under 64 KiB is drained
            r = c.request("POST", path_for("set"), body)
            self.expect(r, 401, "AUTHENTICATION_FAILED")
            self.assertNotEqual((r.header("Connection") or "").lower(), "close",
                                r.describe())
            # and the connection is still in sync
            r = c.request("GET", path_for("ping"), None, auth)
            self.expect(r, 200)
            # 405 with a body, then again a normal request
            r = c.request("PUT", path_for("set"), body, auth)
            self.expect(r, 405, "METHOD_NOT_ALLOWED")
            r = c.request("GET", path_for("ping"), None, auth)
            self.expect(r, 200)

    def test_early_answer_large_body_closes(self):
        body = b"x" * (256 * 1024)
        with Conn(self.node.public) as c:
            r = c.request("POST", path_for("set"), body)
            self.expect(r, 401, "AUTHENTICATION_FAILED")
            self.assertEqual((r.header("Connection") or "").lower(), "close",
                             "more than 64 KiB of body left: Connection: close"
                             + r.describe())

            def closed():
                try:
                    return c.sock.recv(65536) == b""
                except ConnectionResetError:
                    return True
            self.assertTrue(wait_for(closed, 10, "the server to close the connection"))

    def test_bad_content_length(self):
        auth = self.node.auth_headers(True)
        for cl in ("abc", "-1", "1 2", "0x10", "99999999999999999999999"):
            with Conn(self.node.public) as c:
                c.send(b"POST /db/api/v1/set HTTP/1.1\r\nHost: x\r\nAuthorization: "
                       + auth[0][1].encode() + b"\r\nContent-Length: "
                       + cl.encode() + b"\r\n\r\n{}")
                try:
                    r = c.read_response()
                except (ProtocolError, ConnectionResetError) as e:
                    self.fail("no response for Content-Length %r: %r" % (cl, e))
                self.assertIn(r.status, (400, 413), "Content-Length %r" % cl + r.describe())

    def test_unknown_parameters_ignored(self):
        r = self.req("GET", "ping", query={"consistency": "bogus", "x": "y"})
        self.expect(r, 200, msg="ping takes no consistency parameter: ")

    def test_slow_head_closed_after_10s(self):
        with Conn(self.node.public, timeout=30) as c:
            t0 = time.monotonic()
            c.send(b"GET /db/api/v1/ping HTTP/1.1\r\nHost: x\r\n", track=False)

            def closed():
                try:
                    return c.sock.recv(65536) == b""
                except ConnectionResetError:
                    return True
            # recv blocks until data or EOF; the socket timeout bounds it
            while not closed():
                if time.monotonic() - t0 > scaled(20):
                    self.fail("connection with an unfinished head still open after 20 s")
            elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 9.0, "closed after %.1f s, before 10 s" % elapsed)
        self.assertLessEqual(elapsed, scaled(15), "closed after %.1f s" % elapsed)
