/*
 * ipc: req/rep and pair channels in one process, completions on the loop.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "common/ipc.h"

struct fixture {
	struct event_base *base;
	struct ipc *ipc;
	int replies;
	int errors;
	int last_err;
	char got[64];
	int pair_got;
};

static void
url_for(char *buf, size_t len, const char *chan)
{
	char home[64];

	snprintf(home, sizeof(home), "/check-ipc-%d", (int)getpid());
	ipc_url(buf, len, home, "node0", chan);
}

static void
echo_server(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	char out[64];

	(void)ch;
	(void)arg;
	ck_assert_uint_eq(m->hdr.type, MSG_RAFT_STATUS);
	snprintf(out, sizeof(out), "echo:%.*s", (int)m->len,
	    (const char *)m->payload);
	ipc_reply(m->rctx, m->hdr.type, out, strlen(out));
}

static void
on_reply(int err, struct ipc_msg *m, void *arg)
{
	struct fixture *f = arg;

	if (err != 0) {
		f->errors++;
		f->last_err = err;
	} else {
		f->replies++;
		snprintf(f->got, sizeof(f->got), "%.*s", (int)m->len,
		    (const char *)m->payload);
	}
	if (f->replies + f->errors >= 50)
		event_base_loopbreak(f->base);
}

static void
deadline(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	event_base_loopbreak(arg);
}

static void
run_until(struct fixture *f, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct event *t = evtimer_new(f->base, deadline, f->base);

	evtimer_add(t, &tv);
	event_base_loop(f->base, EVLOOP_NO_EXIT_ON_EMPTY);
	event_free(t);
}

static void
setup(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	evthread_use_pthreads();
	f->base = event_base_new();
	f->ipc = ipc_new(f->base);
}

static void
teardown(struct fixture *f)
{
	ipc_free(f->ipc);
	event_base_free(f->base);
}

START_TEST(req_rep_many_in_flight)
{
	struct fixture f;
	struct ipc_chan *srv, *cli;
	char url[128];

	setup(&f);
	url_for(url, sizeof(url), "echo");
	srv = ipc_rep_listen(f.ipc, url, 16, echo_server, NULL);
	ck_assert_ptr_nonnull(srv);
	cli = ipc_req_dial(f.ipc, url, 64);
	ck_assert_ptr_nonnull(cli);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(
		    ipc_call(cli, MSG_RAFT_STATUS, "hi", 2, 5000, on_reply, &f),
		    0);
	run_until(&f, 10000);
	ck_assert_int_eq(f.errors, 0);
	ck_assert_int_eq(f.replies, 50);
	ck_assert_str_eq(f.got, "echo:hi");
	ipc_close(cli);
	ipc_close(srv);
	teardown(&f);
}
END_TEST

START_TEST(call_bound_and_timeout)
{
	struct fixture f;
	struct ipc_chan *cli;
	char url[128];

	setup(&f);
	url_for(url, sizeof(url), "nobody");
	/* nobody listens: calls time out, and the bound holds */
	cli = ipc_req_dial(f.ipc, url, 2);
	ck_assert_ptr_nonnull(cli);
	ck_assert_int_eq(
	    ipc_call(cli, MSG_RAFT_STATUS, "", 0, 200, on_reply, &f), 0);
	ck_assert_int_eq(
	    ipc_call(cli, MSG_RAFT_STATUS, "", 0, 200, on_reply, &f), 0);
	errno = 0;
	ck_assert_int_eq(
	    ipc_call(cli, MSG_RAFT_STATUS, "", 0, 200, on_reply, &f), -1);
	ck_assert_int_eq(errno, EAGAIN);
	run_until(&f, 1500);
	ck_assert_int_eq(f.errors, 2);
	ck_assert_int_eq(f.last_err, ETIMEDOUT);
	ipc_close(cli);
	teardown(&f);
}
END_TEST

static void
pair_recv(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	struct fixture *f = arg;

	(void)ch;
	ck_assert_uint_eq(m->hdr.type, MSG_SUP_READY);
	ck_assert(m->hdr.corr == 9);
	f->pair_got++;
	event_base_loopbreak(f->base);
}

static void
pair_ignore(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	(void)ch;
	(void)m;
	(void)arg;
}

START_TEST(pair_roundtrip)
{
	struct fixture f;
	struct ipc_chan *a, *b;
	char url[128];

	setup(&f);
	url_for(url, sizeof(url), "pair");
	a = ipc_pair_listen(f.ipc, url, pair_recv, &f);
	b = ipc_pair_dial(f.ipc, url, pair_ignore, NULL);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(ipc_send(b, MSG_SUP_READY, 9, "x", 1), 0);
	run_until(&f, 5000);
	ck_assert_int_eq(f.pair_got, 1);
	ipc_close(b);
	ipc_close(a);
	teardown(&f);
}
END_TEST

START_TEST(peer_check_refuses_other_uid)
{
	struct fixture f;
	struct ipc_chan *srv, *cli;
	char url[128];

	setup(&f);
	url_for(url, sizeof(url), "guarded");
	srv = ipc_rep_listen(f.ipc, url, 4, echo_server, NULL);
	ck_assert_ptr_nonnull(srv);
	/* only a uid that is not ours may connect: our pipe is refused */
	ipc_set_peer(srv, geteuid() + 1, NULL, 0);
	cli = ipc_req_dial(f.ipc, url, 4);
	ck_assert_int_eq(
	    ipc_call(cli, MSG_RAFT_STATUS, "", 0, 500, on_reply, &f), 0);
	run_until(&f, 2000);
	ck_assert_int_eq(f.replies, 0);
	ck_assert_int_eq(f.errors, 1);
	ipc_close(cli);
	ipc_close(srv);
	teardown(&f);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ipc");
	TCase *tc = tcase_create("ipc");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, req_rep_many_in_flight);
	tcase_add_test(tc, call_bound_and_timeout);
	tcase_add_test(tc, pair_roundtrip);
	tcase_add_test(tc, peer_check_refuses_other_uid);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
