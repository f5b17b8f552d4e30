"""API.md §8 per-IP rate limiting and §9 client IP and IP filtering."""

from harness import NodeTestCase, wait_for


class RateLimitAndStarFilter(NodeTestCase):
    """values: 0.5 requests/s, burst 3; permitted_ips ["*"], no trusted proxy"""
    node_tag = "ratelimit"
    node_options = {"rate": {"values": (0.5, 3)}, "permitted_ips": ["*"]}

    def test_private_needs_explicit_entry(self):
        # "*" is ignored on the private binding; loopback is not listed
        for method, path in (("GET", "/metrics"), ("GET", "/db/api/v1/nope"),
                             ("POST", "/db/api/v1/admin/api/create")):
            r = self.req(method, path, binding="private")
            self.expect(r, 403, "FORBIDDEN", msg="%s %s on private: " % (method, path))
            self.assertEqual(r.header("X-Insidb-Node"), "node0", r.describe())
        self.expect(self.req("GET", "ping"), 200)

    def test_per_ip_bucket(self):
        q = {"key": "absent"}
        # a full bucket of 3; a 404 answer still takes a token
        for i in range(3):
            self.expect(self.req("GET", "get", query=q), 404, "KEY_NOT_FOUND",
                        msg="request %d of the burst: " % (i + 1))
        r = self.req("GET", "get", query=q)
        self.expect(r, 429, "RATE_LIMITED")
        self.assertEqual(r.header("X-RateLimit-Scope"), "ip", r.describe())
        self.assertEqual(r.header("X-RateLimit-Limit"), "0.5", r.describe())
        self.assertEqual(r.header("X-RateLimit-Burst"), "3", r.describe())
        retry = r.header("Retry-After")
        self.assertRegex(retry or "", r"^[0-9]+$", r.describe())
        self.assertIn(int(retry), (1, 2), "Retry-After for 1 token at 0.5/s" + r.describe())
        # the limit applies before authentication, and to writes of the category
        self.expect(self.req("GET", "get", query=q, auth=False), 429, "RATE_LIMITED")
        self.expect(self.req("POST", "set", {"key": "k", "value": "v"}), 429, "RATE_LIMITED")
        # routing and method checks come first and take nothing
        self.expect(self.req("GET", "nope"), 404, "NOT_FOUND")
        self.expect(self.req("POST", "get"), 405, "METHOD_NOT_ALLOWED")
        # other categories have their own buckets
        self.expect(self.req("GET", "ping"), 200)
        # X-Forwarded-For from an untrusted peer is ignored
        r = self.req("GET", "get", query=q, headers=[("X-Forwarded-For", "10.1.2.3")])
        self.expect(r, 429, "RATE_LIMITED")
        # refill: a token comes back after about 2 s
        wait_for(lambda: self.req("GET", "get", query=q).status == 404, 6,
                 "the bucket to refill")


class ClientIpFilter(NodeTestCase):
    """permitted 127.0.0.1 and 10.0.0.0/24; trusted proxies 127.0.0.1 and
    192.168.0.0/16, so loopback requests choose their client IP by header"""
    node_tag = "clientip"
    node_options = {"permitted_ips": ["127.0.0.1", "10.0.0.0/24"],
                    "trusted_proxies": ["127.0.0.1", "192.168.0.0/16"]}

    def check(self, headers, status, binding="public", path="ping"):
        r = self.req("GET", path, headers=headers, binding=binding)
        if status == 403:
            self.expect(r, 403, "FORBIDDEN", msg="headers %r: " % (headers,))
        else:
            self.expect(r, status, msg="headers %r: " % (headers,))
        return r

    def test_forwarded_for(self):
        xff = lambda v: [("X-Forwarded-For", v)]  # noqa: E731
        self.check([], 200)
        self.check(xff("10.0.0.9"), 200)
        self.check(xff("10.0.1.1"), 403)
        # the filter runs before routing
        self.check(xff("10.0.1.1"), 403, path="/db/api/v1/nope")
        self.check(xff("10.0.1.1"), 403, path="/db/api/v1/set")
        # walked from the right, skipping trusted proxies
        self.check(xff("10.0.1.1, 10.0.0.9"), 200)
        self.check(xff("10.0.0.9, 10.0.1.1"), 403)
        self.check(xff("10.0.1.1, 192.168.1.1"), 403)
        self.check(xff("10.0.0.9,192.168.7.7, 127.0.0.1"), 200)
        # all trusted: the left-most
        self.check(xff("192.168.1.1, 127.0.0.1"), 403)
        self.check(xff("127.0.0.1, 192.168.1.1"), 200)
        # an invalid entry examined: the header is ignored, the peer counts
        self.check(xff("bogus"), 200)
        self.check(xff("10.0.1.1, bogus"), 200)
        # several headers are joined in order
        self.check([("X-Forwarded-For", "10.0.0.9"), ("X-Forwarded-For", "10.0.1.1")], 403)
        self.check([("X-Forwarded-For", "10.0.1.1"), ("X-Forwarded-For", "10.0.0.9")], 200)
        # X-Real-IP is ignored
        self.check([("X-Real-IP", "10.0.1.1")], 200)

    def test_private_binding(self):
        # loopback is listed, so the private binding serves it
        r = self.req("GET", "/db/api/v1/nope", binding="private")
        self.expect(r, 404, "NOT_FOUND")
        r = self.req("GET", "/db/api/v1/nope", binding="private",
                     headers=[("X-Forwarded-For", "10.0.1.1")])
        self.expect(r, 403, "FORBIDDEN")


# --- clients on other loopback addresses (127.0.0.0/8 is local on Linux) ---

import socket  # noqa: E402

from harness import Conn, path_for, scaled  # noqa: E402


class SourceConn(Conn):
    """a connection from a chosen local address"""

    def __init__(self, port, source, timeout=15):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=scaled(timeout),
                                             source_address=(source, 0))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb")
        self.sent = []


class _FromAddress(NodeTestCase):
    def req_from(self, source, method, route, query=None, binding="public",
                 headers=(), auth=True, body=None):
        hdrs = self.node.auth_headers(auth) + list(headers)
        with SourceConn(self.node.port_of(binding), source) as c:
            return c.request(method, path_for(route, query), body, hdrs)


class FilterBySourceAddress(_FromAddress):
    """permitted 127.0.0.1 only, no trusted proxy: 127.0.0.2 is outside"""
    node_tag = "srcfilter"
    node_options = {"permitted_ips": ["127.0.0.1"]}

    def test_outside_client_refused_everywhere(self):
        for method, route, binding in (
                ("GET", "ping", "public"), ("GET", "get", "public"),
                ("POST", "set", "public"), ("GET", "/db/api/v1/nope", "public"),
                ("GET", "/metrics", "private"), ("GET", "admin/cluster", "private"),
                ("POST", "admin/api/create", "private"), ("GET", "/nope", "private")):
            r = self.req_from("127.0.0.2", method, route, binding=binding,
                              query={"key": "k"} if route == "get" else None,
                              body={"key": "k", "value": "v"} if route == "set" else None)
            self.expect(r, 403, "FORBIDDEN", msg="%s %s on %s from 127.0.0.2: "
                        % (method, route, binding))
        # the permitted address is served on both bindings
        self.expect(self.req_from("127.0.0.1", "GET", "ping"), 200)
        self.expect(self.req_from("127.0.0.1", "GET", "admin/cluster", binding="private"), 200)

    def test_forwarded_for_from_untrusted_peer_ignored(self):
        # 127.0.0.2 is no trusted proxy: naming a permitted client does not help
        r = self.req_from("127.0.0.2", "GET", "ping",
                          headers=[("X-Forwarded-For", "127.0.0.1")])
        self.expect(r, 403, "FORBIDDEN")
        # nor does naming a refused client hurt the permitted peer
        r = self.req_from("127.0.0.1", "GET", "ping",
                          headers=[("X-Forwarded-For", "127.0.0.2")])
        self.expect(r, 200)


class StarOpensPublicOnly(_FromAddress):
    """permitted "*" and 127.0.0.1: any client on public, only 127.0.0.1 on
    private"""
    node_tag = "srcstar"
    node_options = {"permitted_ips": ["*", "127.0.0.1"]}

    def test_star(self):
        self.expect(self.req_from("127.0.0.2", "GET", "ping"), 200)
        self.expect(self.req_from("127.0.0.3", "GET", "get", query={"key": "absent"}),
                    404, "KEY_NOT_FOUND")
        for route in ("/metrics", "admin/cluster", "/db/api/v1/nope"):
            self.expect(self.req_from("127.0.0.2", "GET", route, binding="private"),
                        403, "FORBIDDEN", msg=route + " from 127.0.0.2: ")
        self.expect(self.req_from("127.0.0.1", "GET", "/metrics", binding="private",
                                  auth=False), 200)


class TrustedProxyOnly(_FromAddress):
    """127.0.0.2 is a trusted proxy; permitted 127.0.0.1 and 10.0.0.0/24"""
    node_tag = "srcproxy"
    node_options = {"permitted_ips": ["127.0.0.1", "10.0.0.0/24"],
                    "trusted_proxies": ["127.0.0.2"]}

    def test_forwarded_for_only_from_trusted(self):
        xff = lambda v: [("X-Forwarded-For", v)]  # noqa: E731
        # through the proxy: the header decides
        self.expect(self.req_from("127.0.0.2", "GET", "ping", headers=xff("10.0.0.7")), 200)
        self.expect(self.req_from("127.0.0.2", "GET", "ping", headers=xff("10.9.9.9")),
                    403, "FORBIDDEN")
        self.expect(self.req_from("127.0.0.2", "GET", "/metrics", binding="private",
                                  headers=xff("10.0.0.7"), auth=False), 200)
        self.expect(self.req_from("127.0.0.2", "GET", "/metrics", binding="private",
                                  headers=xff("10.9.9.9"), auth=False), 403, "FORBIDDEN")
        # the proxy itself is not permitted
        self.expect(self.req_from("127.0.0.2", "GET", "ping"), 403, "FORBIDDEN")
        # an invalid entry: the header is ignored and the proxy's address counts
        self.expect(self.req_from("127.0.0.2", "GET", "ping", headers=xff("nonsense")),
                    403, "FORBIDDEN")
        # 127.0.0.1 is not trusted here: its header is ignored either way
        self.expect(self.req_from("127.0.0.1", "GET", "ping", headers=xff("10.9.9.9")), 200)


class PerCategoryBuckets(_FromAddress):
    """values burst 2, system burst 3, default burst 2, cache burst 1, each
    at 0.01/s; both loopback clients permitted"""
    node_tag = "srcbuckets"
    node_options = {"rate": {"values": (0.01, 2), "system": (0.01, 3),
                             "default": (0.01, 2), "cache": (0.01, 1)},
                    "permitted_ips": ["127.0.0.1", "127.0.0.2", "127.0.0.3"]}

    def drain(self, source, route, n, status, **kw):
        for i in range(n):
            self.expect(self.req_from(source, "GET", route, **kw), status,
                        msg="%s request %d from %s: " % (route, i + 1, source))
        r = self.req_from(source, "GET", route, **kw)
        self.expect(r, 429, "RATE_LIMITED", msg="%s from %s after %d: " % (route, source, n))
        self.assertEqual(r.header("X-RateLimit-Scope"), "ip", r.describe())
        return r

    def test_categories_and_addresses_independent(self):
        q = {"key": "absent"}
        r = self.drain("127.0.0.2", "get", 2, 404, query=q)
        self.assertEqual(r.header("X-RateLimit-Burst"), "2", r.describe())
        # one token at 0.01/s: about 100 s away
        self.assertIn(int(r.header("Retry-After") or 0), range(95, 101), r.describe())
        # the system bucket of the same address is untouched, and has its own size
        r = self.drain("127.0.0.2", "ping", 3, 200)
        self.assertEqual(r.header("X-RateLimit-Burst"), "3", r.describe())
        # the cache category has its own bucket, of its own size
        r = self.drain("127.0.0.2", "cache/get", 1, 404, query=q)
        self.assertEqual(r.header("X-RateLimit-Burst"), "1", r.describe())
        self.expect(self.req_from("127.0.0.3", "GET", "cache/get", query=q), 404,
                    "KEY_NOT_FOUND")
        # another address has full buckets of both categories
        self.expect(self.req_from("127.0.0.3", "GET", "get", query=q), 404, "KEY_NOT_FOUND")
        self.expect(self.req_from("127.0.0.3", "GET", "ping"), 200)
        # /metrics is the default category, per IP, no token needed
        r = self.drain("127.0.0.2", "/metrics", 2, 200, binding="private", auth=False)
        self.assertEqual(r.header("X-RateLimit-Burst"), "2", r.describe())
        self.expect(self.req_from("127.0.0.3", "GET", "/metrics", binding="private",
                                  auth=False), 200)
        # an empty values bucket does not affect writes from elsewhere
        self.expect(self.req_from("127.0.0.3", "POST", "set",
                                  body={"key": "k", "value": "v"}), 200)
        self.expect(self.req_from("127.0.0.2", "POST", "set",
                                  body={"key": "k", "value": "v"}), 429, "RATE_LIMITED")
