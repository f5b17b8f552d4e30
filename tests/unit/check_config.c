/*
 * Configuration loader (CONFIG.md): value syntax, defaults, every error
 * class with its exact message, overrides, cross-key rules, environment
 * checks, and the golden files under $CONFIG_DIR (good/ must load, bad/N
 * must give exactly the lines of bad/N.err).
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/config.h"
#include "common/log.h"

#define NODE0 \
	"nodes:\n" \
	"  node0:\n" \
	"    public_binding: 127.0.0.1:8080\n" \
	"    private_binding: 127.0.0.1:8081\n" \
	"    raft_binding: 127.0.0.1:7000\n"

/* lines 1-3, then the node on lines 4-8 */
#define BASE \
	"instance_secret: \"0123456789abcdef0123\"\n" \
	"default_leader: node0\n" \
	"insid_home: /srv/insidb\n" NODE0

static struct cfg cfg;
static struct cfg_errors errs;

static void
setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	memset(&errs, 0, sizeof(errs));
}

static void
teardown(void)
{
	cfg_free(&cfg);
	cfg_errors_free(&errs);
}

static int
parse_ov(const char *yaml, char **ov, size_t n, bool as_root)
{
	return cfg_parse(
	    "t.yaml", yaml, strlen(yaml), ov, n, as_root, &cfg, &errs);
}

static int
parse(const char *yaml)
{
	return parse_ov(yaml, NULL, 0, false);
}

static bool
has_msg(const struct cfg_errors *e, const char *line)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->msgs[i], line) == 0)
			return true;
	return false;
}

static char *
all_msgs(const struct cfg_errors *e)
{
	static char buf[8192];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < e->n && len < sizeof(buf); i++)
		len +=
		    snprintf(buf + len, sizeof(buf) - len, "[%s] ", e->msgs[i]);
	return buf;
}

/* the text fails with exactly this one message */
static void
expect_one(const char *yaml, const char *line)
{
	cfg_free(&cfg);
	cfg_errors_free(&errs);
	ck_assert_int_eq(parse(yaml), -1);
	ck_assert_msg(errs.n == 1 && strcmp(errs.msgs[0], line) == 0,
	    "want [%s], got %s", line, all_msgs(&errs));
}

/* BASE plus extra top-level lines starting at line 9 */
static void
expect_extra(const char *extra, const char *line)
{
	char yaml[4096];

	snprintf(yaml, sizeof(yaml), "%s%s", BASE, extra);
	expect_one(yaml, line);
}

/* the text is accepted */
static void
expect_ok(const char *yaml)
{
	cfg_free(&cfg);
	cfg_errors_free(&errs);
	ck_assert_msg(parse(yaml) == 0, "%s", all_msgs(&errs));
}

/* ---- value syntax ---- */

/* found by the config fuzz target: keys that are not scalars */
START_TEST(test_non_scalar_keys)
{
	ck_assert_int_eq(parse("{[a]: 1, [b]: 2}"), -1);
	ck_assert_uint_gt(errs.n, 0);
	ck_assert_int_eq(parse("{[a]: 1, [a]: 2, {b: c}: 3}"), -1);
	ck_assert_uint_gt(errs.n, 0);
}
END_TEST

START_TEST(test_durations)
{
	static const struct {
		const char *in;
		int64_t ms;
	} good[] = { { "250ms", 250 }, { "30s", 30000 }, { "60m", 3600000 },
		{ "1h30m", 5400000 }, { "0s", 0 }, { "1.5s", 1500 },
		{ "2h0m1s5ms", 7201005 }, { "8760h", 8760LL * 3600000 } };
	static const char *const bad[] = { "30", "0", "", "s", "1h30", "10 s",
		"30sec", "1.5ms", "-1s", "1d", "1H", "ms", "1..5s", " 1s" };
	int64_t ms;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(cfg_parse_duration(good[i].in, &ms) == NULL, "%s",
		    good[i].in);
		ck_assert_int_eq(ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(
		    cfg_parse_duration(bad[i], &ms) != NULL, "%s", bad[i]);
	ck_assert_str_eq(cfg_parse_duration("30", &ms),
	    "needs a unit (ms, s, m or h), e.g. 30s");
}
END_TEST

START_TEST(test_sizes)
{
	static const struct {
		const char *in;
		int64_t bytes;
	} good[] = { { "0B", 0 }, { "65536B", 65536 }, { "512KiB", 524288 },
		{ "1MiB", 1048576 }, { "1GiB", 1073741824 },
		{ "2TiB", 2LL << 40 } };
	static const char *const bad[] = { "1KB", "1 KiB", "1.5GiB", "KiB",
		"-1KiB", "1kib", "", "99999999999999999TiB" };
	int64_t bytes;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(cfg_parse_size(good[i].in, &bytes) == NULL, "%s",
		    good[i].in);
		ck_assert_int_eq(bytes, good[i].bytes);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(
		    cfg_parse_size(bad[i], &bytes) != NULL, "%s", bad[i]);
	/* a plain integer in the file is a byte count */
	ck_assert_int_eq(parse(BASE "blobs: {max_size: 65536}\n"), 0);
	ck_assert_int_eq(cfg.blobs_max_size, 65536);
}
END_TEST

START_TEST(test_addresses)
{
	static const struct {
		const char *in, *host;
		int port;
		bool ipv6;
	} good[] = { { "127.0.0.1:8080", "127.0.0.1", 8080, false },
		{ "[::1]:1", "::1", 1, true },
		{ "[fe80::1:2]:65535", "fe80::1:2", 65535, true },
		{ "db-1.example.net:443", "db-1.example.net", 443, false },
		{ "localhost:7000", "localhost", 7000, false },
		{ "0.0.0.0:80", "0.0.0.0", 80, false } };
	static const char *const bad[] = { "127.0.0.1", "127.0.0.1:0",
		"127.0.0.1:65536", "::1:80", "[::1]80", "[::g]:80",
		"300.0.0.1:80", ":80", "host_name:80", "-host:80", "a..b:80",
		"127.0.0.1:8o", "127.0.0.1:", "[::1]:", "1.2.3:80",
		"127.0.0.1:080000" };
	struct cfg_addr a;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(
		    cfg_parse_addr(good[i].in, &a) == NULL, "%s", good[i].in);
		ck_assert_str_eq(a.host, good[i].host);
		ck_assert_int_eq(a.port, good[i].port);
		ck_assert_int_eq(a.ipv6, good[i].ipv6);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cfg_parse_addr(bad[i], &a) != NULL, "%s", bad[i]);
}
END_TEST

static bool
match(const struct cfg_net *nets, size_t n, const char *ip, bool any)
{
	uint8_t bin[16];

	if (inet_pton(AF_INET, ip, bin) == 1)
		return cfg_net_match(nets, n, AF_INET, bin, any);
	ck_assert_int_eq(inet_pton(AF_INET6, ip, bin), 1);
	return cfg_net_match(nets, n, AF_INET6, bin, any);
}

START_TEST(test_cidr)
{
	struct cfg_net nets[4];
	static const char *const bad[] = { "", "10.0.0.0/33", "::/129",
		"10.0.0.0/", "10.0.0/8", "10.0.0.0/-1", "host", "1.2.3.4/8/8",
		"10.0.0.0/ 8" };

	ck_assert_int_eq(cfg_net_parse("10.0.0.0/8", &nets[0], false), 0);
	ck_assert_int_eq(cfg_net_parse("192.168.1.7", &nets[1], false), 0);
	ck_assert_int_eq(cfg_net_parse("fd00::/8", &nets[2], false), 0);
	ck_assert(match(nets, 3, "10.255.0.1", false));
	ck_assert(!match(nets, 3, "11.0.0.1", false));
	ck_assert(match(nets, 3, "192.168.1.7", false));
	ck_assert(!match(nets, 3, "192.168.1.8", false));
	ck_assert(match(nets, 3, "fd12::1", false));
	ck_assert(!match(nets, 3, "fe80::1", false));
	/* a v4 client seen on a dual-stack socket */
	ck_assert(match(nets, 3, "::ffff:10.1.2.3", false));
	ck_assert(!match(nets, 3, "::ffff:11.1.2.3", false));
	/* host bits are dropped; odd prefixes compare partial bytes */
	ck_assert_int_eq(cfg_net_parse("10.1.2.3/12", &nets[0], false), 0);
	ck_assert(match(nets, 1, "10.15.255.255", false));
	ck_assert(!match(nets, 1, "10.16.0.0", false));
	ck_assert_int_eq(cfg_net_parse("0.0.0.0/0", &nets[0], false), 0);
	ck_assert(match(nets, 1, "8.8.8.8", false));
	ck_assert(!match(nets, 1, "::1", false));
	/* "*" only where allowed, and only counts when asked for */
	ck_assert_int_eq(cfg_net_parse("*", &nets[0], false), -1);
	ck_assert_int_eq(cfg_net_parse("*", &nets[0], true), 0);
	ck_assert(match(nets, 1, "8.8.8.8", true));
	ck_assert(!match(nets, 1, "8.8.8.8", false));
	ck_assert(!match(nets, 0, "127.0.0.1", true));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(
		    cfg_net_parse(bad[i], &nets[0], true) == -1, "%s", bad[i]);
}
END_TEST

/* ---- defaults and accepted files ---- */

START_TEST(test_defaults)
{
	char *sock;

	ck_assert_msg(parse(BASE) == 0, "%s", all_msgs(&errs));
	ck_assert_str_eq(cfg.file, "t.yaml");
	ck_assert_str_eq(cfg.instance_secret, "0123456789abcdef0123");
	ck_assert_str_eq(cfg.default_leader, "node0");
	ck_assert_str_eq(cfg.root_prefix, "root");
	ck_assert_str_eq(cfg.insid_home, "/srv/insidb");
	ck_assert_str_eq(cfg.user, "_insidb");
	ck_assert_str_eq(cfg.control_socket, "/srv/insidb/insid.sock");
	ck_assert(!cfg.control_socket_set);
	ck_assert_ptr_null(cfg.tls_cert);
	ck_assert_ptr_null(cfg.tls_key);
	ck_assert_ptr_null(cfg.tls_ca);
	ck_assert(!cfg.client_skip_verify);
	ck_assert(!cfg.server_must_use_tls);
	ck_assert_uint_eq(cfg.n_trusted_proxies, 0);
	ck_assert_uint_eq(cfg.n_permitted_ips, 2);
	ck_assert(match(cfg.permitted_ips, 2, "127.0.0.1", false));
	ck_assert(match(cfg.permitted_ips, 2, "::1", false));
	ck_assert(!match(cfg.permitted_ips, 2, "127.0.0.2", true));
	ck_assert_int_eq(cfg.cache_standard_ttl_ms, 3600000);
	ck_assert_int_eq(cfg.cache_keys_ms, 60000);
	ck_assert(cfg.rate[CFG_RL_VALUES].limit == 1000);
	ck_assert_int_eq(cfg.rate[CFG_RL_VALUES].burst, 2000);
	ck_assert(cfg.rate[CFG_RL_CACHE].limit == 1000);
	ck_assert_int_eq(cfg.rate[CFG_RL_CACHE].burst, 2000);
	ck_assert(cfg.rate[CFG_RL_EVENTS].limit == 200);
	ck_assert_int_eq(cfg.rate[CFG_RL_EVENTS].burst, 400);
	ck_assert(cfg.rate[CFG_RL_SYSTEM].limit == 50);
	ck_assert_int_eq(cfg.rate[CFG_RL_SYSTEM].burst, 100);
	ck_assert(cfg.rate[CFG_RL_DEFAULT].limit == 20);
	ck_assert_int_eq(cfg.rate[CFG_RL_DEFAULT].burst, 40);
	ck_assert_int_eq(cfg.sessions_max_connections, 1000);
	ck_assert_int_eq(cfg.sessions_send_queue, 256);
	ck_assert_int_eq(cfg.events_replay_window_ms, 30000);
	ck_assert_int_eq(cfg.blobs_max_size, 1LL << 30);
	ck_assert_int_eq(cfg.blobs_gc_interval_ms, 30000);
	ck_assert_int_eq(cfg.blobs_repair_interval_ms, 60000);
	ck_assert_int_eq(cfg.limits_max_value_size, 1 << 20);
	ck_assert_int_eq(cfg.raft_heartbeat_interval_ms, 100);
	ck_assert_int_eq(cfg.raft_election_timeout_ms, 1000);
	ck_assert_int_eq(cfg.raft_snapshot_threshold, 8192);
	ck_assert_int_eq(cfg.raft_snapshot_trailing, 10240);
	ck_assert_int_eq(cfg.log_level, LOG_LEVEL_INFO);
	ck_assert_uint_eq(cfg.n_nodes, 1);
	ck_assert_str_eq(cfg.nodes[0].id, "node0");
	ck_assert_str_eq(cfg.nodes[0].public_binding.host, "127.0.0.1");
	ck_assert_int_eq(cfg.nodes[0].public_binding.port, 8080);
	ck_assert_int_eq(cfg.nodes[0].private_binding.port, 8081);
	ck_assert_int_eq(cfg.nodes[0].raft_binding.port, 7000);
	ck_assert_ptr_null(cfg.nodes[0].client_domain);
	ck_assert_int_eq(cfg.nodes[0].line, 6);
	ck_assert_ptr_eq(cfg_node(&cfg, "node0"), &cfg.nodes[0]);
	ck_assert_ptr_null(cfg_node(&cfg, "node1"));
	sock = cfg_control_socket(&cfg, "node0");
	ck_assert_str_eq(sock, "/srv/insidb/insid.sock");
	free(sock);
	cfg_free(&cfg);
	/* as root the socket lives in /var/run */
	ck_assert_int_eq(parse_ov(BASE, NULL, 0, true), 0);
	ck_assert_str_eq(cfg.control_socket, "/var/run/insid.sock");
}
END_TEST

START_TEST(test_values_given)
{
	char *sock;

	ck_assert_msg(parse(BASE "control_socket: /run/{node}-{node}.sock\n"
				 "permitted_ips: []\n"
				 "trusted_proxies: [10.0.0.0/8]\n"
				 "rate_limiters:\n"
				 "  events: {limit: 2.5}\n"
				 "  system: {burst: 7}\n"
				 "cache: {standard_ttl: 1h30m, keys: 0s}\n"
				 "raft: {election_timeout: 2s, "
				 "heartbeat_interval: 400ms}\n"
				 "logging: {level: warn}\n"
				 "client_skip_verify: true\n") == 0,
	    "%s", all_msgs(&errs));
	/* an explicit [] denies everything */
	ck_assert_uint_eq(cfg.n_permitted_ips, 0);
	ck_assert(
	    !match(cfg.permitted_ips, cfg.n_permitted_ips, "127.0.0.1", true));
	ck_assert_uint_eq(cfg.n_trusted_proxies, 1);
	/* a partial entry keeps the category default for the rest */
	ck_assert(cfg.rate[CFG_RL_EVENTS].limit == 2.5);
	ck_assert_int_eq(cfg.rate[CFG_RL_EVENTS].burst, 400);
	ck_assert(cfg.rate[CFG_RL_SYSTEM].limit == 50);
	ck_assert_int_eq(cfg.rate[CFG_RL_SYSTEM].burst, 7);
	ck_assert_int_eq(cfg.cache_standard_ttl_ms, 5400000);
	ck_assert_int_eq(cfg.cache_keys_ms, 0);
	ck_assert_int_eq(cfg.raft_heartbeat_interval_ms, 400);
	ck_assert_int_eq(cfg.log_level, LOG_LEVEL_WARN);
	ck_assert(cfg.client_skip_verify);
	ck_assert(cfg.control_socket_set);
	sock = cfg_control_socket(&cfg, "n1");
	ck_assert_str_eq(sock, "/run/n1-n1.sock");
	free(sock);
}
END_TEST

START_TEST(test_relative_paths)
{
	const char *y =
	    "instance_secret: \"0123456789abcdef0123\"\n"
	    "default_leader: node0\n"
	    "insid_home: ../../h/./x/..//home\n"
	    "tls: {cert: c.pem, key: ./k/../k.pem, ca: /abs/ca.pem}\n"
	    "control_socket: /abs/s.sock\n" NODE0;

	/* the file's directory need not exist; "." and ".." are resolved */
	ck_assert_msg(cfg_parse("/no/such/dir/x.yaml", y, strlen(y), NULL, 0,
			  false, &cfg, &errs) == 0,
	    "%s", all_msgs(&errs));
	ck_assert_str_eq(cfg.insid_home, "/no/h/home");
	ck_assert_str_eq(cfg.tls_cert, "/no/such/dir/c.pem");
	ck_assert_str_eq(cfg.tls_key, "/no/such/dir/k.pem");
	ck_assert_str_eq(cfg.tls_ca, "/abs/ca.pem");
	ck_assert_str_eq(cfg.control_socket, "/abs/s.sock");
	cfg_free(&cfg);
	/* a bare file name is relative to the working directory */
	ck_assert_int_eq(chdir("/tmp"), 0);
	ck_assert_int_eq(
	    cfg_parse("x.yaml", y, strlen(y), NULL, 0, false, &cfg, &errs), 0);
	ck_assert_str_eq(cfg.tls_cert, "/tmp/c.pem");
}
END_TEST

/* ---- every error class ---- */

START_TEST(test_unknown_keys)
{
	expect_extra("colour: blue\n", "t.yaml:9: colour: unknown key");
	expect_extra("cache: {ttl: 1s}\n", "t.yaml:9: cache.ttl: unknown key");
	expect_extra("rate_limiters: {bulk: {limit: 1}}\n",
	    "t.yaml:9: rate_limiters.bulk: unknown key");
	expect_extra("rate_limiters: {values: {rate: 1}}\n",
	    "t.yaml:9: rate_limiters.values.rate: unknown key");
	expect_extra("cache.keys: 1s\n", "t.yaml:9: cache.keys: unknown key");
	expect_one("instance_secret: \"0123456789abcdef0123\"\n"
		   "default_leader: node0\n"
		   "insid_home: /srv\n" NODE0 "    zone: a\n",
	    "t.yaml:9: nodes.node0.zone: unknown key");
}
END_TEST

START_TEST(test_duplicate_keys)
{
	expect_extra("default_leader: node0\n",
	    "t.yaml:9: default_leader: duplicate key");
	expect_extra("raft:\n  election_timeout: 1s\n  election_timeout: 2s\n",
	    "t.yaml:11: raft.election_timeout: duplicate key");
	expect_extra("nodes: {}\n", "t.yaml:9: nodes: duplicate key");
}
END_TEST

START_TEST(test_anchors_aliases_tags)
{
	expect_extra(
	    "user: &u bob\n", "t.yaml:9: user: anchors are not allowed");
	expect_extra("user: *u\n", "t.yaml:9: user: aliases are not allowed");
	expect_extra(
	    "user: !!str bob\n", "t.yaml:9: user: tags are not allowed");
	expect_extra("user: ! bob\n", "t.yaml:9: user: tags are not allowed");
	expect_extra("cache: &c {keys: 1s}\n",
	    "t.yaml:9: cache: anchors are not allowed");
	expect_extra("raft:\n  &k election_timeout: 1s\n",
	    "t.yaml:10: raft.election_timeout: anchors are not allowed");
	expect_one("--- !root\n" BASE,
	    "t.yaml:1: (top level): tags are not "
	    "allowed");
}
END_TEST

START_TEST(test_wrong_types)
{
	expect_extra("user: 1000\n", "t.yaml:9: user: must be a string");
	expect_extra("user: [a]\n", "t.yaml:9: user: must be a string");
	expect_extra("user:\n", "t.yaml:9: user: must be a string");
	expect_extra("user: true\n", "t.yaml:9: user: must be a string");
	expect_extra(
	    "user: \"a\\0b\"\n", "t.yaml:9: user: must not contain NUL bytes");
	expect_extra("client_skip_verify: yes\n",
	    "t.yaml:9: client_skip_verify: must be true or false");
	expect_extra("client_skip_verify: 1\n",
	    "t.yaml:9: client_skip_verify: must be true or false");
	expect_extra("sessions: {send_queue: 1.0}\n",
	    "t.yaml:9: sessions.send_queue: must be an integer");
	expect_extra("sessions: {send_queue: \"5\"}\n",
	    "t.yaml:9: sessions.send_queue: must be an integer");
	expect_extra("sessions: {send_queue: 99999999999999999999}\n",
	    "t.yaml:9: sessions.send_queue: is too large");
	expect_extra("events: {replay_window: 30}\n",
	    "t.yaml:9: events.replay_window: needs a unit (ms, s, m or h), "
	    "e.g. 30s");
	expect_extra("limits: {max_value_size: 1.5}\n",
	    "t.yaml:9: limits.max_value_size: must be a size such as 65536, "
	    "512KiB or 1GiB");
	expect_extra("rate_limiters: {values: {limit: \"5\"}}\n",
	    "t.yaml:9: rate_limiters.values.limit: must be a number");
	expect_extra("rate_limiters: {values: 5}\n",
	    "t.yaml:9: rate_limiters.values: must be a mapping");
	expect_extra("raft: 5\n", "t.yaml:9: raft: must be a mapping");
	expect_extra("trusted_proxies: {a: 1}\n",
	    "t.yaml:9: trusted_proxies: must be a list");
	expect_extra("trusted_proxies: [[1]]\n",
	    "t.yaml:9: trusted_proxies: must be a string");
	expect_one("instance_secret: \"0123456789abcdef0123\"\n"
		   "default_leader: node0\n"
		   "insid_home: /srv\n"
		   "nodes: [node0]\n",
	    "t.yaml:4: nodes: must be a mapping");
	expect_one("instance_secret: \"0123456789abcdef0123\"\n"
		   "default_leader: node0\n"
		   "insid_home: /srv\n"
		   "nodes: {node0: 1}\n",
	    "t.yaml:4: nodes.node0: must be a mapping");
	expect_one("[1, 2]\n", "t.yaml:1: (top level): must be a mapping");
	expect_one("", "t.yaml:1: (top level): must be a mapping");
	expect_one("just text\n", "t.yaml:1: (top level): must be a mapping");
	expect_one(BASE "? [a]\n: 1\n",
	    "t.yaml:9: (top level): keys must be "
	    "strings");
}
END_TEST

START_TEST(test_out_of_range)
{
	expect_one("instance_secret: \"0123456789abcde\"\n"
		   "default_leader: node0\n"
		   "insid_home: /srv\n" NODE0,
	    "t.yaml:1: instance_secret: must be at least 16 bytes long");
	expect_extra(
	    "root_prefix: \"\"\n", "t.yaml:9: root_prefix: must not be empty");
	expect_extra("root_prefix: a.b\n",
	    "t.yaml:9: root_prefix: must be 1-64 of A-Z a-z 0-9 _ -");
	expect_extra(
	    "root_prefix: "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaa\n",
	    "t.yaml:9: root_prefix: must be 1-64 of A-Z a-z 0-9 _ -");
	expect_extra("root_prefix: 123E4567-E89B-12D3-A456-426614174000\n",
	    "t.yaml:9: root_prefix: must not be shaped like a UUID");
	expect_extra("logging: {level: trace}\n",
	    "t.yaml:9: logging.level: must be debug, info, warn or error");
	expect_extra("cache: {standard_ttl: 999ms}\n",
	    "t.yaml:9: cache.standard_ttl: must be between 1s and 8760h");
	expect_extra("cache: {standard_ttl: 8760h1ms}\n",
	    "t.yaml:9: cache.standard_ttl: must be between 1s and 8760h");
	expect_extra("cache: {keys: 1h1s}\n",
	    "t.yaml:9: cache.keys: must be between 0s and 1h");
	expect_extra("sessions: {max_connections: 1000001}\n",
	    "t.yaml:9: sessions.max_connections: must be between 1 and "
	    "1000000");
	expect_extra("sessions: {send_queue: 0}\n",
	    "t.yaml:9: sessions.send_queue: must be between 1 and 65536");
	expect_extra("blobs: {max_size: -5}\n",
	    "t.yaml:9: blobs.max_size: must not be negative");
	expect_extra("limits: {max_value_size: 17MiB}\n",
	    "t.yaml:9: limits.max_value_size: must be between 1KiB and 16MiB");
	expect_extra("limits: {max_value_size: 1023}\n",
	    "t.yaml:9: limits.max_value_size: must be between 1KiB and 16MiB");
	expect_extra("raft: {heartbeat_interval: 9ms}\n",
	    "t.yaml:9: raft.heartbeat_interval: must be between 10ms and 1s");
	expect_extra("raft: {election_timeout: 61s}\n",
	    "t.yaml:9: raft.election_timeout: must be between 100ms and 1m");
	expect_extra("raft: {snapshot_threshold: 15}\n",
	    "t.yaml:9: raft.snapshot_threshold: must be at least 16");
	expect_extra("raft: {snapshot_trailing: -1}\n",
	    "t.yaml:9: raft.snapshot_trailing: must be between 0 and 1000000");
	expect_extra("rate_limiters: {values: {limit: 0}}\n",
	    "t.yaml:9: rate_limiters.values.limit: must be greater than 0");
	expect_extra("rate_limiters: {default: {burst: 0}}\n",
	    "t.yaml:9: rate_limiters.default.burst: must be at least 1");
}
END_TEST

START_TEST(test_missing_required)
{
	ck_assert_int_eq(parse("user: bob\n"), -1);
	ck_assert_uint_eq(errs.n, 4);
	ck_assert(has_msg(&errs,
	    "t.yaml:1: instance_secret: missing required "
	    "key"));
	ck_assert(has_msg(&errs,
	    "t.yaml:1: default_leader: missing required "
	    "key"));
	ck_assert(has_msg(&errs, "t.yaml:1: insid_home: missing required key"));
	ck_assert(has_msg(&errs, "t.yaml:1: nodes: missing required key"));
	expect_one("instance_secret: \"0123456789abcdef0123\"\n"
		   "default_leader: node0\n"
		   "insid_home: /srv\n"
		   "nodes:\n"
		   "  node0:\n"
		   "    public_binding: 127.0.0.1:8080\n"
		   "    raft_binding: 127.0.0.1:7000\n",
	    "t.yaml:6: nodes.node0.private_binding: missing required key");
	expect_one("instance_secret: \"0123456789abcdef0123\"\n"
		   "default_leader: node0\n"
		   "insid_home: /srv\n"
		   "nodes: {}\n",
	    "t.yaml:4: nodes: must list at least one node");
}
END_TEST

START_TEST(test_cross_keys)
{
	expect_one("instance_secret: \"0123456789abcdef0123\"\n"
		   "default_leader: node1\n"
		   "insid_home: /srv\n" NODE0,
	    "t.yaml:2: default_leader: \"node1\" is not a node of nodes");
	expect_extra("tls: {cert: /c.pem}\n",
	    "t.yaml:9: tls.cert: needs tls.key as well");
	expect_extra("tls: {key: /k.pem}\n",
	    "t.yaml:9: tls.key: needs tls.cert as well");
	expect_extra("server_must_use_tls: true\n",
	    "t.yaml:9: server_must_use_tls: requires tls.cert and tls.key");
	expect_extra("raft: {heartbeat_interval: 201ms}\n",
	    "t.yaml:9: raft.heartbeat_interval: must be at most a fifth of "
	    "raft.election_timeout (201ms > 1s / 5)");
	/* the default heartbeat is reported where the timeout was set */
	expect_extra("raft:\n  election_timeout: 400ms\n",
	    "t.yaml:10: raft.heartbeat_interval: must be at most a fifth of "
	    "raft.election_timeout (100ms > 400ms / 5)");
	expect_ok(BASE "raft: {heartbeat_interval: 200ms}\n"
		       "server_must_use_tls: true\n"
		       "tls: {cert: /c.pem, key: /k.pem}\n");
}
END_TEST

START_TEST(test_bindings)
{
	const char *two = "instance_secret: \"0123456789abcdef0123\"\n"
			  "default_leader: a\n"
			  "insid_home: /srv\n"
			  "control_socket: /run/{node}.sock\n"
			  "nodes:\n"
			  "  a: {public_binding: %s, private_binding: %s, "
			  "raft_binding: %s}\n"
			  "  b: {public_binding: %s, private_binding: %s, "
			  "raft_binding: %s%s}\n";
	char y[2048];

	snprintf(y, sizeof(y), two, "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3",
	    "127.0.0.1:4", "127.0.0.1:5", "127.0.0.1:1", "");
	expect_one(y,
	    "t.yaml:7: nodes.b.raft_binding: same host and port as "
	    "nodes.a.public_binding");
	/* equal IPv6 hosts are compared in canonical form */
	snprintf(y, sizeof(y), two, "\"[::1]:1\"", "127.0.0.1:2", "127.0.0.1:3",
	    "\"[0:0::1]:1\"", "127.0.0.1:5", "127.0.0.1:6", "");
	expect_one(y,
	    "t.yaml:7: nodes.b.public_binding: same host and port "
	    "as nodes.a.public_binding");
	snprintf(y, sizeof(y), two, "0.0.0.0:1", "127.0.0.1:2", "127.0.0.1:3",
	    "127.0.0.1:4", "127.0.0.1:5", "127.0.0.1:6", "");
	expect_one(y,
	    "t.yaml:6: nodes.a.public_binding: a wildcard host "
	    "needs nodes.a.client_domain when the file has more "
	    "than one node");
	snprintf(y, sizeof(y), two, "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3",
	    "\"[::]:4\"", "127.0.0.1:5", "127.0.0.1:6",
	    ", client_domain: b.example");
	expect_ok(y);
	/* in one node a wildcard takes the port on every address */
	snprintf(y, sizeof(y), two, "0.0.0.0:1", "127.0.0.1:1", "127.0.0.1:3",
	    "127.0.0.1:4", "127.0.0.1:5", "127.0.0.1:6", "");
	cfg_free(&cfg);
	cfg_errors_free(&errs);
	ck_assert_int_eq(parse(y), -1);
	ck_assert(has_msg(&errs,
	    "t.yaml:6: nodes.a.private_binding: port 1 "
	    "is also taken by nodes.a.public_binding"));
	/* nodes on one host need {node} in the control socket */
	snprintf(y, sizeof(y),
	    "instance_secret: \"0123456789abcdef0123\"\n"
	    "default_leader: a\n"
	    "insid_home: /srv\n"
	    "nodes:\n"
	    "  a: {public_binding: 127.0.0.1:1, private_binding: 127.0.0.1:2, "
	    "raft_binding: 127.0.0.1:3}\n"
	    "  b: {public_binding: 127.0.0.2:1, private_binding: 127.0.0.2:2, "
	    "raft_binding: 127.0.0.2:3}\n"
	    "  c: {public_binding: 10.0.0.1:1, private_binding: 10.0.0.1:2, "
	    "raft_binding: 10.0.0.1:3}\n");
	expect_one(y,
	    "t.yaml:1: control_socket: nodes a and b share a host: "
	    "put {node} in the path");
}
END_TEST

START_TEST(test_many_errors_at_once)
{
	ck_assert_int_eq(parse("instance_secret: short\n"
			       "default_leader: nodeX\n"
			       "colour: red\n"
			       "cache: {keys: 2h, standard_ttl: 5}\n"
			       "user: &a x\n"
			       "logging: {level: loud}\n"
			       "nodes:\n"
			       "  node0: {public_binding: 1.2.3.4:0}\n"),
	    -1);
	ck_assert_msg(errs.n == 10, "%s", all_msgs(&errs));
	ck_assert(has_msg(&errs, "t.yaml:5: user: anchors are not allowed"));
	ck_assert(has_msg(&errs,
	    "t.yaml:1: instance_secret: must be at least "
	    "16 bytes long"));
	ck_assert(has_msg(&errs, "t.yaml:3: colour: unknown key"));
	ck_assert(has_msg(&errs,
	    "t.yaml:4: cache.keys: must be between 0s "
	    "and 1h"));
	ck_assert(has_msg(&errs,
	    "t.yaml:4: cache.standard_ttl: needs a unit "
	    "(ms, s, m or h), e.g. 30s"));
	ck_assert(has_msg(&errs,
	    "t.yaml:6: logging.level: must be debug, "
	    "info, warn or error"));
	ck_assert(has_msg(&errs,
	    "t.yaml:8: nodes.node0.public_binding: port "
	    "must be 1-65535"));
	ck_assert(has_msg(&errs,
	    "t.yaml:8: nodes.node0.raft_binding: missing "
	    "required key"));
	ck_assert(has_msg(&errs,
	    "t.yaml:8: nodes.node0.private_binding: "
	    "missing required key"));
	ck_assert(has_msg(&errs,
	    "t.yaml:1: insid_home: missing required "
	    "key"));
}
END_TEST

START_TEST(test_error_limit_and_depth)
{
	size_t size = 3000 * 12 + 1, len = 0;
	char *y = malloc(size), deep[64], y2[512];

	for (int i = 0; i < 3000; i++)
		len += snprintf(y + len, size - len, "k%05d: 1\n", i);
	ck_assert_int_eq(
	    cfg_parse("t.yaml", y, len, NULL, 0, false, &cfg, &errs), -1);
	free(y);
	ck_assert_uint_eq(errs.n, 1001);
	ck_assert_str_eq(errs.msgs[0], "t.yaml:1: k00000: unknown key");
	ck_assert_str_eq(errs.msgs[1000],
	    "t.yaml: too many errors, stopping "
	    "here");
	cfg_errors_free(&errs);
	/* the root mapping and 31 lists fit, one more does not */
	memset(deep, '[', 31);
	memset(deep + 32, ']', 31);
	deep[31] = '1';
	expect_ok(BASE "rate_limiters: {values: {limit: 1}}\n");
	snprintf(y2, sizeof(y2), BASE "a: %.63s\n", deep);
	expect_one(y2, "t.yaml:9: a: unknown key");
	snprintf(y2, sizeof(y2), BASE "a: [%.63s]\n", deep);
	expect_one(y2, "t.yaml:9: a: nested too deeply");
	expect_one("a: b: c\n",
	    "t.yaml:1: (syntax): mapping values are not allowed in this "
	    "context");
	expect_one(BASE "---\nuser: x\n",
	    "t.yaml:9: (top level): only one YAML document is allowed");
}
END_TEST

START_TEST(test_file_limits)
{
	size_t big = 1024 * 1024 + 1;
	char *y = malloc(big);
	char path[] = "/tmp/check_config_XXXXXX";
	int fd;

	memset(y, '#', big);
	ck_assert_int_eq(
	    cfg_parse("big.yaml", y, big, NULL, 0, false, &cfg, &errs), -1);
	ck_assert_str_eq(errs.msgs[0], "big.yaml:1: (file): larger than 1 MiB");
	cfg_errors_free(&errs);
	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, y, big), (ssize_t)big);
	close(fd);
	ck_assert_int_eq(cfg_load(path, NULL, 0, false, &cfg, &errs), -1);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert(strstr(errs.msgs[0], ":1: (file): larger than 1 MiB"));
	cfg_errors_free(&errs);
	/* exactly 1 MiB of comments is accepted as text (no mapping) */
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, y, big - 1), (ssize_t)(big - 1));
	close(fd);
	ck_assert_int_eq(cfg_load(path, NULL, 0, false, &cfg, &errs), -1);
	ck_assert(strstr(errs.msgs[0], ":1: (top level): must be a mapping"));
	cfg_errors_free(&errs);
	unlink(path);
	free(y);
	ck_assert_int_eq(
	    cfg_load("/nonexistent/x.yaml", NULL, 0, false, &cfg, &errs), -1);
	ck_assert_str_eq(errs.msgs[0],
	    "/nonexistent/x.yaml:1: (file): cannot "
	    "open: No such file or directory");
}
END_TEST

/* damaged files never crash and always say why they fail */
START_TEST(test_mutations)
{
	static const char alphabet[] = "{}[]:,-&*!|>'\"#%@ \n\t01aZ.\\/";
	const char *good = BASE "permitted_ips: [\"*\"]\n"
				"rate_limiters: {values: {limit: 1}}\n";
	size_t len = strlen(good);
	char buf[1024];
	unsigned seed = 12345;

	for (int round = 0; round < 3000; round++) {
		memcpy(buf, good, len + 1);
		for (int k = 0; k < 1 + round % 4; k++) {
			seed = seed * 1103515245 + 12345;
			buf[(seed >> 8) % len] =
			    alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
		}
		if (parse(buf) == 0)
			ck_assert_uint_eq(errs.n, 0);
		else
			ck_assert_msg(
			    errs.n > 0, "round %d: no message", round);
		cfg_free(&cfg);
		cfg_errors_free(&errs);
	}
}
END_TEST

/* ---- overrides ---- */

START_TEST(test_overrides)
{
	char *ov[] = { "logging.level=debug",
		"nodes.node0.public_binding=127.0.0.1:9000",
		"instance_secret=\"a secret: with # and spaces\"",
		"permitted_ips=[\"*\", 10.0.0.0/8]",
		"nodes.node1.public_binding=127.0.0.1:9100",
		"nodes.node1.private_binding=127.0.0.1:9101",
		"nodes.node1.raft_binding=127.0.0.1:9102",
		"control_socket=/run/{node}.sock",
		"rate_limiters.cache.burst=9", "insid_home=rel/dir",
		"user=plain text # not a comment" };

	ck_assert_msg(cfg_parse("/etc/x.yaml", BASE, strlen(BASE), ov, 11,
			  false, &cfg, &errs) == 0,
	    "%s", all_msgs(&errs));
	ck_assert_int_eq(cfg.log_level, LOG_LEVEL_DEBUG);
	ck_assert_int_eq(cfg.nodes[0].public_binding.port, 9000);
	ck_assert_str_eq(cfg.instance_secret, "a secret: with # and spaces");
	ck_assert_uint_eq(cfg.n_permitted_ips, 2);
	ck_assert(cfg.permitted_ips[0].any);
	ck_assert_uint_eq(cfg.n_nodes, 2);
	ck_assert_str_eq(cfg.nodes[1].id, "node1");
	ck_assert_int_eq(cfg.nodes[1].raft_binding.port, 9102);
	ck_assert_int_eq(cfg.rate[CFG_RL_CACHE].burst, 9);
	ck_assert_str_eq(cfg.insid_home, "/etc/rel/dir");
	ck_assert_str_eq(cfg.user, "plain text # not a comment");
}
END_TEST

START_TEST(test_override_errors)
{
	char *ov[] = { "logging.level=5", "nope=1", "cache",
		"raft.election_timeout=1", "nodes.node0.public_binding=x:0",
		"user=\"unterminated", "=1", "cache..keys=1s",
		"rate_limiters.values.limit=0",
		/* plain text is not YAML: this is just a string */
		"user=*alias", "nodes.node0.public_binding.extra=1" };

	ck_assert_int_eq(parse_ov(BASE, ov, 11, false), -1);
	ck_assert_msg(errs.n == 10, "%s", all_msgs(&errs));
	ck_assert(has_msg(&errs, "-D:1: logging.level: must be a string"));
	ck_assert(has_msg(&errs, "-D:2: nope: unknown key"));
	ck_assert(has_msg(&errs, "-D:3: cache: must be name=value"));
	ck_assert(has_msg(&errs,
	    "-D:4: raft.election_timeout: needs a unit "
	    "(ms, s, m or h), e.g. 30s"));
	ck_assert(has_msg(&errs,
	    "-D:5: nodes.node0.public_binding: port must "
	    "be 1-65535"));
	ck_assert(has_msg(&errs,
	    "-D:6: user: found unexpected end of "
	    "stream"));
	ck_assert(has_msg(&errs, "-D:7: =1: must be name=value"));
	ck_assert(has_msg(&errs, "-D:8: cache..keys: unknown key"));
	ck_assert(has_msg(&errs,
	    "-D:9: rate_limiters.values.limit: must be "
	    "greater than 0"));
	ck_assert(has_msg(&errs,
	    "-D:11: nodes.node0.public_binding.extra: "
	    "unknown key"));
}
END_TEST

/* ---- warnings, environment, dump ---- */

START_TEST(test_warnings)
{
	struct cfg_errors w = { 0 };

	ck_assert_int_eq(parse("instance_secret: \"0123456789abcdef0123\"\n"
			       "default_leader: a\n"
			       "insid_home: /srv\n"
			       "nodes:\n"
			       "  a: {public_binding: 10.0.0.5:1, "
			       "private_binding: 10.0.0.5:2, raft_binding: "
			       "10.0.0.5:3}\n"
			       "  b: {public_binding: 0.0.0.0:1, "
			       "private_binding: host.example:2, raft_binding: "
			       "127.0.0.1:3, client_domain: b.example}\n"),
	    0);
	ck_assert_int_eq(cfg_warnings(&cfg, &w), 1);
	ck_assert_str_eq(w.msgs[0],
	    "t.yaml:5: nodes.a.public_binding: "
	    "10.0.0.5 is not matched by permitted_ips: "
	    "calls from this node will be refused");
	cfg_errors_free(&w);
	cfg_free(&cfg);
	ck_assert_int_eq(parse("instance_secret: \"0123456789abcdef0123\"\n"
			       "default_leader: a\n"
			       "insid_home: /srv\n"
			       "permitted_ips: [10.0.0.0/8]\n"
			       "nodes:\n"
			       "  a: {public_binding: 10.0.0.5:1, "
			       "private_binding: 10.0.0.5:2, raft_binding: "
			       "10.0.0.5:3}\n"),
	    0);
	ck_assert_int_eq(cfg_warnings(&cfg, &w), 0);
	/* "*" opens only the public binding: node calls still need a match */
	cfg_free(&cfg);
	ck_assert_int_eq(parse("instance_secret: \"0123456789abcdef0123\"\n"
			       "default_leader: a\n"
			       "insid_home: /srv\n"
			       "permitted_ips: [\"*\"]\n"
			       "nodes:\n"
			       "  a: {public_binding: 127.0.0.1:1, "
			       "private_binding: 10.0.0.5:2, raft_binding: "
			       "10.0.0.5:3}\n"),
	    0);
	ck_assert_int_eq(cfg_warnings(&cfg, &w), 2);
	cfg_errors_free(&w);
}
END_TEST

START_TEST(test_environment)
{
	char dir[] = "/tmp/check_config_env_XXXXXX", yaml[1024], cert[256];
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/c.pem", dir);
	f = fopen(cert, "w");
	ck_assert_ptr_nonnull(f);
	fputs("not a certificate\n", f);
	fclose(f);
	snprintf(yaml, sizeof(yaml),
	    "%stls: {cert: %s, key: %s/missing.key}\n"
	    "user: no-such-user-for-insidb\n",
	    BASE, cert, dir);
	ck_assert_int_eq(parse(yaml), 0);
	ck_assert_int_eq(cfg_check_environment(&cfg, false, &errs), -1);
	ck_assert_msg(errs.n == 1, "%s", all_msgs(&errs));
	ck_assert(strstr(errs.msgs[0], "t.yaml:9: tls.key: cannot read /tmp/"));
	ck_assert(strstr(errs.msgs[0],
	    "missing.key: No such file or "
	    "directory"));
	cfg_errors_free(&errs);
	/* the user is looked up only when started as root */
	ck_assert_int_eq(cfg_check_environment(&cfg, true, &errs), -1);
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(errs.msgs[1],
	    "t.yaml:10: user: no such user "
	    "\"no-such-user-for-insidb\"");
	cfg_errors_free(&errs);
	cfg_free(&cfg);
	/* readable files are then checked for being a certificate */
	snprintf(yaml, sizeof(yaml), "%stls: {cert: %s, key: %s}\n", BASE, cert,
	    cert);
	ck_assert_int_eq(parse(yaml), 0);
	ck_assert_int_eq(cfg_check_environment(&cfg, false, &errs), -1);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert(strstr(errs.msgs[0], "holds no PEM certificate"));
	cfg_errors_free(&errs);
	cfg_free(&cfg);
	ck_assert_int_eq(parse(BASE "user: root\n"), 0);
	ck_assert_int_eq(cfg_check_environment(&cfg, true, &errs), 0);
	ck_assert_uint_eq(errs.n, 0);
	unlink(cert);
	rmdir(dir);
}
END_TEST

/* a self-signed P-256 certificate with one subjectAltName, and its key */
static void
make_cert(const char *cert_path, const char *key_path, const char *san)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	FILE *f;

	ck_assert_ptr_nonnull(pkey);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pkey);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"insidb test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	ck_assert_ptr_nonnull(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(x, pkey, EVP_sha256()), 0);
	f = fopen(cert_path, "w");
	ck_assert_int_eq(PEM_write_X509(f, x), 1);
	fclose(f);
	f = fopen(key_path, "w");
	ck_assert_int_eq(
	    PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(pkey);
}

/* environment and certificate-name checks on BASE plus extra lines */
static void
check_tls_env(const char *extra, size_t n_want, const char *want)
{
	char yaml[1024];
	int rc;

	snprintf(yaml, sizeof(yaml), "%s%s", BASE, extra);
	cfg_free(&cfg);
	cfg_errors_free(&errs);
	ck_assert_msg(parse(yaml) == 0, "%s", all_msgs(&errs));
	rc = cfg_check_environment(&cfg, false, &errs);
	rc |= cfg_check_node_tls(&cfg, NULL, &errs);
	ck_assert_int_eq(rc, n_want ? -1 : 0);
	ck_assert_msg(errs.n == n_want, "%s", all_msgs(&errs));
	if (want != NULL)
		ck_assert_msg(has_msg(&errs, want), "%s", all_msgs(&errs));
}

START_TEST(test_tls_certificates)
{
	char dir[] = "/tmp/check_config_tls_XXXXXX", extra[512], want[512];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chdir(dir), 0);
	make_cert("ip.crt", "ip.key", "IP:127.0.0.1");
	make_cert("dns.crt", "dns.key", "DNS:db.example.net");
	/* an IP binding needs an IP SAN */
	snprintf(extra, sizeof(extra),
	    "tls: {cert: %s/ip.crt, key: %s/ip.key}\n", dir, dir);
	check_tls_env(extra, 0, NULL);
	snprintf(extra, sizeof(extra),
	    "tls: {cert: %s/dns.crt, key: %s/dns.key}\n", dir, dir);
	snprintf(want, sizeof(want),
	    "t.yaml:6: nodes.node0.public_binding: certificate %s/dns.crt is "
	    "not valid for 127.0.0.1",
	    dir);
	check_tls_env(extra, 1, want);
	/* client_domain replaces the binding host (it extends node0) */
	snprintf(extra, sizeof(extra),
	    "    client_domain: db.example.net\n"
	    "tls: {cert: %s/dns.crt, key: %s/dns.key}\n",
	    dir, dir);
	check_tls_env(extra, 0, NULL);
	snprintf(extra, sizeof(extra),
	    "    client_domain: other.example.net\n"
	    "tls: {cert: %s/dns.crt, key: %s/dns.key}\n",
	    dir, dir);
	snprintf(want, sizeof(want),
	    "t.yaml:6: nodes.node0.client_domain: certificate %s/dns.crt is "
	    "not valid for other.example.net",
	    dir);
	check_tls_env(extra, 1, want);
	/* a key of another certificate */
	snprintf(extra, sizeof(extra),
	    "tls: {cert: %s/ip.crt, key: %s/dns.key}\n", dir, dir);
	snprintf(want, sizeof(want),
	    "t.yaml:9: tls.key: %s/dns.key does not match tls.cert", dir);
	check_tls_env(extra, 1, want);
	/* each node may hold its own certificate: a start checks its own */
	snprintf(extra, sizeof(extra),
	    "  node1: {public_binding: 10.0.0.1:1, private_binding: "
	    "10.0.0.1:2, raft_binding: 10.0.0.1:3}\n"
	    "control_socket: /run/{node}.sock\n"
	    "tls: {cert: %s/ip.crt, key: %s/ip.key}\n",
	    dir, dir);
	snprintf(want, sizeof(want),
	    "t.yaml:9: nodes.node1.public_binding: certificate %s/ip.crt is "
	    "not valid for 10.0.0.1",
	    dir);
	check_tls_env(extra, 1, want);
	cfg_errors_free(&errs);
	ck_assert_int_eq(cfg_check_node_tls(&cfg, "node0", &errs), 0);
	ck_assert_int_eq(cfg_check_node_tls(&cfg, "node1", &errs), -1);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msgs[0], want);
	unlink("ip.crt");
	unlink("ip.key");
	unlink("dns.crt");
	unlink("dns.key");
	rmdir(dir);
}
END_TEST

START_TEST(test_dump_round_trip)
{
	char *text = NULL, *ov[] = { "instance_secret=0123456789abcdef0123" };
	size_t len = 0;
	struct cfg again;
	FILE *f;

	ck_assert_int_eq(parse(BASE "permitted_ips: [\"*\", 10.0.0.0/8]\n"
				    "rate_limiters: {events: {limit: 0.25}}\n"
				    "cache: {standard_ttl: 90m}\n"
				    "tls: {ca: /ca.pem}\n"
				    "blobs: {max_size: 0}\n"),
	    0);
	f = open_memstream(&text, &len);
	cfg_dump(&cfg, f);
	fclose(f);
	ck_assert(strstr(text, "instance_secret: \"<redacted>\"\n"));
	ck_assert(!strstr(text, "0123456789abcdef0123"));
	ck_assert(strstr(text, "  standard_ttl: 1h30m\n"));
	ck_assert(strstr(text, "  events: {limit: 0.25, burst: 400}\n"));
	ck_assert(strstr(text, "control_socket: \"/srv/insidb/insid.sock\""));
	/* the dump is itself a configuration giving the same values */
	ck_assert_msg(
	    cfg_parse("d.yaml", text, len, ov, 1, false, &again, &errs) == 0,
	    "%s\n%s", all_msgs(&errs), text);
	ck_assert_str_eq(again.instance_secret, cfg.instance_secret);
	ck_assert_str_eq(again.control_socket, cfg.control_socket);
	ck_assert_str_eq(again.tls_ca, "/ca.pem");
	ck_assert_uint_eq(again.n_permitted_ips, 2);
	ck_assert(again.permitted_ips[0].any);
	ck_assert_int_eq(again.permitted_ips[1].prefix, 8);
	ck_assert(again.rate[CFG_RL_EVENTS].limit == 0.25);
	ck_assert_int_eq(again.cache_standard_ttl_ms, 5400000);
	ck_assert_int_eq(again.blobs_max_size, 0);
	ck_assert_int_eq(again.raft_snapshot_trailing, 10240);
	ck_assert_str_eq(again.nodes[0].id, "node0");
	ck_assert_int_eq(again.nodes[0].raft_binding.port, 7000);
	cfg_free(&again);
	free(text);
}
END_TEST

/* ---- golden files ---- */

static size_t
read_lines(const char *path, char ***out)
{
	char line[4096], **v = NULL;
	size_t n = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0')
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		v[n++] = strdup(line);
	}
	fclose(f);
	*out = v;
	return n;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
free_lines(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static const char *
config_dir(const char *sub)
{
	static char path[PATH_MAX];
	const char *dir = getenv("CONFIG_DIR");

	ck_assert_msg(dir != NULL, "CONFIG_DIR is not set");
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	return path;
}

START_TEST(test_golden_good)
{
	DIR *d = opendir(config_dir("good"));
	struct dirent *de;
	int loaded = 0;

	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(chdir(config_dir("good")), 0);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		ck_assert_msg(
		    cfg_load(de->d_name, NULL, 0, false, &cfg, &errs) == 0,
		    "%s: %s", de->d_name, all_msgs(&errs));
		cfg_free(&cfg);
		loaded++;
	}
	closedir(d);
	ck_assert_int_ge(loaded, 3);
}
END_TEST

static void
golden_bad_one(const char *name)
{
	char base[256], path[300], **want = NULL, **ov = NULL;
	size_t n_want, n_ov = 0;
	int rc;

	snprintf(base, sizeof(base), "%.*s", (int)(strlen(name) - 5), name);
	snprintf(path, sizeof(path), "%s.err", base);
	n_want = read_lines(path, &want);
	ck_assert_msg(n_want > 0, "%s: no expected lines", path);
	snprintf(path, sizeof(path), "%s.opts", base);
	n_ov = read_lines(path, &ov);
	rc = cfg_load(name, ov, n_ov, false, &cfg, &errs);
	ck_assert_msg(rc == -1, "%s: accepted", name);
	qsort(want, n_want, sizeof(*want), str_cmp);
	qsort(errs.msgs, errs.n, sizeof(*errs.msgs), str_cmp);
	for (size_t i = 0; i < n_want || i < errs.n; i++)
		ck_assert_msg(i < n_want && i < errs.n &&
			strcmp(want[i], errs.msgs[i]) == 0,
		    "%s: want [%s] got [%s]; all: %s", name,
		    i < n_want ? want[i] : "(none)",
		    i < errs.n ? errs.msgs[i] : "(none)", all_msgs(&errs));
	free_lines(want, n_want);
	free_lines(ov, n_ov);
	cfg_errors_free(&errs);
}

START_TEST(test_golden_bad)
{
	DIR *d = opendir(config_dir("bad"));
	struct dirent *de;
	int checked = 0;

	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(chdir(config_dir("bad")), 0);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		golden_bad_one(de->d_name);
		checked++;
	}
	closedir(d);
	ck_assert_int_ge(checked, 12);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("syntax");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_non_scalar_keys);
	tcase_add_test(tc, test_durations);
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_addresses);
	tcase_add_test(tc, test_cidr);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_values_given);
	tcase_add_test(tc, test_relative_paths);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_unknown_keys);
	tcase_add_test(tc, test_duplicate_keys);
	tcase_add_test(tc, test_anchors_aliases_tags);
	tcase_add_test(tc, test_wrong_types);
	tcase_add_test(tc, test_out_of_range);
	tcase_add_test(tc, test_missing_required);
	tcase_add_test(tc, test_cross_keys);
	tcase_add_test(tc, test_bindings);
	tcase_add_test(tc, test_many_errors_at_once);
	tcase_add_test(tc, test_error_limit_and_depth);
	tcase_add_test(tc, test_file_limits);
	tcase_add_test(tc, test_mutations);
	suite_add_tcase(s, tc);

	tc = tcase_create("overrides");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_overrides);
	tcase_add_test(tc, test_override_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("runtime");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_warnings);
	tcase_add_test(tc, test_environment);
	tcase_add_test(tc, test_tls_certificates);
	tcase_add_test(tc, test_dump_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("golden");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_golden_good);
	tcase_add_test(tc, test_golden_bad);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
