"""A catalogue of malformed requests (API.md §2.1-§2.6, §2.8): each gets the
4xx the spec names, or a timely close; afterwards no daemon restarted and
the data written before is intact."""

import json
import signal
import socket
import time

import harness
from harness import NodeTestCase, Conn, ProtocolError

CLOSE = "close"             # the server closes, with or without a 400 first
SLOW_HEAD_LIMIT = 10        # §2.1: the head must arrive within 10 s


def raw_request(method, path, body=None, headers=(), root=None, cl=True):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1"]
    if root is not None:
        lines.append("Authorization: Bearer " + root)
    lines += ["%s: %s" % kv for kv in headers]
    if body is not None and cl:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


class Case:
    """raw bytes to send (or a callable of the node giving them), and what
    must come back: a status with an error_type and a named field, or a
    close (a 400 before the close is allowed)"""

    def __init__(self, name, raw, status, error_type=None, names=None,
                 binding="public", shut=False, within=5.0):
        self.name = name
        self.raw = raw
        self.status = status
        self.error_type = error_type
        self.names = names
        self.binding = binding
        self.shut = shut
        self.within = within


def jset(body):
    """a set request with a raw JSON body"""
    return lambda n: raw_request("POST", "/db/api/v1/set", body, root=n.root_key)


def jentities(body):
    return lambda n: raw_request("POST", "/db/api/v1/admin/insight/entities",
                                 body, root=n.root_key)


def qget(query, route="get"):
    return lambda n: raw_request("GET", "/db/api/v1/%s?%s" % (route, query),
                                 root=n.root_key)


def raw(data):
    return lambda n: data


def chunked_set(chunks):
    return lambda n: raw_request(
        "POST", "/db/api/v1/set", root=n.root_key,
        headers=[("Transfer-Encoding", "chunked")]) + chunks


BAD = "BAD_REQUEST"
PING = b"GET /db/api/v1/ping HTTP/1.1\r\nHost: x\r\n"

CATALOGUE = [
    # JSON bodies (§2.5): wrong types name the member
    Case("key_number", jset(b'{"key":1,"value":"v"}'), 400, BAD, "key"),
    Case("key_bool", jset(b'{"key":true,"value":"v"}'), 400, BAD, "key"),
    Case("key_null_is_absent", jset(b'{"key":null,"value":"v"}'), 400, BAD, "key"),
    Case("key_huge_number", jset(b'{"key":1e999,"value":"v"}'), 400, BAD, "key"),
    Case("value_number", jset(b'{"key":"k","value":12}'), 400, BAD, "value"),
    Case("value_array", jset(b'{"key":"k","value":["v"]}'), 400, BAD, "value"),
    Case("value_object", jset(b'{"key":"k","value":{"a":"b"}}'), 400, BAD, "value"),
    Case("body_array", jset(b'[{"key":"k","value":"v"}]'), 400, BAD),
    Case("body_string", jset(b'"key"'), 400, BAD),
    Case("body_number", jset(b'123'), 400, BAD),
    Case("body_empty", jset(b''), 400, BAD),
    Case("body_whitespace", jset(b'   \r\n'), 400, BAD),
    Case("trailing_garbage", jset(b'{"key":"k","value":"v"} x'), 400, BAD),
    Case("two_objects", jset(b'{"key":"k","value":"v"}{}'), 400, BAD),
    Case("unterminated", jset(b'{"key":"k","value":"v"'), 400, BAD),
    Case("trailing_comma", jset(b'{"key":"k","value":"v",}'), 400, BAD),
    Case("single_quotes", jset(b"{'key':'k','value':'v'}"), 400, BAD),
    Case("comment", jset(b'{"key":"k",/* c */"value":"v"}'), 400, BAD),
    Case("nan_literal", jset(b'{"key":"k","value":"v","n":NaN}'), 400, BAD),
    Case("duplicate_key", jset(b'{"key":"a","key":"b","value":"v"}'), 400, BAD, "key"),
    Case("duplicate_value", jset(b'{"key":"a","value":"v","value":"w"}'), 400, BAD, "value"),
    Case("duplicate_escaped_spelling",
         jset(b'{"key":"a","k\\u0065y":"b","value":"v"}'), 400, BAD, "key"),
    Case("duplicate_unknown_member", jset(b'{"key":"a","value":"v","x":1,"x":2}'), 400, BAD),
    Case("invalid_utf8_value", jset(b'{"key":"k","value":"\xff"}'), 400, BAD),
    Case("invalid_utf8_overlong_key", jset(b'{"key":"\xc0\xaf","value":"v"}'), 400, BAD),
    Case("invalid_utf8_surrogate_bytes", jset(b'{"key":"\xed\xa0\x80","value":"v"}'), 400, BAD),
    Case("invalid_utf8_member_name", jset(b'{"key":"k","value":"v","\xfe":1}'), 400, BAD),
    Case("nul_key_escaped", jset(b'{"key":"\\u0000","value":"v"}'), 400, BAD, "key"),
    Case("nul_inside_key_escaped", jset(b'{"key":"a\\u0000b","value":"v"}'), 400, BAD, "key"),
    Case("raw_control_char_in_string", jset(b'{"key":"a\x01b","value":"v"}'), 400, BAD),
    Case("int_member_overflow", jentities(b'{"offset":99999999999999999999,"limit":1}'),
         400, BAD, "offset", binding="private"),
    Case("int_member_negative_overflow",
         jentities(b'{"offset":0,"limit":-99999999999999999999}'),
         400, BAD, "limit", binding="private"),
    Case("int_member_fraction", jentities(b'{"offset":1.0,"limit":1}'), 400, BAD, "offset",
         binding="private"),
    Case("int_member_exponent", jentities(b'{"offset":1e2,"limit":1}'), 400, BAD, "offset",
         binding="private"),
    Case("int_member_string", jentities(b'{"offset":"1","limit":1}'), 400, BAD, "offset",
         binding="private"),
    # query strings (§2.4, §2.6)
    Case("query_nul", qget("key=%00"), 400, BAD, "key"),
    Case("query_nul_inside", qget("key=a%00b"), 400, BAD, "key"),
    Case("query_invalid_utf8", qget("key=%FF"), 400, BAD, "key"),
    Case("query_overlong_utf8", qget("key=%C0%AF"), 400, BAD, "key"),
    Case("query_bad_escape_hex", qget("key=%G1"), 400, BAD, "key"),
    Case("query_escape_truncated", qget("key=abc%"), 400, BAD, "key"),
    Case("query_escape_one_digit", qget("key=%2"), 400, BAD, "key"),
    Case("query_key_empty", qget("key="), 400, BAD, "key"),
    Case("query_int_plus", qget("prefix=a&offset=%2B1", "iterate/prefix"), 400, BAD, "offset"),
    Case("query_int_plus_is_space", qget("prefix=a&offset=1+", "iterate/prefix"), 400, BAD,
         "offset"),
    Case("query_int_leading_space", qget("prefix=a&offset=%201", "iterate/prefix"), 400, BAD,
         "offset"),
    Case("query_int_overflow", qget("prefix=a&offset=99999999999999999999", "iterate/prefix"),
         400, BAD, "offset"),
    Case("query_int_just_over_int64", qget("prefix=a&limit=9223372036854775808",
                                           "iterate/prefix"), 400, BAD, "limit"),
    Case("query_int_fraction", qget("prefix=a&offset=1.5", "iterate/prefix"), 400, BAD, "offset"),
    Case("query_int_hex", qget("prefix=a&offset=0x10", "iterate/prefix"), 400, BAD, "offset"),
    Case("query_int_empty", qget("prefix=a&limit=", "iterate/prefix"), 400, BAD, "limit"),
    Case("query_prefix_nul", qget("prefix=%00", "iterate/prefix"), 400, BAD, "prefix"),
    # body sizes and framing (§2.5, RFC 9112 §6)
    Case("content_length_over_limit",
         lambda n: raw_request("POST", "/db/api/v1/set", root=n.root_key,
                               headers=[("Content-Length", "3000000")]),
         413, "PAYLOAD_TOO_LARGE"),
    Case("content_length_huge",
         lambda n: raw_request("POST", "/db/api/v1/set", root=n.root_key,
                               headers=[("Content-Length", "9223372036854775807")]),
         413, "PAYLOAD_TOO_LARGE"),
    Case("chunked_over_limit",
         chunked_set(b"".join(b"10000\r\n" + b"a" * 0x10000 + b"\r\n" for _ in range(40))
                     + b"0\r\n\r\n"), 413, "PAYLOAD_TOO_LARGE"),
    Case("content_length_overflow",
         lambda n: raw_request("POST", "/db/api/v1/set", root=n.root_key,
                               headers=[("Content-Length", "99999999999999999999")]),
         400, BAD),
    Case("content_length_negative",
         lambda n: raw_request("POST", "/db/api/v1/set", b"{}", root=n.root_key, cl=False,
                               headers=[("Content-Length", "-2")]), 400, BAD),
    Case("content_length_not_digits",
         lambda n: raw_request("POST", "/db/api/v1/set", b"{}", root=n.root_key, cl=False,
                               headers=[("Content-Length", "2x")]), 400, BAD),
    Case("content_length_twice_different",
         lambda n: raw_request("POST", "/db/api/v1/set", b"{}", root=n.root_key, cl=False,
                               headers=[("Content-Length", "2"), ("Content-Length", "3")]),
         400, BAD),
    Case("content_length_and_chunked",
         lambda n: raw_request("POST", "/db/api/v1/set", root=n.root_key,
                               headers=[("Content-Length", "5"),
                                        ("Transfer-Encoding", "chunked")])
         + b"0\r\n\r\n", 400, BAD),
    Case("truncated_body_then_close",
         lambda n: raw_request("POST", "/db/api/v1/set", root=n.root_key,
                               headers=[("Content-Length", "100")]) + b'{"key":"k"',
         CLOSE, shut=True),
    Case("chunk_size_not_hex", chunked_set(b"zz\r\nab\r\n0\r\n\r\n"), 400, BAD),
    Case("chunk_size_overflow", chunked_set(b"fffffffffffffffffffff\r\nab\r\n0\r\n\r\n"),
         400, BAD),
    Case("chunk_missing_crlf", chunked_set(b"2\r\n{}XX0\r\n\r\n"), 400, BAD),
    Case("chunk_extension_flood",
         chunked_set(b"2;" + b"e" * (1 << 20) + b"\r\n{}\r\n0\r\n\r\n"), CLOSE, within=10),
    Case("chunked_then_close", chunked_set(b"5\r\n{\"key"), CLOSE, shut=True),
    # the head (§2.1, §2.2 step 1)
    Case("one_giant_header", raw(PING + b"X-Big: " + b"a" * 40000 + b"\r\n\r\n"),
         431, "HEADERS_TOO_LARGE"),
    Case("header_flood_over_32k", raw(PING + b"X-A: b\r\n" * 6000 + b"\r\n"),
         431, "HEADERS_TOO_LARGE"),
    Case("long_target_over_32k",
         raw(b"GET /db/api/v1/ping?x=" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
         431, "HEADERS_TOO_LARGE"),
    Case("endless_header_no_end", raw(PING + b"X-A: " + b"b" * 70000), 431,
         "HEADERS_TOO_LARGE"),
    Case("header_without_colon", raw(PING + b"NoColonHere\r\n\r\n"), 400, BAD),
    Case("header_name_with_space", raw(PING + b"Bad Name: x\r\n\r\n"), 400, BAD),
    Case("header_space_before_colon", raw(PING + b"X-A : x\r\n\r\n"), 400, BAD),
    Case("header_name_empty", raw(PING + b": x\r\n\r\n"), 400, BAD),
    Case("nul_in_header_value", raw(PING + b"X-A: a\x00b\r\n\r\n"), 400, BAD),
    Case("nul_in_request_line", raw(b"GET /db/api/v1/pi\x00ng HTTP/1.1\r\nHost: x\r\n\r\n"),
         400, BAD),
    Case("request_line_no_target", raw(b"GET\r\nHost: x\r\n\r\n"), 400, BAD),
    Case("request_line_extra_token",
         raw(b"GET /db/api/v1/ping HTTP/1.1 extra\r\nHost: x\r\n\r\n"), 400, BAD),
    Case("request_line_bad_version", raw(b"GET /db/api/v1/ping HXXP/1.1\r\nHost: x\r\n\r\n"),
         400, BAD),
    Case("request_line_lower_http", raw(b"GET /db/api/v1/ping http/1.1\r\nHost: x\r\n\r\n"),
         400, BAD),
    Case("http_version_9", raw(b"GET /db/api/v1/ping HTTP/9.9\r\nHost: x\r\n\r\n"), 400, BAD),
    Case("http_0_9", raw(b"GET /db/api/v1/ping\r\n\r\n"), CLOSE),
    Case("http2_preface", raw(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), CLOSE),
    Case("binary_garbage", raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64),
         CLOSE),
    Case("method_unknown", raw(b"FOO /db/api/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n"), 400, BAD),
    Case("method_lower_case", raw(b"get /db/api/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n"), 400, BAD),
    Case("method_bad_chars", raw(b"G@T /db/api/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n"), 400, BAD),
    Case("method_put", raw(b"PUT /db/api/v1/ping HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: 0\r\n\r\n"), 405, "METHOD_NOT_ALLOWED"),
    Case("method_options", raw(b"OPTIONS /db/api/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n"),
         405, "METHOD_NOT_ALLOWED"),
    Case("asterisk_form", raw(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"), 404, "NOT_FOUND"),
    Case("trailing_slash_path", raw(b"GET /db/api/v1/ping/ HTTP/1.1\r\nHost: x\r\n\r\n"),
         404, "NOT_FOUND"),
    Case("upper_case_path", raw(b"GET /DB/API/V1/PING HTTP/1.1\r\nHost: x\r\n\r\n"),
         404, "NOT_FOUND"),
]


class MalformedRequests(NodeTestCase):
    node_tag = "malformed"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        n = cls.node
        cls.before = {}
        for i in range(5):
            key, value = "keep/%d" % i, "value \u00e9 %d" % i
            r = n.request("POST", "set", {"key": key, "value": value})
            assert r.status == 200, r.describe()
            cls.before[key] = value
        cls.pids = n.all_pids()
        assert len(cls.pids) >= 3, cls.pids

    def exchange(self, case):
        """(response or None when closed without one, seconds, closed after)"""
        data = case.raw(self.node) if callable(case.raw) else case.raw
        c = Conn(self.node.port_of(case.binding), timeout=case.within + 5)
        t0 = time.monotonic()
        try:
            try:
                c.send(data)
                if case.shut:
                    c.sock.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                resp = c.read_response(head=data.startswith(b"HEAD "))
            except (ProtocolError, ConnectionResetError):
                resp = None
            except socket.timeout:
                self.fail("%s: no answer and no close within %.0f s"
                          % (case.name, harness.scaled(case.within + 5)))
            closed = resp is None or self.closes(c, resp)
            return resp, time.monotonic() - t0, closed
        finally:
            c.close()

    def closes(self, c, resp):
        """the connection is closed after this response"""
        if (resp.header("Connection") or "").lower() != "close":
            return False
        c.sock.settimeout(harness.scaled(5))
        try:
            return c.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def run_case(self, case):
        resp, secs, closed = self.exchange(case)
        self.assertLessEqual(secs, harness.scaled(case.within),
                             "%s: took %.1f s" % (case.name, secs))
        if case.status == CLOSE:
            if resp is not None:
                self.expect(resp, 400, BAD, msg=case.name + ": ")
                self.assertTrue(closed, case.name + ": not closed after the 400"
                                + resp.describe())
            return
        self.assertIsNotNone(resp, "%s: closed without an answer" % case.name)
        self.expect(resp, case.status, case.error_type, case.names, msg=case.name + ": ")
        self.assertEqual(resp.header("X-Insidb-Node"), "node0", resp.describe())

    def test_zz_daemons_and_data_survive(self):
        """runs after the catalogue (tests run in definition order)"""
        self.assertEqual(self.node.all_pids(), self.pids,
                         "a daemon restarted during the catalogue; log:\n"
                         + self.node.log_tail())
        for key, value in self.before.items():
            r = self.get(key)
            self.assertEqual(r.status, 200, r.describe())
            self.assertEqual(r.json(), {"data": value}, r.describe())
        self.expect(self.req("GET", "ping"), 200)

    def test_keep_alive_after_body_errors(self):
        """a JSON error leaves the connection usable (pipelined)"""
        with self.node.conn() as c:
            for body in (b'{"key":1}', b'{"key":"a","key":"b"}', b"[]"):
                c.send(raw_request("POST", "/db/api/v1/set", body, root=self.node.root_key))
            c.send(raw_request("GET", "/db/api/v1/ping", root=self.node.root_key))
            for _ in range(3):
                self.expect(c.read_response(), 400, BAD)
            self.expect(c.read_response(), 200)

    def test_many_small_headers_under_limit(self):
        """2000 headers in 20 KiB is a legal head"""
        data = PING + b"Authorization: Bearer %s\r\n" % self.node.root_key.encode() \
            + b"".join(b"X-H%d: v\r\n" % i for i in range(2000)) + b"\r\n"
        self.assertLess(len(data), 32 * 1024)
        with self.node.conn() as c:
            c.send(data)
            self.expect(c.read_response(), 200)

    def test_absolute_form_target(self):
        """RFC 9112 §3.2.2: a server MUST accept the absolute form"""
        with self.node.conn() as c:
            c.send(b"GET http://127.0.0.1:%d/db/api/v1/ping HTTP/1.1\r\nHost: x\r\n"
                   b"Authorization: Bearer %s\r\n\r\n"
                   % (self.node.public, self.node.root_key.encode()))
            r = c.read_response()
            self.expect(r, 200)
            self.assertEqual(r.json().get("entity"), "root", r.describe())

    def test_slow_head_is_closed(self):
        """§2.1: the head must arrive within 10 s of its first byte"""
        c = Conn(self.node.public, timeout=30)
        try:
            c.sock.sendall(PING)
            t0 = time.monotonic()
            closed_at = None
            while time.monotonic() - t0 < harness.scaled(SLOW_HEAD_LIMIT + 8):
                try:
                    c.sock.sendall(b"X-Slow: a\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    closed_at = time.monotonic() - t0
                    break
                c.sock.settimeout(1.0)
                try:
                    got = c.sock.recv(4096)
                except socket.timeout:
                    continue
                except ConnectionResetError:
                    got = b""
                if got == b"":
                    closed_at = time.monotonic() - t0
                    break
                # a 408 or 400 before the close is fine; wait for the close
                self.assertRegex(got, rb"^HTTP/1\.1 4\d\d ", got[:200])
            self.assertIsNotNone(closed_at, "a head dribbled for %.0f s was not closed"
                                 % harness.scaled(SLOW_HEAD_LIMIT + 8))
            self.assertGreaterEqual(closed_at, SLOW_HEAD_LIMIT - 1.5,
                                    "closed after %.1f s" % closed_at)
            self.assertLessEqual(closed_at, harness.scaled(SLOW_HEAD_LIMIT + 3),
                                 "closed after %.1f s" % closed_at)
        finally:
            c.close()


def _make(case):
    def test(self):
        self.run_case(case)
    test.__doc__ = case.name
    return test


assert len(CATALOGUE) >= 50, len(CATALOGUE)
assert len({c.name for c in CATALOGUE}) == len(CATALOGUE)
for _i, _case in enumerate(CATALOGUE):
    setattr(MalformedRequests, "test_%03d_%s" % (_i, _case.name), _make(_case))
# the survival check stays last
_survive = MalformedRequests.test_zz_daemons_and_data_survive
del MalformedRequests.test_zz_daemons_and_data_survive
MalformedRequests.test_zz_daemons_and_data_survive = _survive


class ShuttingDown(NodeTestCase):
    """§2.8: a request whose head completes while the node stops gets 503
    SHUTTING_DOWN with Connection: close, on any route"""
    node_tag = "stopping"

    def test_requests_completed_while_stopping(self):
        root = self.node.root_key
        reqs = (raw_request("GET", "/db/api/v1/ping", root=root),
                raw_request("POST", "/db/api/v1/set", b'{"key":"k","value":"v"}', root=root),
                raw_request("GET", "/db/api/v1/nope", root=root))
        conns = []
        try:
            for raw in reqs:
                c = Conn(self.node.public, timeout=10)
                conns.append(c)
                # all but the blank line that ends the head
                cut = raw.index(b"\r\n\r\n") + 2
                c.sent.append(raw)
                c.sock.sendall(raw[:cut])
            time.sleep(0.2)
            self.node.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            for c in conns:
                raw = c.sent[0]
                cut = raw.index(b"\r\n\r\n") + 2
                c.sock.sendall(raw[cut:])
            for c in conns:
                r = c.read_response()
                self.expect(r, 503, "SHUTTING_DOWN")
                self.assertEqual((r.header("Connection") or "").lower(), "close",
                                 r.describe())
                self.assertEqual(c.sock.recv(1), b"", "open after the 503")
        finally:
            for c in conns:
                c.close()
        self.assertEqual(self.node.proc.wait(harness.scaled(20)), 0)
