//
// podsandboxd - logging (see log.h). Each line is built in memory and
// written with one write(2), so lines from different threads never mix.
//

#include "base/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"

psb_log_level         psb_log_threshold = PSB_LOG_INFO;
static psb_log_format log_format        = PSB_LOG_TEXT;
static int            log_fd            = STDERR_FILENO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void
psb_log_setup(psb_log_level level, psb_log_format fmt, int fd)
{
	psb_log_threshold = level;
	log_format        = fmt;
	log_fd            = fd;
}

int
psb_log_level_parse(const char *s)
{
	for (int i = 0; s != NULL && i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			return (i);
		}
	}
	if (s != NULL && strcmp(s, "warning") == 0) {
		return (PSB_LOG_WARN);
	}
	return (-1);
}

const char *
psb_log_level_name(psb_log_level level)
{
	return ((unsigned)level < 4 ? level_names[level] : "?");
}

static void
log_emit(const char *line, size_t len)
{
	while (len > 0) {
		ssize_t n = write(log_fd, line, len);

		if (n <= 0) {
			return; // nowhere to report a failing log sink
		}
		line += n;
		len -= (size_t)n;
	}
}

void
psb_log_write(
        psb_log_level level, const char *sandbox_id, const char *fmt, ...)
{
	va_list ap;
	char    ts[40];
	char   *msg  = NULL;
	char   *line = NULL;
	int     n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		return;
	}
	psb_time_format(psb_now_ns(), ts, sizeof(ts));
	if (log_format == PSB_LOG_JSON) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "ts", ts, "level",
		        psb_log_level_name(level), "msg", msg);
		char   *s;

		if (o == NULL) {
			free(msg);
			return;
		}
		if (sandbox_id != NULL) {
			json_object_set_new(
			        o, "sandbox", json_string(sandbox_id));
		}
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		if (s != NULL) {
			n = asprintf(&line, "%s\n", s);
			free(s);
		} else {
			n = -1;
		}
	} else if (sandbox_id != NULL) {
		n = asprintf(&line, "%s %-5s [sandbox=%s] %s\n", ts,
		        psb_log_level_name(level), sandbox_id, msg);
	} else {
		n = asprintf(&line, "%s %-5s %s\n", ts,
		        psb_log_level_name(level), msg);
	}
	free(msg);
	if (n >= 0) {
		log_emit(line, (size_t)n);
		free(line);
	}
}
