"""GET /metrics (API.md §19.2): Prometheus text 0.0.4 on the private
binding, IP filter only; request counters and histograms by class, raft
gauges, ops rates."""

import re
import time

import harness
from harness import Cluster, NodeTestCase, wait_for

CTYPE = "text/plain; version=0.0.4; charset=utf-8"
BOUNDS = ["0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
          "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"'
SAMPLE = re.compile(r"^(%s)(?:\{(%s(?:,%s)*)\})? (\S+)$" % (NAME, LABEL, LABEL))


def parse(text, ctx=""):
    """{(name, ((label, value), ...)): float} and {name: type}; strict"""
    samples, types, helps = {}, {}, set()
    assert text.endswith("\n"), "no final line feed" + ctx
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            helps.add(line.split(" ")[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram"), line + ctx
            assert name not in types, "TYPE twice: " + line + ctx
            types[name] = kind
            continue
        m = SAMPLE.match(line)
        assert m, "bad sample line %r%s" % (line, ctx)
        labels = tuple(re.findall(LABEL, m.group(2) or ""))
        key = (m.group(1), labels)
        assert key not in samples, "sample twice: " + line + ctx
        samples[key] = float(m.group(m.lastindex))
    assert set(types) == helps, "HELP and TYPE differ" + ctx
    for name, _ in samples:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or types.get(base) == "histogram", \
            "sample %s without TYPE%s" % (name, ctx)
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))),
                       samples.get((name, tuple(labels.items()))))


class _Scrape:
    def scrape(self, node, **kw):
        r = node.request("GET", "/metrics", binding="private", auth=False, **kw)
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("Content-Type"), CTYPE, r.describe())
        return parse(r.body.decode("utf-8"), r.describe()[:3000])


class MetricsSingleNode(_Scrape, NodeTestCase):
    node_tag = "metrics"

    def test_binding_methods_and_head(self):
        self.expect(self.req("GET", "/metrics", auth=False), 404, "NOT_FOUND")
        r = self.req("POST", "/metrics", binding="private", auth=False)
        self.expect(r, 405, "METHOD_NOT_ALLOWED")
        self.assertEqual(r.header("Allow"), "GET, HEAD", r.describe())
        # a token is neither needed nor checked
        self.scrape(self.node, headers=[("Authorization", "Bearer nonsense")])
        with self.node.conn("private") as c:
            r = c.request("HEAD", "/metrics")
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual(r.header("Content-Type"), CTYPE, r.describe())
            self.assertGreater(int(r.header("Content-Length")), 1000, r.describe())
            # nothing follows the head: the next answer parses
            self.assertEqual(c.request("GET", "/db/api/v1/nope").status, 404)

    def test_request_counters_and_histograms(self):
        before, types = self.scrape(self.node)
        self.assertEqual(types.get("insidb_http_requests_total"), "counter")
        self.assertEqual(types.get("insidb_http_request_duration_seconds"), "histogram")
        for i in range(3):
            self.expect(self.set("m/%d" % i, "v"), 200)
        self.expect(self.get("m/absent"), 404, "KEY_NOT_FOUND")
        self.expect(self.req("POST", "get"), 405, "METHOD_NOT_ALLOWED")
        self.expect(self.req("GET", "ping"), 200)
        self.expect(self.req("GET", "admin/cluster", binding="private"), 200)
        self.expect(self.req("GET", "admin/cluster", binding="private", auth=False),
                    401, "AUTHENTICATION_FAILED")
        # no route, no class: not counted
        self.expect(self.req("GET", "nope"), 404, "NOT_FOUND")
        after, _ = self.scrape(self.node)

        def delta(cls, code):
            k = "insidb_http_requests_total"
            return (value(after, k, **{"class": cls, "code": str(code)}) or 0) - \
                (value(before, k, **{"class": cls, "code": str(code)}) or 0)
        self.assertEqual(delta("values", 200), 3)
        self.assertEqual(delta("values", 404), 1)
        self.assertEqual(delta("values", 405), 1)
        self.assertEqual(delta("system", 200), 1)
        self.assertEqual(delta("admin", 200), 1)
        self.assertEqual(delta("admin", 401), 1)
        # the first scrape is counted once it was answered
        self.assertEqual(delta("metrics", 200), 1)
        for name, labels in after:
            if name == "insidb_http_requests_total":
                self.assertIn(dict(labels)["class"], (
                    "values", "cache", "blobs", "events", "subscribe", "system",
                    "admin", "internal", "metrics"), labels)
        # histograms: the §19.2 buckets, cumulative, +Inf = count = requests
        h = "insidb_http_request_duration_seconds"
        for cls in ("values", "system", "admin", "metrics"):
            counts = [value(after, h + "_bucket", **{"class": cls, "le": le}) for le in BOUNDS]
            self.assertNotIn(None, counts, "missing bucket of %s" % cls)
            self.assertEqual(counts, sorted(counts), "not cumulative: %s %r" % (cls, counts))
            total = sum(v for (n, lb), v in after.items()
                        if n == "insidb_http_requests_total" and dict(lb)["class"] == cls)
            self.assertEqual(counts[-1], value(after, h + "_count", **{"class": cls}))
            self.assertEqual(counts[-1], total, cls)
            self.assertGreater(value(after, h + "_sum", **{"class": cls}), 0, cls)
        vals = [value(after, h + "_bucket", **{"class": "values", "le": le}) -
                value(before, h + "_bucket", **{"class": "values", "le": le}) for le in BOUNDS]
        # five values requests, none slower than 10 s
        self.assertEqual(vals[-1], 5)
        self.assertEqual(vals[-2], 5)

    def test_raft_gauges(self):
        s, types = self.scrape(self.node)
        for name in ("insidb_raft_term", "insidb_raft_commit_index",
                     "insidb_raft_applied_index", "insidb_raft_is_leader"):
            self.assertEqual(types.get(name), "gauge", name)
        self.assertEqual(types.get("insidb_raft_leader_changes_total"), "counter")
        self.assertEqual(value(s, "insidb_raft_is_leader"), 1)
        self.assertGreaterEqual(value(s, "insidb_raft_term"), 1)
        self.assertGreaterEqual(value(s, "insidb_raft_leader_changes_total"), 1)
        applied = value(s, "insidb_raft_applied_index")
        self.expect(self.set("raft/gauge", "v"), 200)
        s2, _ = self.scrape(self.node)
        self.assertGreater(value(s2, "insidb_raft_applied_index"), applied)
        self.assertGreaterEqual(value(s2, "insidb_raft_commit_index"),
                                value(s2, "insidb_raft_applied_index"))
        self.assertEqual(value(s2, "insidb_raft_term"), value(s, "insidb_raft_term"))
        # one node: no peers
        self.assertFalse([k for k in s2 if k[0].startswith("insidb_raft_peer_")])
        # the log writer's synced writes: a histogram with the write above
        f = "insidb_raft_fsync_duration_seconds"
        self.assertEqual(types.get(f), "histogram")
        counts = [value(s2, f + "_bucket", le=le) for le in BOUNDS]
        self.assertNotIn(None, counts)
        self.assertEqual(counts, sorted(counts), counts)
        self.assertEqual(counts[-1], value(s2, f + "_count"))
        self.assertGreater(value(s2, f + "_count"), value(s, f + "_count"))
        self.assertGreater(value(s2, f + "_sum"), 0)

    def test_admin_metrics_ops(self):
        """§16.7 and §19.1: ops rates of the receiving node, root only"""
        ops = ("op_vs", "op_cache", "op_events", "op_subscribers", "op_blobs",
               "op_system")
        self.expect(self.req("GET", "admin/metrics/ops"), 404, "NOT_FOUND")
        r = self.req("POST", "admin/metrics/ops", binding="private")
        self.expect(r, 405, "METHOD_NOT_ALLOWED")
        self.assertEqual(r.header("Allow"), "GET, HEAD", r.describe())
        r = self.req("POST", "admin/api/create", {"key_name": "ops"}, binding="private")
        self.assertEqual(r.status, 200, r.describe())
        tok = r.json()["key"]
        for auth in (False, "Bearer " + tok):
            r = self.req("GET", "admin/metrics/ops", binding="private", auth=auth)
            self.expect(r, 401, "AUTHENTICATION_FAILED")
            self.assertEqual(r.header("WWW-Authenticate"), "Bearer", r.describe())
        for i in range(20):
            self.get("opsr/%d" % i)
        def rates():
            r = self.req("GET", "admin/metrics/ops", binding="private")
            self.assertEqual(r.status, 200, r.describe())
            doc = r.json()
            self.assertEqual(sorted(doc), sorted(ops), r.describe())
            for k in ops:
                self.assertIsInstance(doc[k], (int, float), r.describe())
                self.assertGreaterEqual(doc[k], 0, r.describe())
            return doc if doc["op_vs"] > 0 else None
        doc = wait_for(rates, harness.scaled(5), "a values rate above zero")
        self.assertEqual(doc["op_events"], 0, doc)
        self.assertEqual(doc["op_blobs"], 0, doc)
        with self.node.conn("private") as c:
            r = c.request("HEAD", "/db/api/v1/admin/metrics/ops",
                          headers=[("Authorization", "Bearer " + self.node.root_key)])
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual(r.body, b"", r.describe())
            self.assertEqual(c.request("GET", "/db/api/v1/nope").status, 404)

    def test_ops_per_second(self):
        for i in range(20):
            self.get("ops/%d" % i)
        # the sampler runs every second
        def rate():
            s, _ = self.scrape(self.node)
            v = value(s, "insidb_ops_per_second", op="vs")
            return s if v and v > 0 else None
        s = wait_for(rate, harness.scaled(5), "a values rate above zero")
        for op in ("vs", "cache", "events", "subscribers", "blobs", "system"):
            self.assertIsNotNone(value(s, "insidb_ops_per_second", op=op), op)
        self.assertEqual(value(s, "insidb_ops_per_second", op="events"), 0)


class MetricsCluster(_Scrape, NodeTestCase):
    """three nodes: the leader reports its peers, followers do not"""
    start_node = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster = Cluster("metrics3", 3)
        try:
            cls.cluster.start()
        except BaseException:
            cls.cluster.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        left = cls.cluster.cleanup()
        cls.node.cleanup()
        if left:
            raise AssertionError("processes left running: %s" % left)

    def test_peers_on_leader_only(self):
        lead = self.cluster.wait_leader()
        r = lead.request("POST", "set", {"key": "c", "value": "v"})
        self.assertEqual(r.status, 200, r.describe())
        peers = sorted(m.name for m in self.cluster.nodes if m is not lead)

        def caught_up():
            s, _ = self.scrape(lead)
            lags = [value(s, "insidb_raft_peer_replication_lag_entries", peer=p)
                    for p in peers]
            return s if lags == [0, 0] else None
        s = wait_for(caught_up, harness.scaled(10), "both peers to catch up")
        self.assertEqual(value(s, "insidb_raft_is_leader"), 1)
        for p in peers:
            self.assertGreaterEqual(value(s, "insidb_raft_peer_match_index", peer=p),
                                    value(s, "insidb_raft_commit_index"), p)
        self.assertIsNone(value(s, "insidb_raft_peer_match_index", peer=lead.name))
        for m in self.cluster.nodes:
            if m is lead:
                continue
            f, _ = self.scrape(m)
            self.assertEqual(value(f, "insidb_raft_is_leader"), 0, m.name)
            self.assertEqual(value(f, "insidb_raft_term"), value(s, "insidb_raft_term"))
            self.assertFalse([k for k in f if k[0].startswith("insidb_raft_peer_")], m.name)
            self.assertGreaterEqual(value(f, "insidb_raft_leader_changes_total"), 1)
