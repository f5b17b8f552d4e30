/*
 * insid's command line: check the configuration (-n), run one role (-P,
 * internal), or start the supervisor.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

static void
insid_usage(void)
{
	fprintf(stderr,
	    "usage: insid [-dJnv] [-f file] [-N node_id] "
	    "[-D name=value] [--restore DIR [--force-new-cluster]]\n");
	exit(2);
}

static void
insid_print_errors(const struct cfg_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		fprintf(stderr, "%s\n", errs->msgs[i]);
}

static void
insid_print_warnings(const struct cfg *cfg)
{
	struct cfg_errors warns = { 0 };

	(void)cfg_warnings(cfg, &warns);
	for (size_t i = 0; i < warns.n; i++)
		fprintf(stderr, "warning: %s\n", warns.msgs[i]);
	cfg_errors_free(&warns);
}

/* -n: everything a start checks except binding the listeners */
static int
insid_check(const struct sup_opts *o)
{
	struct cfg_errors errs = { 0 };
	struct cfg cfg = { 0 };
	bool as_root = geteuid() == 0;
	int rc = 1;

	if (cfg_load(o->file, o->overrides, o->n_overrides, as_root, &cfg,
		&errs) == -1) {
		insid_print_errors(&errs);
		cfg_errors_free(&errs);
		return 1;
	}
	(void)cfg_check_environment(&cfg, as_root, &errs);
	if (o->node_id != NULL && cfg_node(&cfg, o->node_id) == NULL)
		fprintf(stderr, "%s: node %s is not in the configuration\n",
		    o->file, o->node_id);
	else if (cfg_check_node_tls(&cfg, o->node_id, &errs) == 0 &&
	    errs.n == 0) {
		insid_print_warnings(&cfg);
		printf("configuration OK\n");
		if (o->verbose)
			cfg_dump(&cfg, stdout);
		rc = 0;
	}
	insid_print_errors(&errs);
	cfg_errors_free(&errs);
	cfg_free(&cfg);
	return rc;
}

static void
insid_role(const char *name, int argc, char **argv,
    const struct role_hooks *const *hooks)
{
	int id = role_by_name(name);

	if (id == -1) {
		fprintf(stderr, "insid: unknown role %s\n", name);
		exit(2);
	}
	role_run(id, hooks[id], argc, argv);
}

static void
insid_parse(struct sup_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "restore", required_argument, NULL, 'R' },
		{ "force-new-cluster", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	o->file = "/etc/insid.yaml";
	while ((ch = getopt_long(argc, argv, "D:df:JN:nv", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'D':
			if (o->n_overrides >= SUP_OVERRIDES_MAX ||
			    strchr(optarg, '=') == NULL)
				insid_usage();
			o->overrides[o->n_overrides++] = optarg;
			break;
		case 'd':
			o->foreground = true;
			break;
		case 'f':
			o->file = optarg;
			break;
		case 'J':
			o->no_join = true;
			break;
		case 'N':
			o->node_id = optarg;
			break;
		case 'n':
			o->check_only = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'R':
			o->restore_dir = optarg;
			break;
		case 'F':
			o->force_new_cluster = true;
			break;
		default:
			insid_usage();
		}
	}
	if (optind != argc || (o->force_new_cluster && o->restore_dir == NULL))
		insid_usage();
}

static void
insid_daemonize(struct sup *s)
{
	if (s->opts.foreground)
		return;
	if (daemon(0, 0) == -1)
		fatal("daemon");
	log_init("insid", 0, s->log_level);
}

int
insid_main(int argc, char **argv, const struct role_hooks *const *hooks)
{
	static struct sup sup;
	struct sup *s = &sup;
	/* the supervisor re-executes itself as "insid -P role -U url ..." */
	if (argc >= 3 && strcmp(argv[1], "-P") == 0)
		insid_role(argv[2], argc, argv, hooks);
	insid_parse(&s->opts, argc, argv);
	if (s->opts.check_only)
		return insid_check(&s->opts);
	s->hooks = hooks;
	s->as_root = geteuid() == 0;
	s->control_fd = -1;
	log_init("insid", 1, LOG_LEVEL_INFO);
	if (sup_load_config(s) == -1)
		return 1;
	s->log_level = sup_initial_log_level(s);
	log_set_level(s->log_level);
	if (sup_prepare(s) == -1 || control_bind(s) == -1)
		return 1;
	insid_daemonize(s);
	sup_write_pidfile(s, "insid", getpid());
	sup_log_listeners(s);
	return sup_run(s);
}
