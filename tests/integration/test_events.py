"""API.md §14.1 events publish: body checks, 200 {} after apply, and the
events_emitted quota of §7.3 (the refusal with X-Current-Events,
X-Events-Limit and Retry-After; root counted but never limited)."""

import os

from harness import NodeTestCase

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
