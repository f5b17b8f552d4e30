#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "raftd/keys.h"
#include "raftd/store.h"

#define STORE_WAL_MAX (256ull * 1024 * 1024)

static const char *const store_cf_names[STORE_CF_COUNT] = { "default", "log",
	"raft", "kv", "cache", "meta", "blob" };

static void
store_free_handles(struct store *s)
{
	for (int i = 0; i < STORE_CF_COUNT; i++)
		if (s->cf[i] != NULL)
			rocksdb_column_family_handle_destroy(s->cf[i]);
	if (s->db != NULL)
		rocksdb_close(s->db);
	if (s->ro != NULL)
		rocksdb_readoptions_destroy(s->ro);
	if (s->wo_sync != NULL)
		rocksdb_writeoptions_destroy(s->wo_sync);
	if (s->wo_nosync != NULL)
		rocksdb_writeoptions_destroy(s->wo_nosync);
	if (s->opts != NULL)
		rocksdb_options_destroy(s->opts);
	free(s);
}

struct store *
store_open(const char *path)
{
	const rocksdb_options_t *cf_opts[STORE_CF_COUNT];
	struct store *s;
	char *err = NULL;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("%s", __func__);
		return NULL;
	}
	s->opts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(s->opts, 1);
	rocksdb_options_set_create_missing_column_families(s->opts, 1);
	/*
	 * rarely written column families (raft, cache) would otherwise pin
	 * every WAL file until 4 write buffers per family have filled
	 */
	rocksdb_options_set_max_total_wal_size(s->opts, STORE_WAL_MAX);
	rocksdb_options_set_keep_log_file_num(s->opts, 4);
	for (int i = 0; i < STORE_CF_COUNT; i++)
		cf_opts[i] = s->opts;
	s->db = rocksdb_open_column_families(s->opts, path, STORE_CF_COUNT,
	    store_cf_names, cf_opts, s->cf, &err);
	if (err != NULL) {
		log_warnx("%s: %s: %s", __func__, path, err);
		rocksdb_free(err);
		memset(s->cf, 0, sizeof(s->cf));
		s->db = NULL;
		store_free_handles(s);
		return NULL;
	}
	s->ro = rocksdb_readoptions_create();
	s->wo_sync = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(s->wo_sync, 1);
	s->wo_nosync = rocksdb_writeoptions_create();
	return s;
}

void
store_close(struct store *s)
{
	if (s != NULL)
		store_free_handles(s);
}

int
store_get(struct store *s, enum store_cf cf, const void *key, size_t klen,
    char **val, size_t *vlen)
{
	char *err = NULL;

	*val = rocksdb_get_cf(s->db, s->ro, s->cf[cf], key, klen, vlen, &err);
	if (err != NULL) {
		log_warnx("%s: %s", __func__, err);
		rocksdb_free(err);
		return -1;
	}
	return *val != NULL;
}

void
store_applied(struct store *s, uint64_t *index, uint64_t *term)
{
	char *val;
	size_t vlen;
	int found;

	found = store_get(s, STORE_CF_META, KEYS_META_APPLIED,
	    strlen(KEYS_META_APPLIED), &val, &vlen);
	if (found == -1)
		fatalx("%s: cannot read the applied index", __func__);
	*index = *term = 0;
	if (found == 0)
		return;
	if (vlen != 16)
		fatalx("%s: applied record of %zu bytes", __func__, vlen);
	*index = keys_get_u64((const uint8_t *)val);
	*term = keys_get_u64((const uint8_t *)val + 8);
	rocksdb_free(val);
}

uint64_t
store_size_bytes(struct store *s)
{
	static const char *const props[] = { "rocksdb.total-sst-files-size",
		"rocksdb.size-all-mem-tables" };
	uint64_t total = 0, v;

	for (int i = 0; i < STORE_CF_COUNT; i++)
		for (size_t p = 0; p < sizeof(props) / sizeof(props[0]); p++)
			if (rocksdb_property_int_cf(
				s->db, s->cf[i], props[p], &v) == 0)
				total += v;
	return total;
}
