/*
 * insid: the supervisor, and each role when re-executed with -P.
 */
#include "blobd/blobd.h"
#include "raftd/raftd.h"
#include "supervisor/supervisor.h"

#if __has_include("apid/apid.h")
#include "apid/apid.h"
#else
extern const struct role_hooks apid_hooks;
#endif

int
main(int argc, char **argv)
{
	static const struct role_hooks *const hooks[ROLE_COUNT] = {
		[ROLE_RAFTD] = &raftd_hooks,
		[ROLE_APID] = &apid_hooks,
		[ROLE_BLOBD] = &blobd_hooks,
	};

	return insid_main(argc, argv, hooks);
}
