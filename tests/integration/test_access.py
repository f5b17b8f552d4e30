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
