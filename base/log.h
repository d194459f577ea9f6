//
// podsandboxd - logging (STYLE.md practice 18).
//
// One macro, filtered before its arguments are evaluated, with a pluggable
// sink. Every line about a sandbox names it: use psb_log_sb. Thread-safe
// (a line is written with one write(2)).
//

#ifndef PSB_BASE_LOG_H
#define PSB_BASE_LOG_H

#include <stdbool.h>

typedef enum psb_log_level {
	PSB_LOG_ERROR = 0,
	PSB_LOG_WARN  = 1,
	PSB_LOG_INFO  = 2,
	PSB_LOG_DEBUG = 3,
} psb_log_level;

typedef enum psb_log_format {
	PSB_LOG_TEXT = 0, // "2026-11-28T13:00:00.123Z info [sandbox=x] msg"
	PSB_LOG_JSON = 1, // one JSON object per line: ts, level, sandbox, msg
} psb_log_format;

// The level at or below which lines are written. Read without locking.
extern psb_log_level psb_log_threshold;

// psb_log_setup chooses the level, the format and the file descriptor
// (stderr by default). Call before any other thread logs.
void psb_log_setup(psb_log_level level, psb_log_format fmt, int fd);

// psb_log_level_parse maps "error|warn|info|debug" to a level; -1 if bad.
int psb_log_level_parse(const char *s);

// psb_log_level_name returns "error", "warn", "info" or "debug".
const char *psb_log_level_name(psb_log_level level);

// psb_log_write formats and writes one line; sandbox_id may be NULL.
// Prefer the macros, which skip the call when the level is filtered out.
void psb_log_write(psb_log_level level, const char *sandbox_id,
        const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define psb_log(level, ...)                                        \
	do {                                                       \
		if ((level) <= psb_log_threshold)                  \
			psb_log_write((level), NULL, __VA_ARGS__); \
	} while (0)

#define psb_log_sb(level, sb_id, ...)                                 \
	do {                                                          \
		if ((level) <= psb_log_threshold)                     \
			psb_log_write((level), (sb_id), __VA_ARGS__); \
	} while (0)

#endif // PSB_BASE_LOG_H
