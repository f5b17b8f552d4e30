/*
 * The configuration file parser on arbitrary bytes, once as an ordinary
 * user and once as root (the defaults differ).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

static void
parse_once(const char *buf, size_t len, bool as_root)
{
	struct cfg cfg;
	struct cfg_errors errs = { 0 };

	if (cfg_parse("/etc/insidb/fuzz.yaml", buf, len, NULL, 0, as_root, &cfg,
		&errs) == 0) {
		if (errs.n != 0)
			abort();
		cfg_free(&cfg);
	} else if (errs.n == 0) {
		/* a refusal always says why */
		abort();
	}
	for (size_t i = 0; i < errs.n; i++)
		if (errs.msgs[i] == NULL || errs.msgs[i][0] == '\0')
			abort();
	cfg_errors_free(&errs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exact-length copy: the parser takes a length, not a string */
	char *buf = malloc(size ? size : 1);

	if (buf == NULL)
		abort();
	if (size)
		memcpy(buf, data, size);
	parse_once(buf, size, size % 2 == 1);
	free(buf);
	return 0;
}
