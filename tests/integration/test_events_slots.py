"""API.md §14.4-14.6 on a three-node cluster: subscriber slots counted
across the cluster (503 SUBSCRIBER_LIMIT_EXCEEDED past the limit, a
closed session frees its slot, a follower killed with its slots gets
them back by its restart's reset), events/purge on one node and
events/shake on every node for entity keys, aliases and root, 1008 when
the key or alias of a session is deleted, the replay window after a
node missed events, and the WebSocket metrics of §19.2."""

import re
import threading
import time

from harness import ClusterTestCase, Conn, path_for, scaled, wait_for
from test_events import WSClosed, _EventsMixin, _SubscribeMixin, bearer, uniq

# short, so that a frozen node's catch-up is past it within the test
REPLAY_WINDOW_S = 4


class EventsSlots(_EventsMixin, _SubscribeMixin, ClusterTestCase):

    cluster_tag = "evslots"
    extra_yaml = "events:\n  replay_window: %ds\n" % REPLAY_WINDOW_S

    def followers(self, lead):
        return [m for m in self.cluster.nodes if m is not lead]

    def subscribers(self, tok, node):
        return self.usage(auth=bearer(tok), node=node)["subscribers"]

    def wait_subscribers(self, tok, node, n):
        wait_for(lambda: self.subscribers(tok, node) == n, scaled(15),
                 "subscribers usage to be %d" % n)

    def expect_closed(self, ws, code):
        with self.assertRaises(WSClosed) as cm:
            while True:
                ws.recv_text()
        self.assertEqual(cm.exception.code, code)

    def key_uuid(self, tok, node):
        r = node.request("POST", "admin/insight/entity", {"root_api_key": tok},
                         binding="private")
        self.assertEqual(r.status, 200, r.describe())
        return r.json()["entity"]["key_uuid"]

    def alias_of(self, tok, node):
        r = node.request("POST", "alias/set", auth=bearer(tok))
        self.assertEqual(r.status, 200, r.describe())
        return r.json()["alias"]

    def test_limit_across_nodes_and_restart_reset(self):
        lead = self.cluster.wait_leader()
        f1, f2 = self.followers(lead)
        tok = self.create_key(uniq("slots"), node=lead, limits={
            "subscribers": 2, "rate_per_second_event_limit": 1000})
        topic = uniq("t")
        on_f1 = self.expect_open(self.subscribe(topic, auth=bearer(tok), node=f1))
        on_lead = self.expect_open(self.subscribe(topic, auth=bearer(tok), node=lead))
        self.wait_subscribers(tok, lead, 2)
        # a third session anywhere is refused, and costs no slot
        self.expect_refused(self.subscribe(topic, auth=bearer(tok), node=f2),
                            503, "SUBSCRIBER_LIMIT_EXCEEDED")
        self.expect_refused(self.subscribe(topic, auth=bearer(tok), node=lead),
                            503, "SUBSCRIBER_LIMIT_EXCEEDED")
        self.assertEqual(self.subscribers(tok, lead), 2)
        # closing one frees its slot for a session on another node
        on_lead.close()
        self.wait_subscribers(tok, lead, 1)
        on_f2 = self.expect_open(self.subscribe(topic, auth=bearer(tok), node=f2))
        self.wait_subscribers(tok, lead, 2)
        # kill -9 of the follower holding a slot: gone with it once it is back
        f1.kill_group()
        on_f1.close()
        self.assertEqual(self.subscribers(tok, lead), 2)
        f1.start()
        self.wait_subscribers(tok, lead, 1)
        again = self.expect_open(self.subscribe(topic, auth=bearer(tok), node=f1))
        self.wait_subscribers(tok, lead, 2)
        # both sessions still get events
        self.expect_json(self.publish(topic, "x", node=lead, auth=bearer(tok)), {})
        self.expect_event(on_f2, topic, "x")
        self.expect_event(again, topic, "x")

    def test_purge_and_shake(self):
        lead = self.cluster.wait_leader()
        f1, f2 = self.followers(lead)
        tok = self.create_key(uniq("purge"), node=lead,
                              limits={"rate_per_second_event_limit": 1000})
        alias = self.alias_of(tok, lead)
        other = self.create_key(uniq("purge-other"), node=lead)
        topic = uniq("t")
        here = [self.expect_open(self.subscribe(topic, auth=bearer(tok), node=f1)),
                self.expect_open(self.subscribe(topic, auth=bearer(alias), node=f1)),
                self.expect_open(self.subscribe(topic, auth=None, token=tok, node=f1))]
        there = self.expect_open(self.subscribe(topic, auth=bearer(tok), node=f2))
        bystander = self.expect_open(self.subscribe(topic, auth=bearer(other), node=f1))
        rooted = self.expect_open(self.subscribe(topic, node=f1))
        self.wait_subscribers(tok, lead, 4)
        # purge with the alias closes its key's sessions on this node only
        r = f1.request("POST", "events/purge", auth=bearer(alias))
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json(), {"disconnected_sessions": 3,
                                    "key_uuid": self.key_uuid(tok, lead),
                                    "success": True})
        for ws in here:
            self.expect_closed(ws, 4000)
        self.wait_subscribers(tok, lead, 1)
        self.expect_json(self.publish(topic, 1, node=lead, auth=bearer(tok)), {})
        self.expect_event(there, topic, 1)
        self.expect_json(self.publish(topic, 2, node=lead, auth=bearer(other)), {})
        self.expect_event(bystander, topic, 2)
        # shake from a follower is redirected; on the leader it reaches f2
        r = f1.request("POST", "events/shake", auth=bearer(tok))
        self.assertEqual(r.status, 307, r.describe())
        r = lead.request("DELETE", "events/shake", auth=bearer(tok))
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json(), {"disconnected_sessions": 1, "success": True})
        self.expect_closed(there, 4000)
        self.assertEqual(self.subscribers(tok, lead), 0)
        # the block is lifted: a new session gets a slot at once
        self.expect_open(self.subscribe(topic, auth=bearer(tok), node=f2))
        self.wait_subscribers(tok, lead, 1)
        # an alias shakes its key's scope too
        again = self.expect_open(self.subscribe(topic, auth=bearer(tok), node=f1))
        self.wait_subscribers(tok, lead, 2)
        r = lead.request("POST", "events/shake", auth=bearer(alias))
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json(), {"disconnected_sessions": 2, "success": True})
        self.expect_closed(again, 4000)
        self.assertEqual(self.subscribers(tok, lead), 0)
        # root purges root's sessions only
        root_f2 = self.expect_open(self.subscribe(topic, node=f2))
        r = f2.request("POST", "events/purge")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json()["disconnected_sessions"], 1, r.describe())
        self.expect_closed(root_f2, 4000)
        # root's shake closes root's sessions, not the others'
        r = lead.request("POST", "events/shake")
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json(), {"disconnected_sessions": 1, "success": True})
        self.expect_closed(rooted, 4000)
        self.expect_json(self.publish(topic, 3, node=lead, auth=bearer(other)), {})
        self.expect_event(bystander, topic, 3)

    def test_deleted_alias_and_key_close_1008(self):
        lead = self.cluster.wait_leader()
        f1, f2 = self.followers(lead)
        tok = self.create_key(uniq("del"), node=lead)
        alias = self.alias_of(tok, lead)
        topic = uniq("t")
        by_key = self.expect_open(self.subscribe(topic, auth=bearer(tok), node=f1))
        by_alias = self.expect_open(self.subscribe(topic, auth=bearer(alias), node=f2))
        r = lead.request("POST", "alias/delete", {"alias": alias}, auth=bearer(tok))
        self.assertEqual(r.status, 200, r.describe())
        self.expect_closed(by_alias, 1008)
        self.expect_json(self.publish(topic, "still", node=lead, auth=bearer(tok)), {})
        self.expect_event(by_key, topic, "still")
        r = lead.request("POST", "admin/api/delete", {"key": tok}, binding="private")
        self.assertEqual(r.status, 200, r.describe())
        self.expect_closed(by_key, 1008)
        # counted under their reason on the nodes that closed them
        # (a session ends when the client answers its close, or after 1 s)
        closed = re.compile(
            r'(?m)^insidb_ws_sessions_closed_total\{reason="key_deleted"\} [1-9]')
        for node in (f1, f2):
            wait_for(lambda: closed.search(node.request(
                "GET", "/metrics", auth=False, binding="private").body.decode()),
                scaled(10), "a key_deleted close counted on " + node.name)

    def test_missed_events_not_replayed_after_window(self):
        lead = self.cluster.wait_leader()
        f = self.followers(lead)[0]
        tok = self.create_key(uniq("replay"), node=lead,
                              limits={"rate_per_second_event_limit": 1000})
        topic = uniq("t")
        ws = self.expect_open(self.subscribe(topic, auth=bearer(tok), node=f))
        f.freeze()
        try:
            for i in range(5):
                self.expect_json(self.publish(topic, {"old": i}, node=lead,
                                              auth=bearer(tok)), {})
            # the node misses them for longer than the replay window
            t0 = time.monotonic()
            wait_for(lambda: time.monotonic() - t0 > REPLAY_WINDOW_S + 1,
                     REPLAY_WINDOW_S + 5, "the replay window to pass")
        finally:
            f.thaw()
        wait_for(lambda: f.request("GET", "ping").status == 200, scaled(15),
                 "the thawed node to answer")
        # it catches up on the log, then gets only what is new
        self.expect_json(self.publish(topic, "new", node=lead, auth=bearer(tok)), {})
        self.expect_event(ws, topic, "new")

    def test_restarted_node_does_not_replay(self):
        lead = self.cluster.wait_leader()
        f = self.followers(lead)[0]
        tok = self.create_key(uniq("restart"), node=lead,
                              limits={"rate_per_second_event_limit": 1000})
        topic = uniq("t")
        self.assertEqual(f.stop(), 0, f.log_tail())
        for i in range(5):
            self.expect_json(self.publish(topic, {"old": i}, node=lead,
                                          auth=bearer(tok)), {})
        t0 = time.monotonic()
        wait_for(lambda: time.monotonic() - t0 > REPLAY_WINDOW_S + 1,
                 REPLAY_WINDOW_S + 5, "the replay window to pass")
        f.start()
        ws = self.expect_open(self.subscribe(topic, auth=bearer(tok), node=f))
        self.expect_json(self.publish(topic, "new", node=lead, auth=bearer(tok)), {})
        self.expect_event(ws, topic, "new")

    def test_release_retried_across_a_leader_change(self):
        lead = self.cluster.wait_leader()
        f1, f2 = self.followers(lead)
        tok = self.create_key(uniq("retry"), node=lead)
        topic = uniq("t")
        ws = self.expect_open(self.subscribe(topic, auth=bearer(tok), node=f1))
        self.wait_subscribers(tok, lead, 1)
        # the leader stalls: the release has nobody to go to at first
        lead.freeze()
        try:
            ws.close()
            new = wait_for(lambda: self.leader_among((f1, f2)), scaled(30),
                           "a leader among the two others")
            self.wait_subscribers(tok, new, 0)
        finally:
            lead.thaw()
        self.cluster.wait_leader()

    def leader_among(self, nodes):
        names = set()
        for m in nodes:
            r = m.request("GET", "ping")
            if r.status != 200:
                return None
            names.add(r.json().get("leader"))
        if len(names) != 1:
            return None
        name = names.pop()
        return next((m for m in nodes if m.name == name), None)

    def test_shake_blocks_slots_and_names_unreachable_nodes(self):
        lead = self.cluster.wait_leader()
        f1, f2 = self.followers(lead)
        tok = self.create_key(uniq("block"), node=lead)
        topic = uniq("t")
        stuck = self.expect_open(self.subscribe(topic, auth=bearer(tok), node=f2))
        self.wait_subscribers(tok, lead, 1)
        # f2 stalls: the shake waits on its purge while the block holds
        f2.freeze()
        result = {}
        try:
            def shake():
                # three purge attempts of 5 s each on the stalled node
                with Conn(lead.public, timeout=40) as c:
                    result["r"] = c.request("POST", path_for("events/shake"),
                                            None, [("Authorization", bearer(tok))])
            t = threading.Thread(target=shake)
            t.start()
            def refused():
                ws = self.subscribe(topic, auth=bearer(tok), node=f1)
                if ws.status == 101:
                    ws.close()
                    return None
                return ws
            ws = wait_for(refused, scaled(10), "a slot refused during the shake")
            self.expect_refused(ws, 503, "SUBSCRIBER_LIMIT_EXCEEDED")
            self.assertEqual(ws.headers.get("retry-after"), "1")
            t.join(scaled(40))
            self.assertFalse(t.is_alive(), "the shake did not end")
        finally:
            f2.thaw()
        r = result["r"]
        self.assertEqual(r.status, 200, r.describe())
        self.assertEqual(r.json(), {"disconnected_sessions": 0,
                                    "failed_nodes": [f2.name],
                                    "success": False})
        # what the unreachable node holds still counts; the block is gone
        self.assertEqual(self.subscribers(tok, lead), 1)
        self.expect_open(self.subscribe(topic, auth=bearer(tok), node=f1))
        self.wait_subscribers(tok, lead, 2)
        stuck.close()

    def test_zz_metrics_and_show_node(self):
        lead = self.cluster.wait_leader()
        topic = uniq("m")
        ws = self.expect_open(self.subscribe(topic, node=lead))
        r = lead.request("GET", "/metrics", auth=False, binding="private")
        text = r.body.decode()
        self.assertRegex(text, r"(?m)^insidb_ws_sessions_active [1-9]")
        for reason in ("client", "purge", "slow_consumer", "write_timeout",
                       "pong_timeout", "too_big", "key_deleted", "shutdown",
                       "error"):
            self.assertIn('insidb_ws_sessions_closed_total{reason="%s"}' % reason,
                          text)
        t = lead.ctl("-j", "show", "node")
        self.assertEqual(t.returncode, 0, t.stderr.decode())
        self.assertRegex(t.stdout.decode(), r'"ws_sessions": *[1-9]')
        ws.close()

    def test_zzz_removed_node_loses_its_slots(self):
        """last: the cluster has two members afterwards"""
        lead = self.cluster.wait_leader()
        gone = self.followers(lead)[0]
        tok = self.create_key(uniq("removed"), node=lead)
        ws = self.expect_open(self.subscribe(uniq("t"), auth=bearer(tok), node=gone))
        self.wait_subscribers(tok, lead, 1)
        # frozen, the node cannot release anything itself
        gone.freeze()
        try:
            r = lead.request("POST", "admin/cluster/remove",
                             {"node_id": gone.name}, binding="private")
            self.assertEqual(r.status, 200, r.describe())
            self.wait_subscribers(tok, lead, 0)
        finally:
            gone.thaw()
        # once it learns of its removal, its sessions end with 1001
        self.expect_closed(ws, 1001)
