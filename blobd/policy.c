#include "blobd/policy.h"

int64_t
policy_fetch_backoff_ms(int failed)
{
	if (failed < 1 || failed > FETCH_RETRIES)
		return -1;
	return 1000ll << (failed - 1);
}

enum repair_action
policy_repair(const struct repair_file *f, time_t started)
{
	if (!f->has_meta) {
		if (!f->exists || f->ctime >= started - REPAIR_YOUNG_S)
			return REPAIR_KEEP;
		return f->orphan_before ? REPAIR_DELETE : REPAIR_SUSPECT;
	}
	/* tombstoned: GC purges the file, and nobody reads it meanwhile */
	if (!f->live)
		return REPAIR_KEEP;
	if (!f->exists || f->size != f->meta_size)
		return REPAIR_FETCH;
	if (f->hashed && !f->hash_ok)
		return REPAIR_DELETE_FETCH;
	return REPAIR_KEEP;
}

bool
policy_tmp_expired(time_t mtime, time_t now)
{
	return now - mtime >= REPAIR_TMP_AGE_S;
}
