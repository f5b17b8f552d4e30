/*
 * The apid role: public and private HTTP(S) listeners, the request
 * pipeline and the handlers, talking to raftd over IPC.
 */
#ifndef APID_APID_H
#define APID_APID_H

#include "common/role.h"

extern const struct role_hooks apid_hooks;

#endif
