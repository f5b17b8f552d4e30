/*
 * What is done with a loaded configuration besides reading fields: the
 * start-time checks that need the file system (TLS files, certificate
 * names, the user), the permitted_ips warnings, and the dump for -n -v.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/config.h"
#include "common/config_impl.h"
#include "common/log.h"
static void
check_readable(const struct cfg *cfg, struct cfg_errors *errs, const char *key,
    size_t k, const char *path)
{
	int fd;

	if (path == NULL)
		return;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		cfg_msg(errs, cfg, cfg->where->key[k], key,
		    "cannot read %s: %s", path, strerror(errno));
		return;
	}
	close(fd);
}

static bool
cert_names(X509 *x509, const char *host)
{
	uint8_t bin[16];

	if (cfg_host_ip(host, bin) != 0)
		return X509_check_ip_asc(x509, host, 0) == 1;
	return X509_check_host(x509, host, 0, 0, NULL) == 1;
}

/* the certificate must name every host a node is reached by */
static void
check_cert_node(
    const struct cfg *cfg, struct cfg_errors *errs, X509 *x509, size_t i)
{
	const struct cfg_node *node = &cfg->nodes[i];
	char key[128], seen[3][CFG_HOST_MAX + 1];

	if (node->client_domain != NULL) {
		if (cert_names(x509, node->client_domain))
			return;
		snprintf(key, sizeof(key), "nodes.%s.client_domain", node->id);
		cfg_msg(errs, cfg, cfg->where->node[4 * i], key,
		    "certificate %s is not valid for %s", cfg->tls_cert,
		    node->client_domain);
		return;
	}
	for (size_t k = 0; k < 3; k++) {
		const struct cfg_addr *a =
		    cfg_node_addr((struct cfg_node *)node, k);
		bool dup = false;

		cfg_host_canon(a->host, seen[k], sizeof(seen[k]));
		for (size_t j = 0; j < k; j++)
			dup |= strcmp(seen[j], seen[k]) == 0;
		if (dup || cfg_addr_is_wildcard(a) || cert_names(x509, a->host))
			continue;
		cfg_binding_key(node, k, key, sizeof(key));
		cfg_msg(errs, cfg, cfg->where->node[4 * i + 1 + k], key,
		    "certificate %s is not valid for %s", cfg->tls_cert,
		    a->host);
	}
}

/* an encrypted key cannot be used unattended: never prompt */
static int
no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf, (void)size, (void)rwflag, (void)arg;
	return -1;
}

static void
check_tls_key(const struct cfg *cfg, struct cfg_errors *errs, X509 *x509)
{
	EVP_PKEY *pkey;
	FILE *f;

	if ((f = fopen(cfg->tls_key, "r")) == NULL)
		return;
	pkey = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (pkey == NULL)
		cfg_msg(errs, cfg, cfg->where->key[K_KEY], "tls.key",
		    "%s holds no unencrypted PEM private key", cfg->tls_key);
	else if (X509_check_private_key(x509, pkey) != 1)
		cfg_msg(errs, cfg, cfg->where->key[K_KEY], "tls.key",
		    "%s does not match tls.cert", cfg->tls_key);
	EVP_PKEY_free(pkey);
}

/* NULL when there is no usable certificate (reported unless absent) */
static X509 *
read_cert(const struct cfg *cfg, struct cfg_errors *errs)
{
	X509 *x509;
	FILE *f;

	if (cfg->tls_cert == NULL)
		return NULL;
	if ((f = fopen(cfg->tls_cert, "r")) == NULL) {
		cfg_msg(errs, cfg, cfg->where->key[K_CERT], "tls.cert",
		    "cannot read %s: %s", cfg->tls_cert, strerror(errno));
		return NULL;
	}
	x509 = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x509 == NULL) {
		cfg_msg(errs, cfg, cfg->where->key[K_CERT], "tls.cert",
		    "%s holds no PEM certificate", cfg->tls_cert);
		ERR_clear_error();
	}
	return x509;
}

static void
check_tls(const struct cfg *cfg, struct cfg_errors *errs)
{
	X509 *x509;

	if (cfg->tls_key == NULL || (x509 = read_cert(cfg, errs)) == NULL)
		return;
	check_tls_key(cfg, errs, x509);
	X509_free(x509);
	ERR_clear_error();
}

int
cfg_check_node_tls(
    const struct cfg *cfg, const char *node_id, struct cfg_errors *errs)
{
	size_t before = errs->n;
	X509 *x509 = read_cert(cfg, errs);

	if (x509 == NULL)
		return errs->n > before ? -1 : 0;
	for (size_t i = 0; i < cfg->n_nodes; i++)
		if (node_id == NULL || strcmp(cfg->nodes[i].id, node_id) == 0)
			check_cert_node(cfg, errs, x509, i);
	X509_free(x509);
	ERR_clear_error();
	return errs->n > before ? -1 : 0;
}

int
cfg_check_environment(
    const struct cfg *cfg, bool as_root, struct cfg_errors *errs)
{
	size_t before = errs->n;

	check_readable(cfg, errs, "tls.cert", K_CERT, cfg->tls_cert);
	check_readable(cfg, errs, "tls.key", K_KEY, cfg->tls_key);
	check_readable(cfg, errs, "tls.ca", K_CA, cfg->tls_ca);
	if (errs->n == before)
		check_tls(cfg, errs);
	if (as_root && getpwnam(cfg->user) == NULL)
		cfg_msg(errs, cfg, cfg->where->key[K_USER], "user",
		    "no such user \"%s\"", cfg->user);
	return errs->n > before ? -1 : 0;
}

int
cfg_warnings(const struct cfg *cfg, struct cfg_errors *out)
{
	size_t before = out->n;
	char key[128], seen[3][CFG_HOST_MAX + 1];
	uint8_t bin[16];
	int family;

	for (size_t i = 0; i < cfg->n_nodes; i++) {
		struct cfg_node *node = &cfg->nodes[i];

		for (size_t k = 0; k < 3; k++) {
			struct cfg_addr *a = cfg_node_addr(node, k);
			bool dup = false;

			cfg_host_canon(a->host, seen[k], sizeof(seen[k]));
			for (size_t j = 0; j < k; j++)
				dup |= strcmp(seen[j], seen[k]) == 0;
			family = cfg_host_ip(a->host, bin);
			if (dup || family == 0 || cfg_addr_is_wildcard(a) ||
			    cfg_net_match(cfg->permitted_ips,
				cfg->n_permitted_ips, family, bin, false))
				continue;
			cfg_binding_key(node, k, key, sizeof(key));
			cfg_msg(out, cfg, cfg->where->node[4 * i + 1 + k], key,
			    "%s is not matched by permitted_ips: calls from "
			    "this node will be refused",
			    seen[k]);
		}
	}
	return (int)(out->n - before);
}

/* ---- dump ---- */

static void
dump_str(FILE *f, const char *indent, const char *key, const char *s)
{
	fprintf(f, "%s%s: \"", indent, key);
	for (; *s != '\0'; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fprintf(f, "\"\n");
}

static void
dump_nets(FILE *f, const char *key, const struct cfg_net *nets, size_t n)
{
	char buf[INET6_ADDRSTRLEN];

	fprintf(f, "%s: [", key);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s", i ? ", " : "");
		if (nets[i].any) {
			fprintf(f, "\"*\"");
			continue;
		}
		inet_ntop(nets[i].family, nets[i].addr, buf, sizeof(buf));
		fprintf(f, "\"%s", buf);
		if (nets[i].prefix != (nets[i].family == AF_INET ? 32 : 128))
			fprintf(f, "/%d", nets[i].prefix);
		fprintf(f, "\"");
	}
	fprintf(f, "]\n");
}

static void
dump_addr(FILE *f, const char *key, const struct cfg_addr *a)
{
	fprintf(f, "    %s: \"%s%s%s:%u\"\n", key, a->ipv6 ? "[" : "", a->host,
	    a->ipv6 ? "]" : "", a->port);
}

static void
dump_value(FILE *f, const struct cfg *cfg, size_t i)
{
	const struct key_spec *ks = &cfg_key_specs[i];
	const char *base = (const char *)cfg, *dot = strchr(ks->path, '.');
	const char *indent = dot ? "  " : "", *name = dot ? dot + 1 : ks->path;
	int64_t v = ks->type >= KT_INT && ks->type <= KT_SIZE
	    ? *(const int64_t *)(base + ks->off)
	    : 0;
	char buf[64];

	switch (ks->type) {
	case KT_SECRET:
		dump_str(f, indent, name, "<redacted>");
		break;
	case KT_STR:
	case KT_PREFIX:
	case KT_PATH:
		if (*(char *const *)(base + ks->off) != NULL)
			dump_str(
			    f, indent, name, *(char *const *)(base + ks->off));
		break;
	case KT_BOOL:
		fprintf(f, "%s%s: %s\n", indent, name,
		    *(const bool *)(base + ks->off) ? "true" : "false");
		break;
	case KT_INT:
		fprintf(f, "%s%s: %lld\n", indent, name, (long long)v);
		break;
	case KT_DUR:
		cfg_fmt_duration(v, buf, sizeof(buf));
		fprintf(f, "%s%s: %s\n", indent, name, buf);
		break;
	case KT_SIZE:
		cfg_fmt_size(v, buf, sizeof(buf));
		fprintf(f, "%s%s: %s\n", indent, name, buf);
		break;
	case KT_LEVEL:
		fprintf(f, "%s%s: %s\n", indent, name,
		    log_level_name(cfg->log_level));
		break;
	case KT_NETS:
		dump_nets(
		    f, name, cfg->trusted_proxies, cfg->n_trusted_proxies);
		break;
	case KT_NETS_ANY:
		dump_nets(f, name, cfg->permitted_ips, cfg->n_permitted_ips);
		break;
	}
}

void
cfg_dump(const struct cfg *cfg, FILE *f)
{
	const char *section = NULL;
	size_t len, section_len = 0;

	fprintf(f, "# effective configuration of %s\n", cfg->file);
	for (size_t i = 0; i < CFG_N_KEYS; i++) {
		const char *path = cfg_key_specs[i].path,
			   *dot = strchr(path, '.');

		len = dot ? (size_t)(dot - path) : 0;
		if (dot &&
		    (section == NULL || section_len != len ||
			strncmp(section, path, len) != 0)) {
			section = path;
			section_len = len;
			fprintf(f, "%.*s:%s\n", (int)len, path,
			    strncmp(path, "tls.", 4) == 0 &&
				    cfg->tls_cert == NULL &&
				    cfg->tls_key == NULL && cfg->tls_ca == NULL
				? " {}"
				: "");
		} else if (!dot)
			section = NULL;
		dump_value(f, cfg, i);
		if (i == K_PERMITTED) {
			fprintf(f, "rate_limiters:\n");
			for (int c = 0; c < CFG_RL_COUNT; c++)
				fprintf(f, "  %s: {limit: %g, burst: %lld}\n",
				    cfg_rl_names[c], cfg->rate[c].limit,
				    (long long)cfg->rate[c].burst);
		}
	}
	fprintf(f, "nodes:\n");
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		const struct cfg_node *node = &cfg->nodes[i];

		fprintf(f, "  %s:\n", node->id);
		dump_addr(f, "public_binding", &node->public_binding);
		dump_addr(f, "private_binding", &node->private_binding);
		dump_addr(f, "raft_binding", &node->raft_binding);
		if (node->client_domain != NULL)
			dump_str(
			    f, "    ", "client_domain", node->client_domain);
	}
}
