"""API.md §12 cache routes: every route and error row, ttl and expiry
(reads hide an expired entry at once, the leader's sweep releases its
bytes), bytes_in_memory accounting and its limit (§7.1-7.2), isolation
from the values namespace, entries kept across a restart, and expiry seen
on every node of a three-node cluster.  The single node runs with
limits.max_value_size 1KiB."""

import os
import time

from harness import ClusterTestCase, NodeTestCase, scaled, wait_for

MAX_VALUE = 1024
TTL_MAX = 31536000
# the sweep runs every 10 s; an expired entry's bytes go within two passes
SWEEP_WAIT = 25


def uniq(tag):
    return "%s-%s/" % (tag, os.urandom(4).hex())


def bearer(tok):
    return "Bearer " + tok


class _CacheMixin:
    def cset(self, key, value, ttl=None, route="cache/set", node=None, **kw):
        body = {"key": key, "value": value}
        if ttl is not None:
            body["ttl"] = ttl
        return (node or self.node).request("POST", route, body, **kw)

    def cget(self, key, node=None, query=None, **kw):
        q = {"key": key}
        q.update(query or {})
        return (node or self.node).request("GET", "cache/get", query=q, **kw)

    def citer(self, query, node=None, **kw):
        return (node or self.node).request("GET", "cache/iterate/prefix",
                                           query=query, **kw)

    def mem_usage(self, node=None, **kw):
        r = (node or self.node).request("GET", "limits", **kw)
        self.assertEqual(r.status, 200, r.describe())
        return r.json()["usage"]

    def create_key(self, name="cache-tenant", node=None):
        r = (node or self.node).request("POST", "admin/api/create",
                                        {"key_name": name}, binding="private")
        self.assertEqual(r.status, 200, r.describe())
        return r.json()["key"]


class Cache(_CacheMixin, NodeTestCase):
    node_tag = "cache"
    max_value_size = "1KiB"

    # -- set / get ------------------------------------------------------

    def test_set_get_head(self):
        p = uniq("sg")
        r = self.cset(p + "k", "v1")
        self.assertEqual(r.body, b"{}\n", r.describe())
        self.expect_json(r, {})
        r = self.cget(p + "k")
        self.expect_json(r, {"data": "v1"})
        # default on the leader: linearizable once leadership is confirmed
        self.assertIn(r.header("X-Insidb-Consistency"), ("local", "linearizable"),
                      r.describe())
        r = self.cget(p + "k", query={"consistency": "linearizable"})
        self.expect_json(r, {"data": "v1"})
        self.assertEqual(r.header("X-Insidb-Consistency"), "linearizable",
                         r.describe())
        self.expect_json(self.cget(p + "k", query={"consistency": "default"}),
                         {"data": "v1"})
        self.expect(self.cget(p + "k", query={"consistency": "strong"}), 400,
                    "BAD_REQUEST", names="consistency")
        r = self.req("HEAD", "cache/get", query={"key": p + "k"})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.body, b"", r.describe())
        r = self.req("HEAD", "cache/get", query={"key": p + "absent"})
        self.expect(r, 404)
        # replace, empty value, any text
        self.expect_json(self.cset(p + "k", "v2"), {})
        self.expect_json(self.cget(p + "k"), {"data": "v2"})
        self.expect_json(self.cset(p + "e", ""), {})
        self.expect_json(self.cget(p + "e"), {"data": ""})
        k, v = p + "ünï €:/ 😀", "a\u0000b \"q\" \\"
        self.expect_json(self.cset(k, v), {})
        self.expect_json(self.cget(k), {"data": v})

    def test_set_body_errors(self):
        p = uniq("se")
        for route in ("cache/set", "cache/setnx"):
            self.expect(self.req("POST", route, {"value": "v"}), 400,
                        "BAD_REQUEST", names="key", msg=route)
            self.expect(self.req("POST", route, {"key": p + "k"}), 400,
                        "BAD_REQUEST", names="value", msg=route)
            self.expect(self.req("POST", route, {"key": 5, "value": "v"}), 400,
                        "BAD_REQUEST", names="key", msg=route)
            self.expect(self.req("POST", route, {"key": p + "k", "value": 5}), 400,
                        "BAD_REQUEST", names="value", msg=route)
            self.expect(self.cset("", "v", route=route), 400, "BAD_REQUEST",
                        names="key", msg=route)
            self.expect(self.cset(p + "a\u0000b", "v", route=route), 400,
                        "BAD_REQUEST", names="key", msg=route)
            self.expect(self.cset("k" * 4097, "v", route=route), 413,
                        "PAYLOAD_TOO_LARGE", names="key", msg=route)
            self.expect(self.cset(p + "k", "v" * (MAX_VALUE + 1), route=route),
                        413, "PAYLOAD_TOO_LARGE", names="value", msg=route)
            self.expect(self.req("POST", route, b""), 400, "BAD_REQUEST", msg=route)
            self.expect(self.req("POST", route, b"[1]"), 400, "BAD_REQUEST",
                        msg=route)
        self.expect(self.req("GET", "cache/set"), 405, "METHOD_NOT_ALLOWED")
        # nothing was stored by the refusals
        self.expect(self.cget(p + "k"), 404, "KEY_NOT_FOUND")
        # the largest key and value are accepted
        k = p + "x" * (4096 - len(p))
        self.expect_json(self.cset(k, "v" * MAX_VALUE), {})
        self.expect_json(self.cget(k), {"data": "v" * MAX_VALUE})

    def test_ttl_validation(self):
        p = uniq("ttl")
        for bad in (0, -1, TTL_MAX + 1, "60", 1.5, 1e3, True, [], {}):
            for route in ("cache/set", "cache/setnx"):
                self.expect(self.cset(p + "k", "v", ttl=bad, route=route), 400,
                            "BAD_REQUEST", names="ttl",
                            msg="ttl %r on %s: " % (bad, route))
        self.expect(self.cget(p + "k"), 404, "KEY_NOT_FOUND")
        self.expect_json(self.cset(p + "max", "v", ttl=TTL_MAX), {})
        self.expect_json(self.cset(p + "min", "v", ttl=1), {})
        # null is the default ttl (60 m): alive well after a second
        self.expect_json(self.req("POST", "cache/set",
                                  {"key": p + "null", "value": "v", "ttl": None}), {})
        self.expect_json(self.cset(p + "dflt", "v"), {})
        time.sleep(1.2)
        self.expect_json(self.cget(p + "null"), {"data": "v"})
        self.expect_json(self.cget(p + "dflt"), {"data": "v"})
        self.expect_json(self.cget(p + "max"), {"data": "v"})
        self.expect(self.cget(p + "min"), 404, "KEY_NOT_FOUND")

    def test_get_errors(self):
        p = uniq("ge")
        self.expect(self.cget(p + "absent"), 404, "KEY_NOT_FOUND")
        self.expect(self.req("GET", "cache/get"), 400, "BAD_REQUEST", names="key")
        self.expect(self.req("GET", "cache/get", query="key="), 400, "BAD_REQUEST",
                    names="key")
        self.expect(self.req("GET", "cache/get", query="key=a%00b"), 400,
                    "BAD_REQUEST", names="key")
        self.expect(self.cget("k" * 4097), 413, "PAYLOAD_TOO_LARGE", names="key")
        self.expect(self.req("POST", "cache/get", {"key": "x"}), 405,
                    "METHOD_NOT_ALLOWED")

    # -- delete ---------------------------------------------------------

    def test_delete(self):
        p = uniq("del")
        self.expect_json(self.cset(p + "a", "1"), {})
        self.expect_json(self.req("POST", "cache/delete", {"key": p + "a"}), {})
        self.expect(self.cget(p + "a"), 404, "KEY_NOT_FOUND")
        # absent: 200 as well
        self.expect_json(self.req("POST", "cache/delete", {"key": p + "a"}), {})
        # DELETE with the key in the query
        self.expect_json(self.cset(p + "b c", "2"), {})
        self.expect_json(self.req("DELETE", "cache/delete", query={"key": p + "b c"}),
                         {})
        self.expect(self.cget(p + "b c"), 404, "KEY_NOT_FOUND")
        # DELETE with a body uses the body
        self.expect_json(self.cset(p + "d", "3"), {})
        self.expect_json(self.req("DELETE", "cache/delete", {"key": p + "d"}), {})
        self.expect(self.cget(p + "d"), 404, "KEY_NOT_FOUND")
        self.expect(self.req("DELETE", "cache/delete"), 400, "BAD_REQUEST",
                    names="key")
        self.expect(self.req("POST", "cache/delete", {}), 400, "BAD_REQUEST",
                    names="key")
        self.expect(self.req("POST", "cache/delete", {"key": ""}), 400,
                    "BAD_REQUEST", names="key")
        self.expect(self.req("POST", "cache/delete", {"key": "k" * 4097}), 413,
                    "PAYLOAD_TOO_LARGE", names="key")
        self.expect(self.req("GET", "cache/delete"), 405, "METHOD_NOT_ALLOWED")

    # -- setnx / cas ----------------------------------------------------

    def test_setnx(self):
        p = uniq("nx")
        self.expect_json(self.cset(p + "k", "first", route="cache/setnx"), {})
        self.expect(self.cset(p + "k", "second", route="cache/setnx"), 409,
                    "KEY_EXISTS")
        self.expect_json(self.cget(p + "k"), {"data": "first"})
        # an expired entry does not count as existing
        self.expect_json(self.cset(p + "t", "old", ttl=1), {})
        self.expect(self.cset(p + "t", "x", route="cache/setnx"), 409, "KEY_EXISTS")
        time.sleep(1.2)
        self.expect_json(self.cset(p + "t", "new", route="cache/setnx"), {})
        self.expect_json(self.cget(p + "t"), {"data": "new"})

    def test_cas(self):
        p = uniq("cas")

        def cas(key, old, new):
            return self.req("POST", "cache/cas",
                            {"key": key, "old_value": old, "new_value": new})
        self.expect(cas(p + "k", "a", "b"), 412, "PRECONDITION_FAILED")
        self.expect_json(self.cset(p + "k", "a"), {})
        self.expect(cas(p + "k", "A", "b"), 409, "CAS_CONFLICT")
        self.expect(cas(p + "k", "a ", "b"), 409, "CAS_CONFLICT")
        self.expect_json(self.cget(p + "k"), {"data": "a"})
        self.expect_json(cas(p + "k", "a", "b"), {})
        self.expect_json(self.cget(p + "k"), {"data": "b"})
        self.expect(self.req("POST", "cache/cas", {"key": p + "k", "new_value": "c"}),
                    400, "BAD_REQUEST", names="old_value")
        self.expect(self.req("POST", "cache/cas", {"key": p + "k", "old_value": "b"}),
                    400, "BAD_REQUEST", names="new_value")
        self.expect(cas(p + "k", "b", "v" * (MAX_VALUE + 1)), 413,
                    "PAYLOAD_TOO_LARGE", names="new_value")
        self.expect(cas(p + "k", "v" * (MAX_VALUE + 1), "c"), 413,
                    "PAYLOAD_TOO_LARGE", names="old_value")
        self.expect(cas("", "b", "c"), 400, "BAD_REQUEST", names="key")
        # cas keeps the expiry: a cas right before it does not extend it
        self.expect_json(self.cset(p + "t", "1", ttl=2), {})
        self.expect_json(cas(p + "t", "1", "2"), {})
        self.expect_json(self.cget(p + "t"), {"data": "2"})
        time.sleep(2.2)
        self.expect(self.cget(p + "t"), 404, "KEY_NOT_FOUND")
        self.expect(cas(p + "t", "2", "3"), 412, "PRECONDITION_FAILED")

    def test_set_resets_expiry(self):
        p = uniq("rs")
        self.expect_json(self.cset(p + "k", "1", ttl=1), {})
        self.expect_json(self.cset(p + "k", "2", ttl=3), {})
        time.sleep(1.3)
        self.expect_json(self.cget(p + "k"), {"data": "2"})

    # -- iterate --------------------------------------------------------

    def test_iterate(self):
        p = uniq("it")
        keys = [p + "%02d" % i for i in range(12)]
        for k in reversed(keys):
            self.expect_json(self.cset(k, "v"), {})
        r = self.citer({"prefix": p})
        self.expect_json(r, {"data": keys})
        self.assertIn(r.header("X-Insidb-Consistency"), ("local", "linearizable"),
                      r.describe())
        self.expect_json(self.citer({"prefix": p + "*"}), {"data": keys})
        self.expect_json(self.citer({"prefix": p, "offset": 2, "limit": 3}),
                         {"data": keys[2:5]})
        self.expect_json(self.citer({"prefix": p, "offset": 12}), {"data": []})
        self.expect_json(self.citer({"prefix": p + "1"}), {"data": keys[10:]})
        self.expect_json(self.citer({"prefix": p, "limit": 5000}), {"data": keys})
        self.expect_json(self.citer({"prefix": uniq("none")}), {"data": []})
        r = self.citer({"prefix": p, "consistency": "linearizable"})
        self.expect_json(r, {"data": keys})
        self.assertEqual(r.header("X-Insidb-Consistency"), "linearizable")
        r = self.req("HEAD", "cache/iterate/prefix", query={"prefix": p})
        self.assertEqual((r.status, r.body), (200, b""), r.describe())
        for q, name in (({"offset": -1}, "offset"), ({"offset": "x"}, "offset"),
                        ({"limit": 0}, "limit"), ({"limit": -3}, "limit"),
                        ({"limit": "1.5"}, "limit"),
                        ({"consistency": "x"}, "consistency")):
            self.expect(self.citer(dict(q, prefix=p)), 400, "BAD_REQUEST", names=name)
        self.expect(self.citer({"prefix": "p" * 4097}), 413, "PAYLOAD_TOO_LARGE",
                    names="prefix")
        self.expect(self.req("GET", "cache/iterate/prefix", query="prefix=a%00"), 400,
                    "BAD_REQUEST", names="prefix")

    def test_iterate_skips_expired_before_paging(self):
        p = uniq("ix")
        for k in ("a", "c", "e"):
            self.expect_json(self.cset(p + k, "v", ttl=1), {})
        for k in ("b", "d"):
            self.expect_json(self.cset(p + k, "v"), {})
        self.expect_json(self.citer({"prefix": p}),
                         {"data": [p + k for k in "abcde"]})
        time.sleep(1.2)
        self.expect_json(self.citer({"prefix": p}), {"data": [p + "b", p + "d"]})
        self.expect_json(self.citer({"prefix": p, "limit": 1}), {"data": [p + "b"]})
        self.expect_json(self.citer({"prefix": p, "offset": 1, "limit": 1}),
                         {"data": [p + "d"]})
        self.expect_json(self.citer({"prefix": p, "offset": 2}), {"data": []})

    # -- namespaces and accounting --------------------------------------

    def test_isolated_from_values(self):
        p = uniq("iso")
        k = p + "same"
        self.expect_json(self.cset(k, "cache-v"), {})
        self.expect(self.get(k), 404, "KEY_NOT_FOUND")
        self.expect_json(self.set(k, "values-v"), {})
        self.expect_json(self.get(k), {"data": "values-v"})
        self.expect_json(self.cget(k), {"data": "cache-v"})
        self.expect_json(self.req("GET", "iterate/prefix", query={"prefix": p}),
                         {"data": [k]})
        self.expect_json(self.citer({"prefix": p}), {"data": [k]})
        self.expect_json(self.req("POST", "delete", {"key": k}), {})
        self.expect_json(self.cget(k), {"data": "cache-v"})
        self.expect_json(self.set(k, "again"), {})
        self.expect_json(self.req("POST", "cache/delete", {"key": k}), {})
        self.expect_json(self.get(k), {"data": "again"})
        self.expect(self.cget(k), 404, "KEY_NOT_FOUND")
        self.expect(self.req("POST", "cas", {"key": p + "c", "old_value": "x",
                                             "new_value": "y"}),
                    412, "PRECONDITION_FAILED")
        self.expect_json(self.cset(p + "c", "x"), {})
        self.expect(self.req("POST", "cas", {"key": p + "c", "old_value": "x",
                                             "new_value": "y"}),
                    412, "PRECONDITION_FAILED")

    def test_usage_exact(self):
        tok = self.create_key("cache-usage")
        auth = bearer(tok)

        def usage():
            return self.mem_usage(auth=auth)

        def step(resp, mem):
            self.expect_json(resp, {})
            u = usage()
            self.assertEqual(u["bytes_in_memory"], mem, "after %s" % resp.describe())
            self.assertEqual(u["bytes_on_disk"], 0)

        self.assertEqual(usage()["bytes_in_memory"], 0)
        step(self.cset("key", "value", auth=auth), 8)
        step(self.cset("key", "longer-value", auth=auth), 15)
        step(self.cset("key", "", auth=auth), 3)
        step(self.cset("é", "éé", auth=auth), 9)
        step(self.cset("k2", "ab", route="cache/setnx", auth=auth), 13)
        step(self.req("POST", "cache/cas", {"key": "k2", "old_value": "ab",
                                            "new_value": "abcdef"}, auth=auth), 17)
        step(self.req("POST", "cache/delete", {"key": "key"}, auth=auth), 14)
        step(self.req("POST", "cache/delete", {"key": "key"}, auth=auth), 14)
        step(self.req("DELETE", "cache/delete", query={"key": "é"}, auth=auth), 8)
        step(self.req("POST", "cache/delete", {"key": "k2"}, auth=auth), 0)
        # values count on disk only
        self.expect_json(self.set("v", "123", auth=auth), {})
        u = usage()
        self.assertEqual((u["bytes_in_memory"], u["bytes_on_disk"]), (0, 4))
        # the tenant's entries are its own
        self.expect_json(self.cset("mine", "1", auth=auth), {})
        self.expect(self.cget("mine"), 404, "KEY_NOT_FOUND")
        self.expect_json(self.cget("mine", auth=auth), {"data": "1"})

    def test_memory_limit(self):
        tok = self.create_key("cache-limit")
        auth = bearer(tok)
        r = self.node.request("POST", "admin/limits/set", {
            "api_key": tok, "limits": {"bytes_in_memory": 10}}, binding="private")
        self.assertEqual(r.status, 200, r.describe())
        self.expect_json(self.cset("abc", "12345", auth=auth), {})
        for route in ("cache/set", "cache/setnx"):
            r = self.cset("abcd", "x", route=route, auth=auth)
            self.expect(r, 400, "MEMORY_LIMIT_EXCEEDED", msg=route)
            self.assertEqual(r.header("X-Current-Memory-Usage"), "8", r.describe())
            self.assertEqual(r.header("X-Memory-Usage-Limit"), "10", r.describe())
        r = self.req("POST", "cache/cas", {"key": "abc", "old_value": "12345",
                                           "new_value": "1234567890"}, auth=auth)
        self.expect(r, 400, "MEMORY_LIMIT_EXCEEDED")
        self.assertEqual(r.header("X-Current-Memory-Usage"), "8")
        self.assertEqual(r.header("X-Memory-Usage-Limit"), "10")
        # KEY_EXISTS is decided before the quota
        self.expect(self.cset("abc", "1234567890", route="cache/setnx", auth=auth),
                    409, "KEY_EXISTS")
        self.expect_json(self.cget("abc", auth=auth), {"data": "12345"})
        self.expect(self.cget("abcd", auth=auth), 404, "KEY_NOT_FOUND")
        self.assertEqual(self.mem_usage(auth=auth)["bytes_in_memory"], 8)
        # exactly up to the limit, then shrinking
        self.expect_json(self.cset("abc", "1234567", auth=auth), {})
        self.assertEqual(self.mem_usage(auth=auth)["bytes_in_memory"], 10)
        self.expect_json(self.cset("abc", "1", auth=auth), {})
        self.assertEqual(self.mem_usage(auth=auth)["bytes_in_memory"], 4)
        # the disk limit is separate: values still fit
        self.expect_json(self.set("abcd", "x", auth=auth), {})

    def test_expired_bytes_released_by_sweep(self):
        tok = self.create_key("cache-sweep")
        auth = bearer(tok)
        self.expect_json(self.cset("gone", "12345", ttl=1, auth=auth), {})
        self.expect_json(self.cset("kept", "12", auth=auth), {})
        self.assertEqual(self.mem_usage(auth=auth)["bytes_in_memory"], 15)
        time.sleep(1.2)
        self.expect(self.cget("gone", auth=auth), 404, "KEY_NOT_FOUND")
        wait_for(lambda: self.mem_usage(auth=auth)["bytes_in_memory"] == 6,
                 scaled(SWEEP_WAIT), "the sweep to release the expired entry")
        self.expect_json(self.cget("kept", auth=auth), {"data": "12"})

    def test_sweep_in_commands_of_at_most_1000(self):
        tok = self.create_key("cache-sweep-many")
        auth = bearer(tok)
        r = self.node.request("POST", "admin/limits/set", {
            "api_key": tok, "limits": {"rate_per_second_data_limit": 1000000}},
            binding="private")
        self.assertEqual(r.status, 200, r.describe())
        n = 1200
        with self.node.conn() as c:
            for i in range(n):
                r = c.request("POST", "/db/api/v1/cache/set",
                              {"key": "k%04d" % i, "value": "v", "ttl": 1},
                              [("Authorization", auth)])
                self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(self.mem_usage(auth=auth)["bytes_in_memory"], n * 6)
        time.sleep(1.2)
        self.expect_json(self.citer({"prefix": ""}, auth=auth), {"data": []})
        wait_for(lambda: self.mem_usage(auth=auth)["bytes_in_memory"] == 0,
                 scaled(SWEEP_WAIT), "the sweep to release %d expired entries" % n)

    def test_entries_survive_restart(self):
        p = uniq("rst")
        self.expect_json(self.cset(p + "k", "kept"), {})
        before = self.mem_usage()["bytes_in_memory"]
        self.assertEqual(self.node.stop(), 0, self.node.log_tail())
        self.node.start()
        self.expect_json(self.cget(p + "k"), {"data": "kept"})
        self.assertEqual(self.mem_usage()["bytes_in_memory"], before)


class CacheCluster(_CacheMixin, ClusterTestCase):
    """three nodes: entries and their expiry replicate"""

    cluster_tag = "cache3"

    def test_expiry_on_every_node(self):
        lead = self.cluster.wait_leader()
        followers = [m for m in self.cluster.nodes if m is not lead]
        # a write on a follower is redirected to the leader
        r = self.cset("x", "y", node=followers[0])
        self.assertEqual(r.status, 307, r.describe())
        self.assertEqual(self.mem_usage(node=lead)["bytes_in_memory"], 0)
        self.expect_json(self.cset("short", "12345", ttl=1, node=lead), {})
        self.expect_json(self.cset("long", "123", node=lead), {})
        for m in self.cluster.nodes:
            self.expect_json(self.cget("long", node=m,
                                       query={"consistency": "linearizable"}),
                             {"data": "123"}, "%s: " % m.name)
        time.sleep(1.2)
        for m in self.cluster.nodes:
            self.expect(self.cget("short", node=m), 404, "KEY_NOT_FOUND",
                        msg="%s: " % m.name)
            self.expect_json(self.citer({"prefix": ""}, node=m),
                             {"data": ["long"]}, "%s: " % m.name)
        for m in self.cluster.nodes:
            wait_for(lambda m=m: self.mem_usage(node=m)["bytes_in_memory"] == 7,
                     scaled(SWEEP_WAIT),
                     "%s: the sweep to release the expired entry" % m.name)
            self.expect_json(self.cget("long", node=m), {"data": "123"})
        self.expect_json(lead.request("POST", "cache/delete", {"key": "long"}), {})
        for m in self.cluster.nodes:
            wait_for(lambda m=m: self.mem_usage(node=m)["bytes_in_memory"] == 0,
                     scaled(5), "%s: usage back to 0" % m.name)
