/*
 * insidbctl's output: one back end for aligned text, one for JSON.
 */
#ifndef SUPERVISOR_CTL_OUTPUT_H
#define SUPERVISOR_CTL_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include <json-c/json.h>

#include "supervisor/ctl_proto.h"

/* a successful reply of cmd */
void
ctl_output(FILE *, const struct ctl_cmd *, struct json_object *, bool json);
/* a refused or failed request: the error and its details, one per line */
void ctl_output_error(FILE *, struct json_object *);

#endif
