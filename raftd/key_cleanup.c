#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "raftd/fsm_keys.h"
#include "raftd/key_cleanup.h"

struct key_cleanup {
	struct fsm *fsm;
	struct node *node;
	struct event *timer;
	int interval_ms;
	bool stopped;
	bool busy; /* a proposal is in flight */
	struct fsm_dead_key keys[KEY_CLEANUP_KEYS_MAX];
	size_t n, cur;
	int purges; /* of the current key in this pass */
	uint16_t last; /* the type proposed last */
};

static void kc_arm(struct key_cleanup *);

/* proposes the next command of the pass; false when the pass is over */
static bool
kc_propose(struct key_cleanup *kc, uint16_t type)
{
	struct fsm_dead_key *k = &kc->keys[kc->cur];
	uint64_t leader;
	struct cmd c;

	memset(&c, 0, sizeof(c));
	c.type = type;
	memcpy(c.scope, k->ds, sizeof(c.scope));
	c.key = (const uint8_t *)k->uuid;
	c.key_len = strlen(k->uuid);
	if (node_propose(kc->node, &c, kc, &leader) != ST_OK)
		return false;
	kc->busy = true;
	kc->last = type;
	return true;
}

static void
kc_next_key(struct key_cleanup *kc)
{
	kc->purges = 0;
	while (++kc->cur < kc->n)
		if (kc_propose(kc, CMD_KEY_PURGE)) {
			kc->purges = 1;
			return;
		}
	kc_arm(kc);
}

static void
kc_pass(evutil_socket_t fd, short what, void *arg)
{
	struct key_cleanup *kc = arg;
	int n;

	(void)fd;
	(void)what;
	if (kc->stopped || kc->busy)
		return;
	if ((n = fsm_keys_tombstoned(
		 kc->fsm, kc->keys, KEY_CLEANUP_KEYS_MAX)) <= 0) {
		kc_arm(kc);
		return;
	}
	kc->n = (size_t)n;
	kc->cur = 0;
	kc->purges = 1;
	/* a follower's node_propose refuses: the pass ends at once */
	if (!kc_propose(kc, CMD_KEY_PURGE)) {
		kc_arm(kc);
		return;
	}
	log_debug("key cleanup: %d deleted keys", n);
}

static void
kc_arm(struct key_cleanup *kc)
{
	struct timeval tv;

	if (kc->stopped)
		return;
	tv.tv_sec = kc->interval_ms / 1000;
	tv.tv_usec = (kc->interval_ms % 1000) * 1000;
	evtimer_add(kc->timer, &tv);
}

struct key_cleanup *
key_cleanup_new(struct event_base *base, struct fsm *fsm, struct node *node,
    int interval_ms)
{
	struct key_cleanup *kc;

	if ((kc = calloc(1, sizeof(*kc))) == NULL)
		fatal("%s", __func__);
	kc->fsm = fsm;
	kc->node = node;
	kc->interval_ms = interval_ms;
	if ((kc->timer = evtimer_new(base, kc_pass, kc)) == NULL)
		fatalx("%s: timer", __func__);
	kc_arm(kc);
	return kc;
}

void
key_cleanup_stop(struct key_cleanup *kc)
{
	if (kc == NULL)
		return;
	kc->stopped = true;
	evtimer_del(kc->timer);
}

void
key_cleanup_free(struct key_cleanup *kc)
{
	if (kc == NULL)
		return;
	event_free(kc->timer);
	free(kc);
}

bool
key_cleanup_proposed(
    struct key_cleanup *kc, void *waiter, const struct fsm_result *res)
{
	if (kc == NULL || waiter != kc)
		return false;
	kc->busy = false;
	if (kc->stopped)
		return true;
	if (res->status != ST_OK) {
		/* lost leadership or the key is gone: the next pass sees */
		if (res->status == ST_API_KEY_NOT_FOUND)
			kc_next_key(kc);
		else
			kc_arm(kc);
		return true;
	}
	if (res->data_len == 1 && res->data[0] == 0 &&
	    kc->purges < KEY_CLEANUP_PURGES_MAX) {
		if (kc_propose(kc, CMD_KEY_PURGE))
			kc->purges++;
		else
			kc_arm(kc);
		return true;
	}
	if (res->data_len == 1 && res->data[0] == 1 &&
	    kc->last == CMD_KEY_PURGE) {
		if (!kc_propose(kc, CMD_KEY_FINISH))
			kc_arm(kc);
		return true;
	}
	/* a FINISH done, or the purge budget of the key is spent */
	kc_next_key(kc);
	return true;
}
