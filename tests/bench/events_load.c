/*
 * Events benchmark client: SUBS WebSocket subscribers spread over the
 * given public ports, and one publisher sending events to the leader one
 * after the other as fast as it gets answers, for SECONDS.  Each event
 * carries its send time; each received frame adds one latency sample.
 * Prints events published per second, frames delivered per second and
 * the publish-to-receive latency p50 / p99 / max.
 *
 * usage: events_load TOKEN LEADER_PORT PORT[,PORT...] SUBS SECONDS
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#define TOPIC "bench"
/* latency histogram: 10 us buckets up to 10 s */
#define HIST_US 10
#define HIST_N 1000000

static uint32_t hist[HIST_N];
static uint64_t samples, frames, closed;
static const char *token;
static int leader_port;
static int seconds;
static atomic_int publishing = 1;
static atomic_uint_fast64_t published;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int
dial(int port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* reads a response head (and Content-Length body) from fd; its status */
static int
read_response(int fd)
{
	char buf[8192];
	size_t have = 0;
	char *end, *cl;
	long body;
	ssize_t n;

	for (;;) {
		if (have == sizeof(buf) - 1)
			return -1;
		if ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
	}
	body = 0;
	if ((cl = strcasestr(buf, "\r\nContent-Length:")) != NULL && cl < end)
		body = strtol(cl + 17, NULL, 10);
	for (size_t got = have - (size_t)(end + 4 - buf); (long)got < body;) {
		if ((n = read(fd, buf, sizeof(buf))) <= 0)
			return -1;
		got += (size_t)n;
	}
	return (int)strtol(buf + 9, NULL, 10);
}

static void *
publisher(void *arg)
{
	char req[1024], body[128];
	int fd, blen, rlen;
	uint64_t i = 0;

	(void)arg;
	if ((fd = dial(leader_port)) == -1) {
		perror("publisher dial");
		exit(1);
	}
	while (atomic_load(&publishing)) {
		blen = snprintf(body, sizeof(body),
		    "{\"topic\":\"" TOPIC "\",\"data\":{\"t\":%" PRId64
		    ",\"i\":%" PRIu64 "}}",
		    now_ns(), i++);
		rlen = snprintf(req, sizeof(req),
		    "POST /db/api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		    "Authorization: Bearer %s\r\nContent-Type: "
		    "application/json\r\nContent-Length: %d\r\n\r\n%s",
		    token, blen, body);
		if (write(fd, req, (size_t)rlen) != rlen ||
		    read_response(fd) != 200) {
			fprintf(stderr, "publish %" PRIu64 " failed\n", i);
			exit(1);
		}
		atomic_fetch_add(&published, 1);
	}
	close(fd);
	return NULL;
}

static void
sample(const uint8_t *p, size_t len)
{
	const char *t;
	char text[256];
	int64_t sent, us;

	frames++;
	if (len >= sizeof(text))
		return;
	memcpy(text, p, len);
	text[len] = '\0';
	if ((t = strstr(text, "\"t\":")) == NULL)
		return;
	sent = strtoll(t + 4, NULL, 10);
	us = (now_ns() - sent) / 1000;
	if (us < 0)
		us = 0;
	us /= HIST_US;
	hist[us < HIST_N ? us : HIST_N - 1]++;
	samples++;
}

/* server frames are unmasked: parses every complete one */
static void
sub_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[10], *p;
	size_t have, hlen, plen;

	(void)arg;
	for (;;) {
		have = evbuffer_get_length(in);
		if (have < 2 ||
		    evbuffer_copyout(in, hdr, have < 10 ? have : 10) < 2)
			return;
		plen = hdr[1] & 0x7f;
		hlen = 2;
		if (plen == 126) {
			if (have < 4)
				return;
			plen = (size_t)hdr[2] << 8 | hdr[3];
			hlen = 4;
		} else if (plen == 127) {
			if (have < 10)
				return;
			plen = 0;
			for (int i = 2; i < 10; i++)
				plen = plen << 8 | hdr[i];
			hlen = 10;
		}
		if (have < hlen + plen)
			return;
		p = evbuffer_pullup(in, (ssize_t)(hlen + plen));
		if ((hdr[0] & 0x0f) == 0x1)
			sample(p + hlen, plen);
		else if ((hdr[0] & 0x0f) == 0x8)
			closed++;
		evbuffer_drain(in, hlen + plen);
	}
}

static void
sub_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	closed++;
	bufferevent_free(bev);
}

static int
subscribe(struct event_base *base, int port)
{
	char req[1024], head[4096];
	struct bufferevent *bev;
	size_t have = 0;
	ssize_t n;
	int fd, len;

	if ((fd = dial(port)) == -1)
		return -1;
	len = snprintf(req, sizeof(req),
	    "GET /db/api/v1/events/subscribe?topic=" TOPIC " HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nAuthorization: Bearer %s\r\nUpgrade: "
	    "websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
	    "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
	    token);
	if (write(fd, req, (size_t)len) != len)
		return -1;
	/* the 101 head only: nothing is published yet */
	while (have < sizeof(head) - 1) {
		if ((n = read(fd, head + have, 1)) <= 0)
			return -1;
		have += (size_t)n;
		head[have] = '\0';
		if (have >= 4 && strcmp(head + have - 4, "\r\n\r\n") == 0)
			break;
	}
	if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
		fprintf(stderr, "subscribe refused: %.60s\n", head);
		return -1;
	}
	evutil_make_socket_nonblocking(fd);
	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, sub_read, NULL, sub_event, NULL);
	bufferevent_enable(bev, EV_READ);
	return 0;
}

static double
percentile(double q)
{
	uint64_t want = (uint64_t)(q * (double)samples), seen = 0;

	for (size_t i = 0; i < HIST_N; i++) {
		seen += hist[i];
		if (seen > want)
			return (double)(i * HIST_US) / 1000.0;
	}
	return 0;
}

static void
stop_publishing(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	atomic_store(&publishing, 0);
}

int
main(int argc, char **argv)
{
	struct timeval run, drain = { 0, 0 };
	struct event_base *base;
	struct rlimit rl;
	pthread_t pub;
	int ports[16], nports = 0, subs;
	char *list, *tok;
	uint64_t frames_before;
	int64_t t0, t1, max_us = 0;

	if (argc != 6) {
		fprintf(stderr,
		    "usage: events_load TOKEN LEADER_PORT "
		    "PORT[,PORT...] SUBS SECONDS\n");
		return 2;
	}
	token = argv[1];
	leader_port = atoi(argv[2]);
	list = argv[3];
	while ((tok = strsep(&list, ",")) != NULL && nports < 16)
		ports[nports++] = atoi(tok);
	subs = atoi(argv[4]);
	seconds = atoi(argv[5]);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	base = event_base_new();
	for (int i = 0; i < subs; i++)
		if (subscribe(base, ports[i % nports]) == -1) {
			fprintf(stderr, "subscriber %d failed\n", i);
			return 1;
		}
	fprintf(stderr, "%d subscribers open on %d nodes\n", subs, nports);
	frames_before = frames;
	run.tv_sec = seconds;
	run.tv_usec = 0;
	event_base_once(base, -1, EV_TIMEOUT, stop_publishing, NULL, &run);
	t0 = now_ns();
	if (pthread_create(&pub, NULL, publisher, NULL) != 0)
		return 1;
	/* run, then 2 s more so that the last events arrive */
	drain.tv_sec = seconds + 2;
	event_base_loopexit(base, &drain);
	event_base_dispatch(base);
	pthread_join(pub, NULL);
	t1 = now_ns();
	for (size_t i = HIST_N; i-- > 0;)
		if (hist[i] != 0) {
			max_us = (int64_t)(i * HIST_US);
			break;
		}
	printf(
	    "subscribers %d, publisher 1 (sequential), %d s\n", subs, seconds);
	printf("published %" PRIu64 " events: %.0f events/s\n",
	    (uint64_t)atomic_load(&published),
	    (double)atomic_load(&published) / seconds);
	printf("delivered %" PRIu64 " of %" PRIu64 " frames: %.0f frames/s "
	       "over %.1f s\n",
	    frames - frames_before, (uint64_t)atomic_load(&published) * subs,
	    (double)(frames - frames_before) / ((double)(t1 - t0) / 1e9),
	    (double)(t1 - t0) / 1e9);
	printf("publish-to-receive latency ms: p50 %.2f, p99 %.2f, max %.2f\n",
	    percentile(0.50), percentile(0.99), (double)max_us / 1000.0);
	printf("sessions closed by the server: %" PRIu64 "\n", closed);
	return 0;
}
