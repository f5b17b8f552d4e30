"""API.md §14 events: publish (body checks, 200 {} after apply, the
events_emitted quota of §7.3 with X-Current-Events, X-Events-Limit and
Retry-After; root counted but never limited), the events/subscribe
handshake in the order of §14.2, frames of §14.3 on a real WebSocket
(RFC 6455 framing written here over a socket), scope and topic
isolation, close 1009 on an oversized client message, and delivery of
every event in publish order on each node of a three-node cluster."""

import base64
import hashlib
import json
import os
import re
import socket
import struct
import time
import urllib.parse

from harness import API, ClusterTestCase, NodeTestCase, scaled, wait_for

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$")


class WSClosed(Exception):
    def __init__(self, code):
        super().__init__("closed with %r" % code)
        self.code = code


class WS:
    """a minimal RFC 6455 client: handshake, masked frames, text and close"""

    def __init__(self, port, topic, auth=None, token=None, headers=None,
                 version="13", timeout=10, raw_plus=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.key = base64.b64encode(os.urandom(16)).decode()
        q = {}
        if topic is not None:
            q["topic"] = topic
        if token is not None:
            q["token"] = token
        path = API + "events/subscribe"
        if q:
            path += "?" + urllib.parse.urlencode(q, quote_via=urllib.parse.quote)
        if raw_plus:
            # as a browser form would send it: '+' unescaped
            path = path.replace("%2B", "+")
        hdrs = {"Host": "127.0.0.1", "Upgrade": "websocket",
                "Connection": "Upgrade", "Sec-WebSocket-Key": self.key,
                "Sec-WebSocket-Version": version}
        if auth is not None:
            hdrs["Authorization"] = auth
        for k, v in (headers or {}).items():
            if v is None:
                hdrs.pop(k, None)
            else:
                hdrs[k] = v
        req = "GET %s HTTP/1.1\r\n" % path
        req += "".join("%s: %s\r\n" % kv for kv in hdrs.items()) + "\r\n"
        self.sock.sendall(req.encode())
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for ln in lines[1:]:
            k, v = ln.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()
        self.body = b""
        if self.status != 101:
            n = int(self.headers.get("content-length", "0"))
            while len(self.buf) < n:
                self._more()
            self.body = self.buf[:n]

    def json(self):
        return json.loads(self.body)

    def _more(self):
        d = self.sock.recv(65536)
        if not d:
            raise WSClosed(None)
        self.buf += d

    def _need(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send_frame(self, opcode, payload):
        hdr = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(hdr + mask + body)

    def recv_frame(self):
        b0, b1 = self._need(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._need(8))[0]
        if b1 & 0x80:
            raise AssertionError("a server frame is masked")
        return b0 & 0x80, b0 & 0x0F, self._need(n)

    def recv_text(self):
        """the next text frame; pings are answered, a close raises"""
        while True:
            fin, op, payload = self.recv_frame()
            if op == 0x1:
                if not fin:
                    raise AssertionError("a fragmented frame")
                return payload.decode()
            if op == 0x9:
                self.send_frame(0xA, payload)
                continue
            if op == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise WSClosed(code)
            if op == 0xA:
                continue
            raise AssertionError("unexpected opcode %d" % op)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

WINDOW_S = 24 * 3600


def uniq(tag):
    return "%s-%s" % (tag, os.urandom(4).hex())


def bearer(tok):
    return "Bearer " + tok


class _EventsMixin:
    def publish(self, topic, data=None, node=None, raw=None, **kw):
        body = raw if raw is not None else {"topic": topic}
        if raw is None and data is not None:
            body["data"] = data
        return (node or self.node).request("POST", "events", body, **kw)

    def create_key(self, name, node=None, limits=None):
        node = node or self.node
        r = node.request("POST", "admin/api/create", {"key_name": name},
                         binding="private")
        self.assertEqual(r.status, 200, r.describe())
        tok = r.json()["key"]
        if limits:
            r = node.request("POST", "admin/limits/set",
                             {"api_key": tok, "limits": limits},
                             binding="private")
            self.assertEqual(r.status, 200, r.describe())
        return tok

    def usage(self, auth=True, node=None):
        r = (node or self.node).request("GET", "limits", auth=auth)
        self.assertEqual(r.status, 200, r.describe())
        return r.json()["usage"]


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


class _SubscribeMixin:
    def subscribe(self, topic, auth=True, node=None, **kw):
        node = node or self.node
        if auth is True:
            auth = "Bearer " + node.root_key
        ws = WS(node.public, topic, auth=auth or None, **kw)
        self.addCleanup(ws.close)
        return ws

    def expect_open(self, ws):
        self.assertEqual(ws.status, 101, ws.body)
        self.assertEqual(ws.headers.get("upgrade", "").lower(), "websocket")
        self.assertEqual(ws.headers.get("connection", "").lower(), "upgrade")
        self.assertEqual(ws.headers.get("sec-websocket-accept"), accept_for(ws.key))
        return ws

    def expect_refused(self, ws, status, error_type, names=None):
        self.assertEqual(ws.status, status, ws.body)
        doc = ws.json()
        self.assertEqual(doc.get("error_type"), error_type, ws.body)
        if names is not None:
            self.assertIn(names, doc.get("message", ""), ws.body)

    def expect_event(self, ws, topic, data):
        text = ws.recv_text()
        doc = json.loads(text)
        self.assertEqual(list(doc), ["topic", "data", "emitted_at"], text)
        self.assertEqual(doc["topic"], topic, text)
        self.assertEqual(doc["data"], data, text)
        self.assertRegex(doc["emitted_at"], TIME_RE, text)
        return doc


class Publish(_EventsMixin, NodeTestCase):
    node_tag = "events"

    def test_publish_ok(self):
        before = self.usage()["events_emitted"]
        self.expect_json(self.publish(uniq("t"), {"a": [1, 2]}), {})
        self.expect_json(self.publish(uniq("t")), {})
        self.expect_json(self.publish(uniq("t"), "x" * 1000), {})
        # root is counted though never limited
        self.assertEqual(self.usage()["events_emitted"], before + 3)

    def test_publish_body_errors(self):
        self.expect(self.publish(None, raw={"data": 1}), 400, "BAD_REQUEST",
                    names="topic")
        self.expect(self.publish(None, raw={"topic": 5}), 400, "BAD_REQUEST",
                    names="topic")
        self.expect(self.publish(""), 400, "BAD_REQUEST", names="topic")
        self.expect(self.publish("a\u0000b"), 400, "BAD_REQUEST", names="topic")
        self.expect(self.publish("t" * 257), 400, "BAD_REQUEST", names="topic")
        self.expect_json(self.publish("t" * 256), {})
        # 64 KiB of data as sent: a string of 65534 bytes plus its quotes
        self.expect_json(self.publish(uniq("big"), "y" * 65534), {})
        self.expect(self.publish(uniq("big"), "y" * 65535), 413,
                    "PAYLOAD_TOO_LARGE", names="data")

    def test_publish_method_and_auth(self):
        r = self.node.request("GET", "events")
        self.expect(r, 405)
        self.assertEqual(r.header("Allow"), "POST", r.describe())
        self.expect(self.publish("t", auth=False), 401)

    def test_quota(self):
        tok = self.create_key(uniq("quota"), limits={"events_emitted": 3})
        auth = bearer(tok)
        for i in range(3):
            self.expect_json(self.publish("q", i, auth=auth), {}, "publish %d " % i)
        self.assertEqual(self.usage(auth=auth)["events_emitted"], 3)
        for _ in range(2):
            r = self.publish("q", 4, auth=auth)
            self.expect(r, 400, "EVENT_LIMIT_EXCEEDED")
            self.assertEqual(r.header("X-Current-Events"), "3", r.describe())
            self.assertEqual(r.header("X-Events-Limit"), "3", r.describe())
            retry = int(r.header("Retry-After"))
            # the window opened at the first refusal and lasts 24 h
            self.assertTrue(WINDOW_S - 120 <= retry <= WINDOW_S, r.describe())
        self.assertEqual(self.usage(auth=auth)["events_emitted"], 3)
        # other scopes are not affected
        self.expect_json(self.publish("q", 5), {})

    def test_quota_zero(self):
        tok = self.create_key(uniq("zero"), limits={"events_emitted": 0})
        r = self.publish("q", auth=bearer(tok))
        self.expect(r, 400, "EVENT_LIMIT_EXCEEDED")
        self.assertEqual(r.header("X-Current-Events"), "0", r.describe())
        self.assertEqual(r.header("X-Events-Limit"), "0", r.describe())
        self.assertGreaterEqual(int(r.header("Retry-After")), 1, r.describe())


class Subscribe(_EventsMixin, _SubscribeMixin, NodeTestCase):
    node_tag = "evsub"
    node_options = {"extra_yaml": "sessions:\n  max_connections: 3\n"}

    def test_frames_in_order(self):
        topic = uniq("t")
        ws = self.expect_open(self.subscribe(topic))
        other = self.expect_open(self.subscribe(topic + "x"))
        values = [{"n": 1, "s": "a\u00e9"}, None, [1, 2.50, "x"], "text", 7]
        for v in values:
            self.expect_json(self.publish(topic, v), {})
        self.expect_json(self.publish(topic + "x", "for the other"), {})
        for v in values:
            self.expect_event(ws, topic, v)
        # numbers keep their text
        body = ('{"topic":%s,"data":1.50}' % json.dumps(topic)).encode()
        self.expect_json(self.node.request("POST", "events", body), {})
        self.assertIn('"data":1.50,', ws.recv_text())
        self.expect_event(other, topic + "x", "for the other")

    def test_token_parameter(self):
        tok = self.create_key(uniq("tokparam"))
        topic = uniq("tp")
        ws = self.expect_open(self.subscribe(topic, auth=None, token=tok))
        self.expect_json(self.publish(topic, 1, auth=bearer(tok)), {})
        self.expect_event(ws, topic, 1)
        # a literal '+' in the parameter is read back as '+', not a space
        tok2 = tok
        for i in range(20):
            if "+" in tok2:
                break
            tok2 = self.create_key(uniq("plus"))
        self.assertIn("+", tok2, "no token with a '+' among 20 new keys")
        ws2 = self.expect_open(self.subscribe(topic, auth=None, token=tok2,
                                              raw_plus=True))
        self.expect_json(self.publish(topic, 2, auth=bearer(tok2)), {})
        self.expect_event(ws2, topic, 2)
        bad = self.subscribe(topic, auth=None, token=tok[:-2] + "AA")
        self.expect_refused(bad, 401, "AUTHENTICATION_FAILED")

    def test_scope_isolation(self):
        a = self.create_key(uniq("scope-a"))
        b = self.create_key(uniq("scope-b"))
        topic = "shared"
        wa = self.expect_open(self.subscribe(topic, auth=bearer(a)))
        wb = self.expect_open(self.subscribe(topic, auth=bearer(b)))
        self.expect_json(self.publish(topic, "from-a", auth=bearer(a)), {})
        self.expect_json(self.publish(topic, "from-b", auth=bearer(b)), {})
        self.expect_event(wa, topic, "from-a")
        self.expect_event(wb, topic, "from-b")
        # nothing else arrives for a: a's next frame is its own next event
        self.expect_json(self.publish(topic, "a2", auth=bearer(a)), {})
        self.expect_event(wa, topic, "a2")

    def test_handshake_errors_in_order(self):
        tok = self.create_key(uniq("hs"))
        # step 2 before 4 and 5: no credential, bad topic, bad version
        ws = self.subscribe("", auth=None, version="12")
        self.expect_refused(ws, 401, "AUTHENTICATION_FAILED")
        # step 4 before 5
        ws = self.subscribe(None, auth=bearer(tok), version="12")
        self.expect_refused(ws, 400, "BAD_REQUEST", names="topic")
        ws = self.subscribe("t" * 257)
        self.expect_refused(ws, 400, "BAD_REQUEST", names="topic")
        # step 5
        ws = self.subscribe("t", headers={"Upgrade": None})
        self.expect_refused(ws, 400, "BAD_REQUEST")
        ws = self.subscribe("t", headers={"Connection": "keep-alive"})
        self.expect_refused(ws, 400, "BAD_REQUEST")
        ws = self.subscribe("t", headers={"Sec-WebSocket-Key": "short"})
        self.expect_refused(ws, 400, "BAD_REQUEST", names="Sec-WebSocket-Key")
        ws = self.subscribe("t", version="8")
        self.expect_refused(ws, 400, "BAD_REQUEST", names="Sec-WebSocket-Version")
        self.assertEqual(ws.headers.get("sec-websocket-version"), "13")
        # case-insensitive header values
        ws = self.subscribe("t", headers={"Upgrade": "WebSocket",
                                          "Connection": "keep-alive, UPGRADE"})
        self.expect_open(ws)

    def test_max_connections(self):
        open_ws = [self.expect_open(self.subscribe("mc")) for _ in range(3)]
        ws = self.subscribe("mc")
        self.expect_refused(ws, 503, "TOO_MANY_CONNECTIONS")
        # a session that ends gives its place back
        open_ws[0].close()
        deadline = time.time() + scaled(5)
        while True:
            ws = self.subscribe("mc")
            if ws.status == 101 or time.time() > deadline:
                break
            ws.close()
            time.sleep(0.1)
        self.expect_open(ws)
        for w in open_ws[1:] + [ws]:
            w.close()
        time.sleep(0.3)

    def test_oversized_message_closes_1009(self):
        topic = uniq("big")
        ws = self.expect_open(self.subscribe(topic))
        ws.send_frame(0x1, b"x" * 512)  # within the limit: ignored
        ws.send_frame(0x9, b"hi")
        while True:
            fin, op, payload = ws.recv_frame()
            if op == 0xA:
                self.assertEqual(payload, b"hi")
                break
        self.expect_json(self.publish(topic, 1), {})
        self.expect_event(ws, topic, 1)
        ws.send_frame(0x1, b"x" * 513)
        with self.assertRaises(WSClosed) as cm:
            ws.recv_text()
        self.assertEqual(cm.exception.code, 1009)

    def test_client_close_answered(self):
        ws = self.expect_open(self.subscribe(uniq("cl")))
        ws.send_frame(0x8, struct.pack("!H", 1000))
        with self.assertRaises(WSClosed) as cm:
            ws.recv_text()
        self.assertEqual(cm.exception.code, 1000)


class EventsCluster(_EventsMixin, _SubscribeMixin, ClusterTestCase):
    """three nodes: a subscriber on each receives every event in order"""

    cluster_tag = "events3"

    def test_every_node_in_publish_order(self):
        lead = self.cluster.wait_leader()
        tok = self.create_key(uniq("ev3"), node=lead,
                              limits={"rate_per_second_event_limit": 100000})
        other = self.create_key(uniq("ev3-other"), node=lead)
        topic = "orders/" + uniq("t")
        subs = []
        for i, m in enumerate(self.cluster.nodes):
            if i == 2:
                ws = self.subscribe(topic, auth=None, token=tok, node=m)
            else:
                ws = self.subscribe(topic, auth=bearer(tok), node=m)
            subs.append(self.expect_open(ws))
        spy = self.expect_open(self.subscribe(topic, auth=bearer(other),
                                              node=self.cluster.nodes[1]))
        # a publish on a follower is redirected to the leader
        f = [m for m in self.cluster.nodes if m is not lead][0]
        self.assertEqual(self.publish(topic, 0, node=f, auth=bearer(tok)).status, 307)
        for i in range(100):
            self.expect_json(self.publish(topic, {"i": i}, node=lead,
                                          auth=bearer(tok)), {}, "publish %d " % i)
        for m, ws in zip(self.cluster.nodes, subs):
            for i in range(100):
                self.expect_event(ws, topic, {"i": i})
        # the other scope's subscriber got none: its next frame is its own
        self.expect_json(self.publish(topic, "mine", node=lead,
                                      auth=bearer(other)), {})
        self.expect_event(spy, topic, "mine")


class SessionEnds(_EventsMixin, _SubscribeMixin, NodeTestCase):
    """a small send queue, and the node stopping"""

    node_tag = "evend"
    node_options = {"extra_yaml": "sessions:\n  send_queue: 4\n"}

    def test_slow_consumer_closed_1013(self):
        topic = uniq("slow")
        ws = self.expect_open(self.subscribe(topic))
        # the client reads nothing: socket buffers fill, then the queue
        data = "z" * 60000
        for i in range(150):
            self.expect_json(self.publish(topic, data), {}, "publish %d " % i)
        got = 0
        with self.assertRaises(WSClosed) as cm:
            while True:
                self.expect_event(ws, topic, data)
                got += 1
        self.assertEqual(cm.exception.code, 1013)
        # closed before every event could be queued, none silently dropped
        self.assertLess(got, 150)
        # and counted under its reason once it ended
        slow = re.compile(
            r'(?m)^insidb_ws_sessions_closed_total\{reason="slow_consumer"\} [1-9]')
        wait_for(lambda: slow.search(self.node.request(
            "GET", "/metrics", auth=False, binding="private").body.decode()),
            scaled(10), "the slow consumer counted")

    def test_zz_stop_closes_1001(self):
        ws = self.expect_open(self.subscribe(uniq("stop")))
        self.assertEqual(self.node.stop(), 0, self.node.log_tail())
        with self.assertRaises(WSClosed) as cm:
            ws.recv_text()
        self.assertEqual(cm.exception.code, 1001)
