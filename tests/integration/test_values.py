"""API.md §11 values routes with the root key: success cases and every
error row.  The node runs with limits.max_value_size 1KiB, so the JSON
body limit is 2 * 1024 + 65536 = 67584 bytes."""

import json
import os

from harness import NodeTestCase, Conn, build_request, path_for

MAX_VALUE = 1024
JSON_LIMIT = 2 * MAX_VALUE + 64 * 1024
INT64_MAX = 2 ** 63 - 1


def uniq(tag):
    return "%s-%s/" % (tag, os.urandom(4).hex())


class Values(NodeTestCase):
    node_tag = "values"
    max_value_size = "1KiB"

    # -- set / get ----------------------------------------------------

    def test_set_get_roundtrip(self):
        p = uniq("sg")
        r = self.set(p + "k", "v1")
        self.assertEqual(r.body, b"{}\n", "set must answer {} + LF" + r.describe())
        self.expect_json(r, {})
        self.expect_json(self.get(p + "k"), {"data": "v1"})
        r = self.get(p + "k")
        self.assertEqual(r.body, b'{"data":"v1"}\n', r.describe())
        # replace
        self.expect_json(self.set(p + "k", "v2"), {})
        self.expect_json(self.get(p + "k"), {"data": "v2"})
        # empty value
        self.expect_json(self.set(p + "empty", ""), {})
        self.expect_json(self.get(p + "empty"), {"data": ""})

    def test_keys_and_values_any_text(self):
        p = uniq("txt")
        cases = [
            (p + "a:b/c d", "sp ace"),
            (p + "ünï€😀", "välue 😀"),
            (p + "plus+sign&amp=eq?q#h%25", "x"),
            (p + "nul-in-value", "a\u0000b"),
            (p + "ctl\u0001\t\n", "\"quoted\" \\ back"),
        ]
        for k, v in cases:
            self.expect_json(self.set(k, v), {}, "key %r: " % k)
        for k, v in cases:
            self.expect_json(self.get(k), {"data": v}, "key %r: " % k)

    def test_get_query_decoding(self):
        p = uniq("qd")
        self.expect_json(self.set(p + "a b+c", "1"), {})
        # + decodes to a space, %2B is a literal plus
        r = self.req("GET", "get", query="key=" + p + "a+b%2Bc")
        self.expect_json(r, {"data": "1"})
        # only the first occurrence counts; unknown parameters are ignored
        r = self.req("GET", "get", query="key=%s&key=zzz&bogus=1" % (p + "a%20b%2Bc"))
        self.expect_json(r, {"data": "1"})

    def test_get_errors(self):
        p = uniq("ge")
        self.expect(self.get(p + "absent"), 404, "KEY_NOT_FOUND")
        self.expect(self.req("GET", "get"), 400, "BAD_REQUEST", names="key")
        self.expect(self.req("GET", "get", query="key="), 400, "BAD_REQUEST", names="key")
        self.expect(self.req("GET", "get", query="key=a%00b"), 400, "BAD_REQUEST",
                    names="key")
        self.expect(self.req("GET", "get", query="key=%FF%FE"), 400, "BAD_REQUEST",
                    names="key")
        self.expect(self.get("k" * 4097), 413, "PAYLOAD_TOO_LARGE", names="key")

    def test_key_size_limits(self):
        p = uniq("ks")
        k = p + "x" * (4096 - len(p))
        self.expect_json(self.set(k, "max"), {})
        self.expect_json(self.get(k), {"data": "max"})
        self.expect(self.set(k + "y", "v"), 413, "PAYLOAD_TOO_LARGE", names="key")
        # bytes of UTF-8 after unescaping: 2048 x U+00E9 = 4096 bytes
        body = '{"key":"%s","value":"v"}' % ("\\u00e9" * 2048)
        self.expect_json(self.req("POST", "set", body), {})
        body = '{"key":"%s","value":"v"}' % ("\\u00e9" * 2049)
        self.expect(self.req("POST", "set", body), 413, "PAYLOAD_TOO_LARGE", names="key")
        # empty key and NUL in a key
        self.expect(self.set("", "v"), 400, "BAD_REQUEST", names="key")
        self.expect(self.set(p + "a\u0000b", "v"), 400, "BAD_REQUEST", names="key")

    def test_value_size_limit(self):
        p = uniq("vs")
        self.expect_json(self.set(p + "k", "v" * MAX_VALUE), {})
        self.expect_json(self.get(p + "k"), {"data": "v" * MAX_VALUE})
        self.expect(self.set(p + "k", "v" * (MAX_VALUE + 1)), 413,
                    "PAYLOAD_TOO_LARGE", names="value")
        # the refused write changed nothing
        self.expect_json(self.get(p + "k"), {"data": "v" * MAX_VALUE})
        self.expect(self.req("POST", "setnx", {"key": p + "n", "value": "v" * (MAX_VALUE + 1)}),
                    413, "PAYLOAD_TOO_LARGE", names="value")

    def test_json_body_limit(self):
        p = uniq("jl")
        doc = json.dumps({"key": p + "k", "value": "x"}).encode()
        # exactly at the limit (padding is trailing whitespace): accepted
        body = doc + b" " * (JSON_LIMIT - len(doc))
        self.assertEqual(len(body), JSON_LIMIT)
        self.expect_json(self.req("POST", "set", body), {},
                         "a body of exactly the JSON limit: ")
        # one byte more, announced by Content-Length
        body = doc + b" " * (JSON_LIMIT + 1 - len(doc))
        self.expect(self.req("POST", "set", body), 413, "PAYLOAD_TOO_LARGE", names="body")

    def test_json_body_limit_chunked(self):
        p = uniq("jc")
        doc = json.dumps({"key": p + "k", "value": "x"}).encode()
        body = doc + b" " * (JSON_LIMIT + 4096 - len(doc))
        chunks = b""
        for i in range(0, len(body), 8192):
            part = body[i:i + 8192]
            chunks += b"%x\r\n%s\r\n" % (len(part), part)
        chunks += b"0\r\n\r\n"
        r = self.req("POST", "set", chunks, headers=[("Transfer-Encoding", "chunked")])
        self.expect(r, 413, "PAYLOAD_TOO_LARGE", names="body")
        self.expect(self.get(p + "k"), 404, "KEY_NOT_FOUND")

    # -- JSON body errors ---------------------------------------------

    def test_bad_json(self):
        p = uniq("bj")
        for body in (b"", b"{", b"[]", b'"str"', b"null", b"42",
                     b'{"key":"a","value":"b"} x', b'{"key":"a","value":"b"}{}',
                     b'{"key":"a",}', b"{'key':'a','value':'b'}",
                     b'{"key":"\xff","value":"b"}'):
            r = self.req("POST", "set", body)
            self.expect(r, 400, "BAD_REQUEST", names="body", msg="body %r: " % body)
        # whitespace around the object is fine
        self.expect_json(self.req("POST", "set", b' \r\n{"key":"%sws","value":"b"}\n\t '
                                  % p.encode()), {})

    def test_missing_member(self):
        p = uniq("mm")
        self.expect(self.req("POST", "set", {"value": "v"}), 400, "BAD_REQUEST", names="key")
        self.expect(self.req("POST", "set", {"key": p + "k"}), 400, "BAD_REQUEST",
                    names="value")
        # null means absent
        self.expect(self.req("POST", "set", {"key": None, "value": "v"}), 400,
                    "BAD_REQUEST", names="key")
        self.expect(self.req("POST", "cas", {"key": p + "k", "new_value": "v"}), 400,
                    "BAD_REQUEST", names="old_value")
        self.expect(self.req("POST", "cas", {"key": p + "k", "old_value": "v"}), 400,
                    "BAD_REQUEST", names="new_value")
        self.expect(self.req("POST", "bump", {"key": p + "k"}), 400, "BAD_REQUEST",
                    names="value")
        self.expect(self.req("POST", "delete", {}), 400, "BAD_REQUEST", names="key")

    def test_wrong_member_type(self):
        p = uniq("wt")
        for body, member in (({"key": 1, "value": "v"}, "key"),
                             ({"key": p + "k", "value": 5}, "value"),
                             ({"key": p + "k", "value": ["v"]}, "value"),
                             ({"key": {"a": 1}, "value": "v"}, "key"),
                             ({"key": p + "k", "value": True}, "value")):
            self.expect(self.req("POST", "set", body), 400, "BAD_REQUEST", names=member,
                        msg="body %r: " % body)
        self.expect(self.req("POST", "cas", {"key": p + "k", "old_value": 1,
                                             "new_value": "v"}),
                    400, "BAD_REQUEST", names="old_value")
        self.expect(self.get(p + "k"), 404, "KEY_NOT_FOUND")

    def test_duplicate_member(self):
        p = uniq("dm")
        body = '{"key":"%sk","key":"%sk2","value":"v"}' % (p, p)
        self.expect(self.req("POST", "set", body), 400, "BAD_REQUEST", names="key")
        body = '{"key":"%sk","value":"a","value":"b"}' % p
        self.expect(self.req("POST", "set", body), 400, "BAD_REQUEST", names="value")
        self.expect(self.get(p + "k"), 404, "KEY_NOT_FOUND")
        self.expect(self.get(p + "k2"), 404, "KEY_NOT_FOUND")

    def test_unknown_members_ignored(self):
        p = uniq("um")
        self.expect_json(self.req("POST", "set", {"key": p + "k", "value": "v",
                                                  "extra": [1, {"x": None}], "ttl": 5}), {})
        self.expect_json(self.get(p + "k"), {"data": "v"})

    # -- delete -------------------------------------------------------

    def test_delete(self):
        p = uniq("del")
        self.expect_json(self.set(p + "a", "1"), {})
        self.expect_json(self.req("POST", "delete", {"key": p + "a"}), {})
        self.expect(self.get(p + "a"), 404, "KEY_NOT_FOUND")
        # absent key: still {}
        self.expect_json(self.req("POST", "delete", {"key": p + "a"}), {})
        # DELETE with an empty body takes the key from the query
        self.expect_json(self.set(p + "b c", "2"), {})
        self.expect_json(self.req("DELETE", "delete", query={"key": p + "b c"}), {})
        self.expect(self.get(p + "b c"), 404, "KEY_NOT_FOUND")
        # DELETE with a body uses the body
        self.expect_json(self.set(p + "d", "3"), {})
        self.expect_json(self.req("DELETE", "delete", {"key": p + "d"}), {})
        self.expect(self.get(p + "d"), 404, "KEY_NOT_FOUND")
        # POST needs its body
        self.expect(self.req("POST", "delete", b"", query={"key": p + "x"}), 400,
                    "BAD_REQUEST")
        self.expect(self.req("DELETE", "delete"), 400, "BAD_REQUEST", names="key")
        self.expect(self.req("POST", "delete", {"key": "k" * 4097}), 413,
                    "PAYLOAD_TOO_LARGE", names="key")

    # -- setnx / cas --------------------------------------------------

    def test_setnx(self):
        p = uniq("nx")
        self.expect_json(self.req("POST", "setnx", {"key": p + "k", "value": "first"}), {})
        self.expect_json(self.get(p + "k"), {"data": "first"})
        self.expect(self.req("POST", "setnx", {"key": p + "k", "value": "second"}), 409,
                    "KEY_EXISTS")
        self.expect_json(self.get(p + "k"), {"data": "first"})
        # an empty stored value still exists
        self.expect_json(self.set(p + "e", ""), {})
        self.expect(self.req("POST", "setnx", {"key": p + "e", "value": "x"}), 409,
                    "KEY_EXISTS")
        # after delete it can be created again
        self.expect_json(self.req("POST", "delete", {"key": p + "k"}), {})
        self.expect_json(self.req("POST", "setnx", {"key": p + "k", "value": "third"}), {})
        self.expect_json(self.get(p + "k"), {"data": "third"})

    def test_cas(self):
        p = uniq("cas")
        cas = lambda k, o, n: self.req("POST", "cas",  # noqa: E731
                                       {"key": k, "old_value": o, "new_value": n})
        self.expect(cas(p + "absent", "a", "b"), 412, "PRECONDITION_FAILED")
        self.expect(self.get(p + "absent"), 404, "KEY_NOT_FOUND")
        self.expect_json(self.set(p + "k", "one"), {})
        self.expect(cas(p + "k", "One", "two"), 409, "CAS_CONFLICT")
        self.expect(cas(p + "k", "one ", "two"), 409, "CAS_CONFLICT")
        self.expect_json(self.get(p + "k"), {"data": "one"})
        self.expect_json(cas(p + "k", "one", "two"), {})
        self.expect_json(self.get(p + "k"), {"data": "two"})
        self.expect(cas(p + "k", "one", "three"), 409, "CAS_CONFLICT")
        # empty values compare too
        self.expect_json(cas(p + "k", "two", ""), {})
        self.expect_json(cas(p + "k", "", "four"), {})
        self.expect_json(self.get(p + "k"), {"data": "four"})
        self.expect(cas(p + "k", "four", "x" * (MAX_VALUE + 1)), 413, "PAYLOAD_TOO_LARGE",
                    names="new_value")
        self.expect(cas(p + "k", "x" * (MAX_VALUE + 1), "y"), 413, "PAYLOAD_TOO_LARGE",
                    names="old_value")
        self.expect_json(self.get(p + "k"), {"data": "four"})

    # -- bump ---------------------------------------------------------

    def bump(self, key, delta):
        return self.req("POST", "bump", {"key": key, "value": delta})

    def test_bump(self):
        p = uniq("bump")
        k = p + "n"
        self.expect_json(self.bump(k, "5"), {"data": "5"})
        self.expect_json(self.bump(k, 3), {"data": "8"})
        self.expect_json(self.bump(k, "-3"), {"data": "5"})
        self.expect_json(self.get(k), {"data": "5"})
        # floored at 0
        self.expect_json(self.bump(k, "-100"), {"data": "0"})
        self.expect_json(self.get(k), {"data": "0"})
        self.expect_json(self.bump(k, -7), {"data": "0"})
        # canonical output from non-canonical stored integers
        for stored, delta, result in (("007", "0", "7"), ("+12", "1", "13"),
                                      ("-5", "2", "0"), ("-0", "0", "0"),
                                      ("", "4", "4"), ("00", 0, "0")):
            self.expect_json(self.set(k, stored), {})
            self.expect_json(self.bump(k, delta), {"data": result},
                             "stored %r delta %r: " % (stored, delta))
            self.expect_json(self.get(k), {"data": result})
        # the largest value
        self.expect_json(self.set(k, str(INT64_MAX - 1)), {})
        self.expect_json(self.bump(k, 1), {"data": str(INT64_MAX)})

    def test_bump_errors(self):
        p = uniq("bumpe")
        k = p + "n"
        self.expect_json(self.set(k, "10"), {})
        for delta in ("abc", "1.5", "", "1e3", " ", "0x10", 1.5, 1e3, True, None, [1]):
            body = {"key": k, "value": delta}
            self.expect(self.req("POST", "bump", body), 400, "BAD_REQUEST",
                        msg="delta %r: " % (delta,))
        # a JSON number with an exponent or fraction is not an integer
        for raw in ('{"key":"%s","value":1.0}', '{"key":"%s","value":1e2}'):
            self.expect(self.req("POST", "bump", raw % k), 400, "BAD_REQUEST",
                        names="value")
        # delta outside int64
        self.expect(self.bump(k, str(INT64_MAX + 1)), 400, "BAD_REQUEST")
        self.expect(self.req("POST", "bump", '{"key":"%s","value":%d}' % (k, INT64_MAX + 1)),
                    400, "BAD_REQUEST", names="value")
        self.expect_json(self.get(k), {"data": "10"})
        # stored value not an integer
        for stored in ("abc", "1.5", " 1", "1 ", "--1", "9223372036854775808"):
            self.expect_json(self.set(k, stored), {})
            self.expect(self.bump(k, "1"), 400, "BAD_REQUEST", msg="stored %r: " % stored)
            self.expect_json(self.get(k), {"data": stored})
        # overflow either way
        self.expect_json(self.set(k, str(INT64_MAX)), {})
        self.expect(self.bump(k, "1"), 400, "BAD_REQUEST")
        self.expect_json(self.get(k), {"data": str(INT64_MAX)})
        self.expect_json(self.set(k, "-9223372036854775808"), {})
        self.expect(self.bump(k, "-1"), 400, "BAD_REQUEST")
        self.expect_json(self.get(k), {"data": "-9223372036854775808"})

    # -- iterate ------------------------------------------------------

    def iterate(self, query):
        return self.req("GET", "iterate/prefix", query=query)

    def test_iterate_order_offset_limit(self):
        p = uniq("it")
        names = ["b", "a", "B", "aa", "a*x", "é", "~", "😀", "ab", "a b", "Z"]
        keys = [p + n for n in names]
        for k in keys:
            self.expect_json(self.set(k, "v"), {})
        want = sorted(keys, key=lambda s: s.encode("utf-8"))
        self.expect_json(self.iterate({"prefix": p}), {"data": want})
        self.expect_json(self.iterate({"prefix": p, "offset": 2, "limit": 3}),
                         {"data": want[2:5]})
        self.expect_json(self.iterate({"prefix": p, "offset": 10}), {"data": want[10:]})
        self.expect_json(self.iterate({"prefix": p, "offset": 11}), {"data": []})
        self.expect_json(self.iterate({"prefix": p, "offset": 1000}), {"data": []})
        self.expect_json(self.iterate({"prefix": p, "limit": 1}), {"data": want[:1]})
        # one trailing * is removed
        self.expect_json(self.iterate({"prefix": p + "a*"}),
                         {"data": [k for k in want if k.startswith(p + "a")]})
        self.expect_json(self.iterate({"prefix": p + "a**"}), {"data": [p + "a*x"]})
        self.expect_json(self.iterate({"prefix": p + "a"}),
                         {"data": [k for k in want if k.startswith(p + "a")]})
        self.expect_json(self.iterate({"prefix": p + "nothing"}), {"data": []})
        # a deleted key disappears
        self.expect_json(self.req("POST", "delete", {"key": p + "aa"}), {})
        want.remove(p + "aa")
        self.expect_json(self.iterate({"prefix": p}), {"data": want})

    def test_iterate_default_limit(self):
        p = uniq("itd")
        keys = [p + "%04d" % i for i in range(105)]
        with Conn(self.node.public) as c:
            for k in keys:
                raw_body = json.dumps({"key": k, "value": ""})
                r = c.request("POST", path_for("set"), raw_body,
                              self.node.auth_headers(True))
                self.expect_json(r, {})
        self.expect_json(self.iterate({"prefix": p}), {"data": keys[:100]})
        self.expect_json(self.iterate({"prefix": p, "offset": 100}), {"data": keys[100:]})
        self.expect_json(self.iterate({"prefix": p, "limit": 1000}), {"data": keys})

    def test_iterate_limit_cap(self):
        p = uniq("itc")
        keys = [p + "%05d" % i for i in range(1003)]
        with Conn(self.node.public) as c:
            # pipelined in batches of 50 to keep it quick
            for i in range(0, len(keys), 50):
                batch = keys[i:i + 50]
                for k in batch:
                    c.send(build_request("POST", path_for("set"),
                                         json.dumps({"key": k, "value": ""}).encode(),
                                         self.node.auth_headers(True)))
                for k in batch:
                    self.expect_json(c.read_response(), {}, "set %r: " % k)
        self.expect_json(self.iterate({"prefix": p, "limit": 5000}), {"data": keys[:1000]})
        self.expect_json(self.iterate({"prefix": p, "limit": 1001, "offset": 2}),
                         {"data": keys[2:1002]})

    def test_iterate_empty_prefix_is_all(self):
        first = "\u0001first-" + os.urandom(3).hex()
        self.expect_json(self.set(first, "v"), {})
        r = self.iterate({"limit": 1000})
        self.expect(r, 200)
        data = r.json()["data"]
        self.assertIn(first, data, r.describe())
        self.assertEqual(data, sorted(data, key=lambda s: s.encode()), r.describe())
        self.assertEqual(len(data), len(set(data)), r.describe())
        r = self.iterate({"prefix": "*", "limit": 1000})
        self.assertIn(first, r.json()["data"], r.describe())
        self.expect_json(self.req("POST", "delete", {"key": first}), {})

    def test_iterate_errors(self):
        p = uniq("ite")
        for off in ("-1", "abc", "+1", " 1", "1.0", "1e2", "", "99999999999999999999"):
            r = self.req("GET", "iterate/prefix",
                         query="prefix=%s&offset=%s" % (p, off.replace(" ", "%20")))
            self.expect(r, 400, "BAD_REQUEST", names="offset", msg="offset %r: " % off)
        for lim in ("0", "-5", "x", "1.5", ""):
            r = self.req("GET", "iterate/prefix", query="prefix=%s&limit=%s" % (p, lim))
            self.expect(r, 400, "BAD_REQUEST", names="limit", msg="limit %r: " % lim)
        self.expect(self.iterate({"prefix": "p" * 4097}), 413, "PAYLOAD_TOO_LARGE",
                    names="prefix")
        self.expect(self.req("GET", "iterate/prefix", query="prefix=a%00"), 400,
                    "BAD_REQUEST", names="prefix")
        # 4096 bytes is fine
        self.expect_json(self.iterate({"prefix": "p" * 4096}), {"data": []})

    # -- consistency --------------------------------------------------

    def test_consistency_parameter(self):
        p = uniq("cons")
        self.expect_json(self.set(p + "k", "v"), {})
        for route, q in (("get", {"key": p + "k"}), ("iterate/prefix", {"prefix": p})):
            r = self.req("GET", route, query=dict(q, consistency="bogus"))
            self.expect(r, 400, "BAD_REQUEST", names="consistency")
            r = self.req("GET", route, query=dict(q, consistency="LINEARIZABLE"))
            self.expect(r, 400, "BAD_REQUEST", names="consistency")
            for mode in (None, "default"):
                qq = dict(q) if mode is None else dict(q, consistency=mode)
                r = self.req("GET", route, query=qq)
                self.expect(r, 200)
                self.assertIn(r.header("X-Insidb-Consistency"), ("linearizable", "local"),
                              "X-Insidb-Consistency missing or wrong" + r.describe())
            r = self.req("GET", route, query=dict(q, consistency="linearizable"))
            self.expect(r, 200)
            self.assertEqual(r.header("X-Insidb-Consistency"), "linearizable", r.describe())
        # the single node leads, so a linearizable read sees the write
        self.expect_json(self.req("GET", "get", query={"key": p + "k",
                                                       "consistency": "linearizable"}),
                         {"data": "v"})

    # -- accounting (§7.1) and root limits (§15.2) ----------------------

    def usage(self):
        r = self.req("GET", "limits", query={"consistency": "linearizable"})
        self.expect(r, 200)
        doc = r.json()
        self.assertEqual(doc.get("max_limits"), {}, "root has no limits" + r.describe())
        self.assertEqual(sorted(doc.get("usage", {})),
                         sorted(["bytes_on_disk", "bytes_in_memory", "events_emitted",
                                 "subscribers"]), r.describe())
        return doc["usage"]["bytes_on_disk"]

    def test_usage_accounting(self):
        p = uniq("acct")
        k = p + "ké"                    # lengths count UTF-8 bytes
        klen = len(k.encode())
        base = self.usage()
        self.expect_json(self.set(k, "12345"), {})
        self.assertEqual(self.usage() - base, klen + 5, "set creating a key")
        self.expect_json(self.set(k, "1234567890"), {})
        self.assertEqual(self.usage() - base, klen + 10, "set replacing a value")
        self.expect_json(self.req("POST", "cas", {"key": k, "old_value": "1234567890",
                                                  "new_value": "€"}), {})
        self.assertEqual(self.usage() - base, klen + 3, "cas")
        self.expect(self.req("POST", "cas", {"key": k, "old_value": "x", "new_value": "yy"}),
                    409, "CAS_CONFLICT")
        self.assertEqual(self.usage() - base, klen + 3, "a refused cas changes nothing")
        self.expect(self.req("POST", "setnx", {"key": k, "value": "long value"}), 409,
                    "KEY_EXISTS")
        self.assertEqual(self.usage() - base, klen + 3, "a refused setnx changes nothing")
        self.expect_json(self.req("POST", "bump", {"key": p + "n", "value": "123"}),
                         {"data": "123"})
        self.assertEqual(self.usage() - base, klen + 3 + len(p) + 1 + 3, "bump creating")
        self.expect_json(self.req("POST", "bump", {"key": p + "n", "value": "-120"}),
                         {"data": "3"})
        self.assertEqual(self.usage() - base, klen + 3 + len(p) + 1 + 1, "bump replacing")
        self.expect_json(self.req("POST", "delete", {"key": k}), {})
        self.expect_json(self.req("POST", "delete", {"key": p + "n"}), {})
        self.assertEqual(self.usage(), base, "delete gives everything back")
        self.expect_json(self.req("POST", "delete", {"key": k}), {})
        self.assertEqual(self.usage(), base, "deleting an absent key")
