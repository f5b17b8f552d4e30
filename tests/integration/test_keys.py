"""Identity and tenancy (API.md §3, §7, §8.2-8.3, §15.2-15.3, §16, §20):
entity keys and aliases made through the admin routes, every error row of
those routes, tenant isolation of the values routes, per-key buckets,
limits, key deletion with its cleanup, and a usage race on one quota."""

import base64
import json
import os
import re
import threading
import time

import harness
from harness import Cluster, NodeTestCase, scaled, wait_for

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
DEFAULT_LIMITS = {
    "bytes_on_disk": 1073741824, "bytes_in_memory": 262144000,
    "events_emitted": 1000, "subscribers": 100,
    "rate_per_second_data_limit": 25, "rate_per_second_event_limit": 10,
}
ZERO_USAGE = {"bytes_on_disk": 0, "bytes_in_memory": 0,
              "events_emitted": 0, "subscribers": 0}


def bearer(tok):
    return "Bearer " + tok


class _KeysMixin:
    """admin and API shortcuts against self.node (root on private)"""

    def admin(self, route, body, node=None, auth=True, raw=None):
        n = node or self.node
        return n.request("POST", "admin/" + route, body if raw is None else raw,
                         auth=auth, binding="private")

    def create_key(self, name="tenant", node=None):
        r = self.admin("api/create", {"key_name": name}, node=node)
        doc = self.expect_json(r, {"key_name": name, "key": r.json().get("key")})
        self.assertTrue(doc["key"].startswith("insi_"), r.describe())
        return doc["key"]

    def as_key(self, tok, method, route, body=None, query=None, node=None, **kw):
        n = node or self.node
        return n.request(method, route, body, query, auth=bearer(tok), **kw)

    def kset(self, tok, key, value, node=None):
        return self.as_key(tok, "POST", "set", {"key": key, "value": value}, node=node)

    def kget(self, tok, key, node=None):
        return self.as_key(tok, "GET", "get", query={"key": key}, node=node)

    def make_alias(self, tok, node=None):
        r = self.as_key(tok, "POST", "alias/set", node=node)
        self.assertEqual(r.status, 200, r.describe())
        a = r.json()["alias"]
        self.assertTrue(a.startswith("insi_"), r.describe())
        return a

    def claims(self, tok, secret):
        """decrypts a token as §3.3 says (the test's own implementation)"""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        import hashlib
        raw = base64.b64decode(tok[5:] if tok.startswith("insi_") else tok)
        key = hashlib.sha256(secret.encode()).digest()
        pt = AESGCM(key).decrypt(raw[:12], raw[12:], None)
        return json.loads(pt)


class Keys(_KeysMixin, NodeTestCase):
    node_tag = "keys"

    # -- admin/api/create ---------------------------------------------------

    def test_create_key_token_and_defaults(self):
        tok = self.create_key("My Tenant")
        try:
            c = self.claims(tok, self.node.secret)
        except ImportError:
            c = None
        if c is not None:
            self.assertEqual(list(c), ["ds", "k"])
            self.assertRegex(c["ds"], UUID_RE)
            self.assertRegex(c["k"], UUID_RE)
            self.assertNotEqual(c["ds"], c["k"])
        r = self.as_key(tok, "GET", "limits")
        self.expect_json(r, {"usage": ZERO_USAGE, "max_limits": DEFAULT_LIMITS})
        # §3.5: the entity name of the key, seen by ping
        r = self.as_key(tok, "GET", "ping")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json()["entity"], "my_tenant")

    def test_entity_name_normalised(self):
        name = "  Foo-Bar.Baz:Q/x\\y|z~!@#$%^&*()[]{}=+?`é Ä  "
        tok = self.create_key(name)
        r = self.as_key(tok, "GET", "ping")
        # ASCII-lowercased only: Ä stays
        want = "foo_bar_baz_q_x_y_z" + "_" * 19 + "é_Ä"
        self.assertEqual(r.json()["entity"], want, r.describe())
        a = self.make_alias(tok)
        r = self.as_key(a, "GET", "ping")
        self.assertEqual(r.json()["entity"], "alias_for_" + want)

    def test_create_errors(self):
        for body, name in (({}, "key_name"), ({"key_name": ""}, "key_name"),
                           ({"key_name": 5}, "key_name"),
                           ({"key_name": "x" * 129}, "key_name"),
                           ({"key_name": "a\u0001b"}, "key_name")):
            self.expect(self.admin("api/create", body), 400, "BAD_REQUEST", name,
                        "body %r: " % body)
        self.expect(self.admin("api/create", None, raw=b""), 400, "BAD_REQUEST")
        r = self.admin("api/create", {"key_name": "é" * 128})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json()["key_name"], "é" * 128)

    def test_admin_routes_root_only(self):
        tok = self.create_key()
        alias = self.make_alias(tok)
        for route in ("api/create", "api/delete", "limits/set", "limits/get",
                      "insight/entity", "insight/entities", "insight/entity_by_alias"):
            for cred in (bearer(tok), bearer(alias), "Bearer insi_garbage", False):
                r = self.admin(route, {"key_name": "x"}, auth=cred)
                self.expect(r, 401, "AUTHENTICATION_FAILED", msg="%s %s: " % (route, cred))
                self.assertEqual(r.header("WWW-Authenticate"), "Bearer", r.describe())
            # only on the private binding
            r = self.node.request("POST", "admin/" + route, {}, binding="public")
            self.expect(r, 404, "NOT_FOUND")

    # -- tenant isolation -----------------------------------------------------

    def test_tenant_isolation(self):
        a, b = self.create_key("a"), self.create_key("b")
        self.expect_json(self.kset(a, "k", "from-a"), {})
        self.expect_json(self.kset(b, "k", "from-b"), {})
        self.expect_json(self.node.request("POST", "set", {"key": "k", "value": "root"}), {})
        self.expect_json(self.kget(a, "k"), {"data": "from-a"})
        self.expect_json(self.kget(b, "k"), {"data": "from-b"})
        self.expect_json(self.get("k"), {"data": "root"})
        self.expect_json(self.kset(a, "only-a", "1"), {})
        self.expect(self.kget(b, "only-a"), 404, "KEY_NOT_FOUND")
        self.expect(self.get("only-a"), 404, "KEY_NOT_FOUND")
        r = self.as_key(b, "GET", "iterate/prefix", query={"prefix": ""})
        self.expect_json(r, {"data": ["k"]})
        r = self.as_key(a, "GET", "iterate/prefix", query={"prefix": ""})
        self.expect_json(r, {"data": ["k", "only-a"]})
        # b cannot change or delete a's values
        self.expect_json(self.as_key(b, "POST", "delete", {"key": "only-a"}), {})
        self.expect(self.as_key(b, "POST", "cas", {"key": "only-a", "old_value": "1",
                                                    "new_value": "2"}),
                    412, "PRECONDITION_FAILED")
        self.expect(self.as_key(b, "POST", "setnx", {"key": "k", "value": "x"}),
                    409, "KEY_EXISTS")
        self.expect_json(self.kget(a, "only-a"), {"data": "1"})
        # an alias acts as its parent
        al = self.make_alias(a)
        self.expect_json(self.kget(al, "only-a"), {"data": "1"})
        self.expect_json(self.kset(al, "via-alias", "2"), {})
        self.expect_json(self.kget(a, "via-alias"), {"data": "2"})
        self.expect(self.kget(b, "via-alias"), 404, "KEY_NOT_FOUND")
        # usage is per scope
        ua = self.as_key(a, "GET", "limits").json()["usage"]["bytes_on_disk"]
        self.assertEqual(ua, len("k") + len("from-a") + len("only-a") + 1 +
                         len("via-alias") + 1)
        self.assertEqual(self.as_key(al, "GET", "limits").json()["usage"]["bytes_on_disk"], ua)

    def test_isolation_bump_and_delete(self):
        a, b = self.create_key("a"), self.create_key("b")
        self.expect_json(self.as_key(a, "POST", "bump", {"key": "n", "value": "5"}),
                         {"data": "5"})
        self.expect_json(self.as_key(b, "POST", "bump", {"key": "n", "value": "1"}),
                         {"data": "1"})
        self.expect_json(self.as_key(b, "DELETE", "delete", {"key": "n"}), {})
        self.expect_json(self.kget(a, "n"), {"data": "5"})
        self.expect(self.kget(b, "n"), 404, "KEY_NOT_FOUND")
        r = self.as_key(b, "GET", "iterate/prefix", query={"prefix": "n"})
        self.expect_json(r, {"data": []})

    def test_isolation_cache(self):
        a, b = self.create_key("a"), self.create_key("b")
        self.expect_json(self.as_key(a, "POST", "cache/set",
                                     {"key": "c", "value": "from-a", "ttl": 60}), {})
        self.expect(self.as_key(b, "GET", "cache/get", query={"key": "c"}),
                    404, "KEY_NOT_FOUND")
        self.expect_json(self.as_key(b, "GET", "cache/iterate/prefix",
                                     query={"prefix": ""}), {"data": []})
        self.expect_json(self.as_key(b, "POST", "cache/delete", {"key": "c"}), {})
        self.expect_json(self.as_key(a, "GET", "cache/get", query={"key": "c"}),
                         {"data": "from-a"})
        u = self.as_key(a, "GET", "limits").json()["usage"]
        self.assertEqual(u["bytes_in_memory"], len("c") + len("from-a"))
        self.assertEqual(self.as_key(b, "GET", "limits").json()["usage"],
                         ZERO_USAGE)

    def test_isolation_through_aliases(self):
        """every data route of key B, and of B's alias, leaves A's data alone;
        A's alias sees A's"""
        a, b = self.create_key("a"), self.create_key("b")
        aa, ba = self.make_alias(a), self.make_alias(b)
        self.expect_json(self.kset(a, "v", "a-val"), {})
        self.expect_json(self.as_key(a, "POST", "cache/set",
                                     {"key": "c", "value": "a-cache"}), {})
        for t in (b, ba):
            self.expect(self.kget(t, "v"), 404, "KEY_NOT_FOUND")
            self.expect(self.as_key(t, "GET", "cache/get", query={"key": "c"}),
                        404, "KEY_NOT_FOUND")
            self.expect(self.as_key(t, "POST", "cas", {"key": "v", "old_value": "a-val",
                                                       "new_value": "x"}),
                        412, "PRECONDITION_FAILED")
            self.expect(self.as_key(t, "POST", "cache/cas",
                                    {"key": "c", "old_value": "a-cache", "new_value": "x"}),
                        412, "PRECONDITION_FAILED")
            self.expect_json(self.as_key(t, "GET", "cache/iterate/prefix",
                                         query={"prefix": ""}), {"data": []})
            self.expect_json(self.as_key(t, "GET", "iterate/prefix",
                                         query={"prefix": ""}), {"data": []})
            self.expect_json(self.as_key(t, "DELETE", "cache/delete", {"key": "c"}), {})
            self.expect_json(self.as_key(t, "DELETE", "delete", {"key": "v"}), {})
            self.expect_json(self.as_key(t, "GET", "alias/list"), {"aliases": [ba]})
            self.expect(self.as_key(t, "POST", "alias/delete", {"alias": aa}), 403,
                        "FORBIDDEN")
        # setnx lands in B's own scope, never on A's entry
        self.expect_json(self.as_key(ba, "POST", "cache/setnx",
                                     {"key": "c", "value": "b-cache"}), {})
        self.expect_json(self.as_key(ba, "POST", "setnx", {"key": "v", "value": "b-val"}), {})
        for t in (a, aa):
            self.expect_json(self.kget(t, "v"), {"data": "a-val"})
            self.expect_json(self.as_key(t, "GET", "cache/get", query={"key": "c"}),
                             {"data": "a-cache"})
        self.expect_json(self.kget(b, "v"), {"data": "b-val"})
        self.expect_json(self.as_key(b, "GET", "cache/get", query={"key": "c"}),
                         {"data": "b-cache"})
        self.expect_json(self.as_key(aa, "GET", "alias/list"), {"aliases": [aa]})
        self.assertEqual(self.as_key(aa, "GET", "ping").status, 200)

    def test_methods_and_consistency(self):
        tok = self.create_key()
        r = self.as_key(tok, "HEAD", "limits")
        self.assertEqual((r.status, r.body), (200, b""), r.describe())
        r = self.as_key(tok, "GET", "limits", query={"consistency": "linearizable"})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.header("X-Insidb-Consistency"), "linearizable")
        self.assertIn(self.as_key(tok, "GET", "limits").header(
            "X-Insidb-Consistency"), ("local", "linearizable"))
        self.expect(self.as_key(tok, "GET", "limits", query={"consistency": "x"}),
                    400, "BAD_REQUEST", "consistency")
        r = self.as_key(tok, "HEAD", "alias/list")
        self.assertEqual((r.status, r.body), (200, b""), r.describe())
        for route, allow in (("limits", "GET, HEAD"), ("alias/set", "GET, POST"),
                             ("alias/delete", "POST"), ("alias/list", "GET, HEAD")):
            r = self.as_key(tok, "PUT", route)
            self.expect(r, 405, "METHOD_NOT_ALLOWED", msg=route + ": ")
            self.assertEqual(r.header("Allow"), allow)
        for route in ("api/create", "api/delete", "limits/set", "limits/get",
                      "insight/entity", "insight/entities", "insight/entity_by_alias"):
            r = self.node.request("GET", "admin/" + route, binding="private")
            self.expect(r, 405, "METHOD_NOT_ALLOWED", msg=route + ": ")
            self.assertEqual(r.header("Allow"), "POST")
        # a missing credential is 401 on every route of these sections
        for route in ("limits", "alias/list"):
            r = self.req("GET", route, auth=False)
            self.expect(r, 401, "AUTHENTICATION_FAILED")
        for route in ("alias/set", "alias/delete"):
            self.expect(self.req("POST", route, auth=False), 401,
                        "AUTHENTICATION_FAILED")

    # -- credentials ----------------------------------------------------------

    def test_bad_tokens_refused(self):
        tok = self.create_key()
        bad = [tok[:-4] + "AAA=", "insi_" + base64.b64encode(b"x" * 29).decode(),
               tok[5:] + "x", "insi_!!!", tok.replace("insi_", "insi_A", 1)]
        for t in bad:
            r = self.as_key(t, "GET", "ping")
            self.expect(r, 401, "AUTHENTICATION_FAILED", msg="%r: " % t)
            self.assertEqual(r.header("WWW-Authenticate"), "Bearer")
        # without the insi_ prefix the token is accepted
        self.assertEqual(self.as_key(tok[5:], "GET", "ping").status, 200)

    # -- aliases ----------------------------------------------------------------

    def test_alias_set_list_delete(self):
        tok = self.create_key()
        self.expect_json(self.as_key(tok, "GET", "alias/list"), {"aliases": []})
        made = [self.make_alias(tok) for _ in range(3)]
        made.append(self.as_key(tok, "GET", "alias/set").json()["alias"])
        self.expect_json(self.as_key(tok, "GET", "alias/list"), {"aliases": made})
        # an alias sees its siblings and itself
        self.expect_json(self.as_key(made[1], "GET", "alias/list"), {"aliases": made})
        self.expect_json(self.as_key(tok, "POST", "alias/delete", {"alias": made[1]}),
                         {"status": "ok"})
        self.expect(self.as_key(made[1], "GET", "ping"), 401, "AUTHENTICATION_FAILED")
        rest = [made[0], made[2], made[3]]
        self.expect_json(self.as_key(tok, "GET", "alias/list"), {"aliases": rest})
        self.expect(self.as_key(tok, "POST", "alias/delete", {"alias": made[1]}),
                    404, "ALIAS_NOT_FOUND")
        # root has none
        self.expect_json(self.req("GET", "alias/list"), {"aliases": []})

    def test_alias_errors(self):
        tok, other = self.create_key(), self.create_key()
        al = self.make_alias(tok)
        self.expect(self.req("POST", "alias/set"), 400, "ALIAS_NOT_ALLOWED")
        self.expect(self.as_key(al, "POST", "alias/set"), 400, "ALIAS_NOT_ALLOWED")
        self.expect(self.req("POST", "alias/delete", {"alias": al}), 403, "FORBIDDEN")
        self.expect(self.as_key(al, "POST", "alias/delete", {"alias": al}), 403, "FORBIDDEN")
        self.expect(self.as_key(other, "POST", "alias/delete", {"alias": al}),
                    403, "FORBIDDEN")
        for body in ({"alias": "insi_nope"}, {"alias": tok}):
            self.expect(self.as_key(tok, "POST", "alias/delete", body), 404,
                        "ALIAS_NOT_FOUND", msg="%r: " % body)
        self.expect(self.as_key(tok, "POST", "alias/delete", {}), 400,
                    "BAD_REQUEST", "alias")
        self.assertEqual(self.as_key(al, "GET", "ping").status, 200)
        # at most 16
        for _ in range(15):
            self.make_alias(tok)
        self.expect(self.as_key(tok, "POST", "alias/set"), 409, "ALIAS_LIMIT_REACHED")
        self.assertEqual(len(self.as_key(tok, "GET", "alias/list").json()["aliases"]), 16)
        self.expect_json(self.as_key(tok, "POST", "alias/delete", {"alias": al}),
                         {"status": "ok"})
        self.make_alias(tok)

    # -- limits ------------------------------------------------------------------

    def test_limits_set_get(self):
        tok = self.create_key()
        al = self.make_alias(tok)
        r = self.admin("limits/get", {"api_key": tok})
        self.expect_json(r, {"usage": ZERO_USAGE, "max_limits": DEFAULT_LIMITS})
        self.expect_json(self.admin("limits/set", {"api_key": al,
                                                   "limits": {"bytes_on_disk": 10}}),
                         {"status": "ok"})
        want = dict(DEFAULT_LIMITS, bytes_on_disk=10)
        self.expect_json(self.admin("limits/get", {"api_key": tok}),
                         {"usage": ZERO_USAGE, "max_limits": want})
        self.expect_json(self.admin("limits/get", {"api_key": al}),
                         {"usage": ZERO_USAGE, "max_limits": want})
        self.expect_json(self.as_key(al, "GET", "limits"),
                         {"usage": ZERO_USAGE, "max_limits": want})
        self.expect_json(self.kset(tok, "abc", "12345"), {})
        r = self.kset(al, "abcd", "x")
        self.expect(r, 400, "DISK_LIMIT_EXCEEDED")
        self.assertEqual(r.header("X-Current-Disk-Usage"), "8")
        self.assertEqual(r.header("X-Disk-Usage-Limit"), "10")
        # root: usage and {}
        r = self.admin("limits/get", {"api_key": self.node.root_key})
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json()["max_limits"], {})

    def test_limits_errors(self):
        tok = self.create_key()
        rows = [
            ({"limits": {}}, 400, "BAD_REQUEST", "api_key"),
            ({"api_key": tok}, 400, "BAD_REQUEST", "limits"),
            ({"api_key": tok, "limits": 5}, 400, "BAD_REQUEST", "limits"),
            ({"api_key": tok, "limits": {"bytes_on_disk": -1}}, 400, "BAD_REQUEST", None),
            ({"api_key": tok, "limits": {"bytes_on_disk": 1.5}}, 400, "BAD_REQUEST", None),
            ({"api_key": tok, "limits": {"bytes_on_disk": "1"}}, 400, "BAD_REQUEST", None),
            ({"api_key": tok, "limits": {"nope": 1}}, 400, "BAD_REQUEST", None),
            ({"api_key": self.node.root_key, "limits": {}}, 400, "BAD_REQUEST", "api_key"),
            ({"api_key": "insi_AAAA", "limits": {}}, 404, "API_KEY_NOT_FOUND", None),
        ]
        for body, status, et, name in rows:
            self.expect(self.admin("limits/set", body), status, et, name,
                        "body %r: " % body)
        self.expect(self.admin("limits/get", {}), 400, "BAD_REQUEST", "api_key")
        self.expect(self.admin("limits/get", {"api_key": "insi_AAAA"}), 404,
                    "API_KEY_NOT_FOUND")
        # unchanged after refusals
        self.expect_json(self.admin("limits/get", {"api_key": tok}),
                         {"usage": ZERO_USAGE, "max_limits": DEFAULT_LIMITS})

    # -- per-key buckets -----------------------------------------------------------

    def test_per_key_bucket_shared_by_alias(self):
        tok = self.create_key()
        al = self.make_alias(tok)
        self.expect_json(self.admin("limits/set", {"api_key": tok, "limits": {
            "rate_per_second_data_limit": 3}}), {"status": "ok"})
        codes = []
        for i in range(4):
            codes.append(self.kget(tok if i % 2 else al, "x").status)
        # 3 tokens: the fourth request in a burst is refused
        self.assertEqual(codes[:3], [404, 404, 404], codes)
        self.assertEqual(codes[3], 429, codes)
        r = self.kget(al, "x")
        self.expect(r, 429, "RATE_LIMITED")
        self.assertEqual(r.header("X-RateLimit-Scope"), "key")
        self.assertEqual(r.header("X-RateLimit-Limit"), "3")
        self.assertEqual(r.header("X-RateLimit-Burst"), "3")
        self.assertEqual(r.header("Retry-After"), "1")
        # system routes have no per-key bucket; root is exempt
        self.assertEqual(self.as_key(tok, "GET", "ping").status, 200)
        for _ in range(5):
            self.assertNotEqual(self.get("x").status, 429)
        # a refused request takes no token: after 1/3 s exactly one passes
        time.sleep(0.4)
        self.assertEqual(self.kget(tok, "x").status, 404)
        self.assertEqual(self.kget(tok, "x").status, 429)
        # another tenant has its own bucket
        other = self.create_key()
        self.assertEqual(self.kget(other, "x").status, 404)
        # limit 0 allows nothing, Retry-After 60
        self.expect_json(self.admin("limits/set", {"api_key": tok, "limits": {
            "rate_per_second_data_limit": 0}}), {"status": "ok"})
        r = self.kget(tok, "x")
        self.expect(r, 429, "RATE_LIMITED")
        self.assertEqual(r.header("Retry-After"), "60")

    # -- insight --------------------------------------------------------------------

    def entity_of(self, tok, name, aliases, usage=ZERO_USAGE, limits=DEFAULT_LIMITS):
        c = self.claims_or_none(tok)
        e = self.admin("insight/entity", {"root_api_key": tok}).json()["entity"]
        want = {"root_api_key": tok, "aliases": aliases,
                "data_scope_uuid": e["data_scope_uuid"], "key_uuid": e["key_uuid"],
                "key_name": name, "usage": {"usage": usage, "max_limits": limits}}
        if c is not None:
            self.assertEqual((e["data_scope_uuid"], e["key_uuid"]), (c["ds"], c["k"]))
        self.assertRegex(e["key_uuid"], UUID_RE)
        self.assertRegex(e["data_scope_uuid"], UUID_RE)
        return want

    def claims_or_none(self, tok):
        try:
            return self.claims(tok, self.node.secret)
        except ImportError:
            return None

    def test_insight(self):
        tok = self.create_key("Insight One")
        al = self.make_alias(tok)
        self.expect_json(self.kset(al, "kk", "vv"), {})
        usage = dict(ZERO_USAGE, bytes_on_disk=4)
        want = self.entity_of(tok, "Insight One", [al], usage)
        self.expect_json(self.admin("insight/entity", {"root_api_key": tok}),
                         {"entity": want})
        self.expect_json(self.admin("insight/entity_by_alias", {"alias": al}),
                         {"entity": want})
        r = self.admin("insight/entities", {"limit": 1000})
        ents = r.json()["entities"]
        self.assertIn(want, ents)
        uuids = [e["key_uuid"] for e in ents]
        self.assertEqual(uuids, sorted(uuids))
        # offset / limit
        r2 = self.admin("insight/entities", {"offset": 1, "limit": 1})
        self.expect_json(r2, {"entities": ents[1:2]})
        self.expect_json(self.admin("insight/entities", None, raw=b""),
                         {"entities": ents[:100]})
        self.expect_json(self.admin("insight/entities", {"offset": 100000}),
                         {"entities": []})

    def test_insight_errors(self):
        tok = self.create_key()
        al = self.make_alias(tok)
        root = self.node.root_key
        rows = [
            ("insight/entity", {"root_api_key": root}, 400, "BAD_REQUEST"),
            ("insight/entity", {"root_api_key": al}, 400, "ALIAS_NOT_ALLOWED"),
            ("insight/entity", {"root_api_key": "insi_AAAA"}, 404, "API_KEY_NOT_FOUND"),
            ("insight/entity", {}, 400, "BAD_REQUEST"),
            ("insight/entities", {"offset": -1}, 400, "BAD_REQUEST"),
            ("insight/entities", {"limit": 0}, 400, "BAD_REQUEST"),
            ("insight/entities", {"limit": "5"}, 400, "BAD_REQUEST"),
            ("insight/entity_by_alias", {"alias": tok}, 404, "ALIAS_NOT_FOUND"),
            ("insight/entity_by_alias", {"alias": "insi_AAAA"}, 404, "ALIAS_NOT_FOUND"),
            ("insight/entity_by_alias", {}, 400, "BAD_REQUEST"),
            ("api/delete", {"key": root}, 400, "BAD_REQUEST"),
            ("api/delete", {"key": al}, 400, "ALIAS_NOT_ALLOWED"),
            ("api/delete", {"key": "insi_AAAA"}, 404, "API_KEY_NOT_FOUND"),
            ("api/delete", {}, 400, "BAD_REQUEST"),
        ]
        for route, body, status, et in rows:
            self.expect(self.admin(route, body), status, et, msg="%s %r: " % (route, body))
        # a deleted alias, a deleted parent
        self.expect_json(self.as_key(tok, "POST", "alias/delete", {"alias": al}),
                         {"status": "ok"})
        self.expect(self.admin("insight/entity_by_alias", {"alias": al}), 404,
                    "ALIAS_NOT_FOUND")
        al2 = self.make_alias(tok)
        self.expect_json(self.admin("api/delete", {"key": tok}), {"success": True})
        self.expect(self.admin("insight/entity_by_alias", {"alias": al2}), 404,
                    "API_KEY_NOT_FOUND")

    # -- deletion ---------------------------------------------------------------

    def test_delete_key(self):
        tok = self.create_key()
        al = self.make_alias(tok)
        self.expect_json(self.kset(tok, "gone", "soon"), {})
        self.expect_json(self.admin("api/delete", {"key": tok}), {"success": True})
        for t in (tok, al):
            self.expect(self.kget(t, "gone"), 401, "AUTHENTICATION_FAILED")
            self.expect(self.as_key(t, "GET", "ping"), 401, "AUTHENTICATION_FAILED")
        for route, body in (("api/delete", {"key": tok}),
                            ("limits/get", {"api_key": tok}),
                            ("limits/set", {"api_key": tok, "limits": {}}),
                            ("insight/entity", {"root_api_key": tok})):
            self.expect(self.admin(route, body), 404, "API_KEY_NOT_FOUND",
                        msg="%s: " % route)
        ents = self.admin("insight/entities", {"limit": 1000}).json()["entities"]
        self.assertNotIn(tok, [e["root_api_key"] for e in ents])


class _KeysCluster(_KeysMixin, NodeTestCase):
    """three nodes with a short token cache"""

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster("keys3", 3, extra_yaml="cache:\n  keys: 2s\n")
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
            raise AssertionError("processes left running after stop (killed): %s" % left)

    def leader(self):
        return self.cluster.wait_leader()


class KeysCluster(_KeysCluster):
    def test_key_works_on_every_node_at_once(self):
        lead = self.leader()
        for _ in range(3):
            tok = self.create_key(node=lead)
            for m in self.cluster.nodes:
                r = self.as_key(tok, "GET", "ping", node=m)
                self.assertEqual(r.status, 200, "%s: %s" % (m.name, r.describe()))

    def test_leader_routing_of_key_routes(self):
        lead = self.leader()
        f = [m for m in self.cluster.nodes if m is not lead][0]
        tok = self.create_key(node=lead)
        al = self.make_alias(tok, node=lead)
        # writes redirect to the leader, after the key-type rules
        for route, body in (("alias/set", None), ("alias/delete", {"alias": al})):
            r = self.as_key(tok, "POST", route, body, node=f)
            self.expect(r, 307, "NOT_LEADER", msg=route + ": ")
            self.assertEqual(r.header("X-Insidb-Leader"), lead.name)
            self.assertEqual(r.json()["leader"], lead.name)
        self.expect(f.request("POST", "alias/set"), 400, "ALIAS_NOT_ALLOWED")
        self.expect(self.as_key(al, "POST", "alias/set", node=f), 400, "ALIAS_NOT_ALLOWED")
        self.expect(self.as_key(al, "POST", "alias/delete", {"alias": al}, node=f),
                    403, "FORBIDDEN")
        for route, body in (("api/create", {"key_name": "x"}), ("api/delete", {"key": tok}),
                            ("limits/set", {"api_key": tok, "limits": {}})):
            r = self.admin(route, body, node=f)
            self.expect(r, 307, "NOT_LEADER", msg=route + ": ")
            self.assertIn(":%d/" % lead.private, r.header("Location"))
        # reads are local on every node
        for m in self.cluster.nodes:
            self.expect_json(self.as_key(al, "GET", "alias/list", node=m),
                             {"aliases": [al]})
            r = self.admin("limits/get", {"api_key": al}, node=m)
            self.assertEqual(r.status, 200, r.describe())
            r = self.admin("insight/entity_by_alias", {"alias": al}, node=m)
            self.assertEqual(r.json()["entity"]["aliases"], [al])

    def show_scope(self, node, ds):
        """insidbctl -j show scope DS on node: the local state's counts"""
        p = node.ctl("-j", "show", "scope", ds)
        self.assertEqual(p.returncode, 0, "%s: %s" % (node.name, p.stderr.decode()))
        doc = json.loads(p.stdout.decode())
        self.assertEqual(doc["ds"], ds)
        self.assertFalse(doc["truncated"], doc)
        return doc

    def test_delete_everywhere_and_cleanup(self):
        lead = self.leader()
        tok = self.create_key(node=lead)
        al = self.make_alias(tok, node=lead)
        for i in range(20):
            self.expect_json(self.kset(tok, "v%d" % i, "x" * 10, node=lead), {})
        for i in range(3):
            self.expect_json(self.as_key(al, "POST", "cache/set",
                                         {"key": "c%d" % i, "value": "y" * 10},
                                         node=lead), {})
        self.expect_json(self.admin("limits/set", {"api_key": tok,
                                                   "limits": {"bytes_on_disk": 100000}},
                                    node=lead), {"status": "ok"})
        for m in self.cluster.nodes:
            self.assertEqual(self.kget(al, "v1", node=m).status, 200)
        e = self.admin("insight/entity", {"root_api_key": tok}, node=lead).json()["entity"]
        ds = e["data_scope_uuid"]
        # the state of every node holds every kind before the deletion
        want = {"values": 20, "cache_entries": 3, "usage": 1, "limits": 1,
                "key_records": 1, "scope_index": 1, "aliases": 1, "alias_index": 1}
        for m in self.cluster.nodes:
            def replicated(m=m):
                doc = self.show_scope(m, ds)
                return all(doc[k] == v for k, v in want.items())
            wait_for(replicated, scaled(10), "%s to hold the scope %s" % (m.name, ds),
                     interval=0.2)
        # the text form names the same counts
        t = lead.ctl("show", "scope", ds)
        self.assertEqual(t.returncode, 0, t.stderr.decode())
        self.assertRegex(t.stdout.decode(), r"(?m)^values\s+20$")
        self.expect_json(self.admin("api/delete", {"key": tok}, node=lead),
                         {"success": True})
        deadline = time.time() + scaled(2)
        for m in self.cluster.nodes:
            def refused(m=m):
                return all(self.as_key(t, "GET", "ping", node=m).status == 401
                           for t in (tok, al))
            wait_for(refused, max(0.1, deadline - time.time()) + 0.5,
                     "%s to refuse the deleted key" % m.name)
        for m in self.cluster.nodes:
            for route, body in (("limits/get", {"api_key": tok}),
                                ("insight/entity", {"root_api_key": tok}),
                                ("insight/entity_by_alias", {"alias": al})):
                self.expect(self.admin(route, body, node=m), 404, "API_KEY_NOT_FOUND",
                            msg="%s %s: " % (m.name, route))
            ents = self.admin("insight/entities", {"limit": 1000}, node=m).json()
            self.assertNotIn(ds, [e["data_scope_uuid"] for e in ents["entities"]])
        # the cleanup task (every 30 s on the leader) purges the values
        # before the aliases: once the alias record is gone on a node
        # (ALIAS_NOT_FOUND instead of API_KEY_NOT_FOUND) its scope is empty
        for m in self.cluster.nodes:
            def purged(m=m):
                r = self.admin("insight/entity_by_alias", {"alias": al}, node=m)
                return r.status == 404 and r.json()["error_type"] == "ALIAS_NOT_FOUND"
            wait_for(purged, scaled(75), "%s to apply the key cleanup" % m.name,
                     interval=0.5)
        # nothing of the key is left in the state of any node
        for m in self.cluster.nodes:
            def gone(m=m):
                doc = self.show_scope(m, ds)
                return all(doc[k] == 0 for k in want) and \
                    doc["orphan_aliases"] == 0 and doc["orphan_alias_index"] == 0
            wait_for(gone, scaled(75), "%s to drop every record of %s"
                     % (m.name, ds), interval=0.5)

    def test_usage_cycles_return_to_zero(self):
        """set / update / delete cycles of a tenant's values and cache give
        every byte back, on every node"""
        lead = self.leader()
        tok = self.create_key(node=lead)
        al = self.make_alias(tok, node=lead)
        self.expect_json(self.admin("limits/set", {"api_key": tok, "limits": {
            "rate_per_second_data_limit": 100000}}, node=lead), {"status": "ok"})

        def w(t, route, body):
            self.expect_json(self.as_key(t, "POST", route, body, node=lead),
                             {"data": body["value"]} if route == "bump" else {},
                             msg="%s %r: " % (route, body))

        def usage_everywhere(disk, mem):
            for m in self.cluster.nodes:
                def same(m=m):
                    u = self.as_key(tok, "GET", "limits", node=m).json()["usage"]
                    return (u["bytes_on_disk"], u["bytes_in_memory"]) == (disk, mem)
                wait_for(same, scaled(5), "%s to show usage (%d, %d)" % (m.name, disk, mem))

        for cycle in range(3):
            w(tok, "set", {"key": "a", "value": "x" * 10})
            w(al, "set", {"key": "a", "value": "y" * (20 + cycle)})
            w(tok, "setnx", {"key": "b", "value": "123"})
            w(al, "cas", {"key": "b", "old_value": "123", "new_value": "1"})
            w(tok, "bump", {"key": "n", "value": "99"})
            w(tok, "cache/set", {"key": "c", "value": "z" * 5})
            w(al, "cache/set", {"key": "c", "value": "z" * 9})
            w(tok, "cache/setnx", {"key": "d", "value": "ab"})
            w(al, "cache/cas", {"key": "d", "old_value": "ab", "new_value": "abcd"})
            usage_everywhere(1 + 20 + cycle + 1 + 1 + 1 + 2, 1 + 9 + 1 + 4)
            for route, key in (("delete", "a"), ("delete", "b"), ("delete", "n"),
                               ("cache/delete", "c"), ("cache/delete", "d")):
                w(al if key in "bd" else tok, route, {"key": key})
            usage_everywhere(0, 0)

    def test_usage_race_on_small_quota(self):
        lead = self.leader()
        tok = self.create_key(node=lead)
        limit = 2000
        self.expect_json(self.admin("limits/set", {"api_key": tok, "limits": {
            "bytes_on_disk": limit, "rate_per_second_data_limit": 100000}},
            node=lead), {"status": "ok"})
        acked = []
        lock = threading.Lock()
        errors = []

        def client(i):
            try:
                for j in range(40):
                    key, value = "c%d-%02d" % (i, j), "v" * 40
                    r = self.kset(tok, key, value, node=lead)
                    if r.status == 200:
                        with lock:
                            acked.append(len(key) + len(value))
                    elif r.status == 400 and \
                            r.json()["error_type"] == "DISK_LIMIT_EXCEEDED":
                        cur = int(r.header("X-Current-Disk-Usage"))
                        if cur + len(key) + len(value) <= limit:
                            errors.append("refused below the limit: %s" % r.describe())
                    else:
                        errors.append(r.describe())
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(120))
        self.assertEqual(errors, [])
        usage = self.as_key(tok, "GET", "limits", node=lead,
                            query={"consistency": "linearizable"}).json()["usage"]
        self.assertLessEqual(usage["bytes_on_disk"], limit)
        self.assertEqual(usage["bytes_on_disk"], sum(acked))
        self.assertGreater(limit - usage["bytes_on_disk"], -1)
        self.assertGreaterEqual(len(acked), limit // 46 - 1)
        for m in self.cluster.nodes:
            def same(m=m):
                u = self.as_key(tok, "GET", "limits", node=m).json()["usage"]
                return u["bytes_on_disk"] == sum(acked)
            wait_for(same, scaled(5), "%s to show the same usage" % m.name)
