/*
 * Logging: stderr in the foreground (-d), syslog otherwise.  Every line
 * carries the role name.  Never pass a token, key or secret to these.
 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO = 1,
	LOG_LEVEL_WARN = 2,
	LOG_LEVEL_ERROR = 3,
};

void log_init(const char *role, int foreground, int level);
void log_set_role(const char *role);
void log_set_level(int level);
int log_get_level(void);
/* "debug" ... "error" -> level, -1 if unknown */
int log_level_parse(const char *);
const char *log_level_name(int);

void log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
/* appends strerror(errno) */
void log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_errorx(const char *, ...) __attribute__((format(printf, 1, 2)));
/* the process can no longer keep its invariants: log and exit(1) */
void fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
