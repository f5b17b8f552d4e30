/*
 * The state machine fixture of fsm_fixture.h.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "tests/unit/fsm_fixture.h"

struct store *fixture_store;
struct fsm *fixture_fsm;
static char fixture_dir[64];

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
fixture_setup(void)
{
	snprintf(fixture_dir, sizeof(fixture_dir), "/tmp/check_fsm.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fixture_dir));
	fixture_store = store_open(fixture_dir);
	ck_assert_ptr_nonnull(fixture_store);
	fixture_fsm = fsm_open(fixture_store, FIXTURE_ROOT);
}

void
fixture_teardown(void)
{
	fsm_free(fixture_fsm);
	store_close(fixture_store);
	fixture_fsm = NULL;
	fixture_store = NULL;
	nftw(fixture_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

uint16_t
fixture_apply(const struct cmd *c, struct fsm_result *res)
{
	struct fsm_entry e = { 0 };
	struct fsm_result local;
	uint64_t index, term;
	struct pbuf pb;
	uint16_t status;

	pb_init(&pb);
	cmd_encode(&pb, c);
	ck_assert_int_eq(pb.err, 0);
	fsm_applied(fixture_fsm, &index, &term);
	e.index = index + 1;
	e.term = 1;
	e.data = pb.data;
	e.len = pb.len;
	fsm_apply(fixture_fsm, &e, 1, res != NULL ? res : &local);
	pb_free(&pb);
	status = res != NULL ? res->status : local.status;
	if (res == NULL)
		fsm_result_clear(&local);
	return status;
}

uint64_t
fixture_usage(const char *scope, enum fsm_counter ctr)
{
	struct fsm_usage u;

	ck_assert_int_eq(fsm_usage_read(fixture_fsm, scope, &u), 0);
	return u.c[ctr];
}
