//
// podsandboxd - the error contract (see error.h, docs/error-handling.md).
//

#include "base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

static const struct {
	const char *name;
	const char *msg;
} err_table[] = {
#define PSB_ERR_TABLE_(name, msg) {"PSB_" #name, msg},
        PSB_ERRORS(PSB_ERR_TABLE_)
#undef PSB_ERR_TABLE_
};

static int
err_index(int code)
{
	int i = code - (PSB_ERR_FIRST_ + 1);

	return (i >= 0 && i < (int)(sizeof(err_table) / sizeof(err_table[0]))
	                ? i
	                : -1);
}

const char *
psb_strerror(int code)
{
	int i;

	if (code == PSB_OK) {
		return ("success");
	}
	i = err_index(code);
	return (i >= 0 ? err_table[i].msg : "unknown error");
}

const char *
psb_errname(int code)
{
	int i;

	if (code == PSB_OK) {
		return ("PSB_OK");
	}
	i = err_index(code);
	return (i >= 0 ? err_table[i].name : "PSB_E?");
}

static int error_vset(psb_error_t *err, int code, int sys_errno,
        const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static int
error_vset(
        psb_error_t *err, int code, int sys_errno, const char *fmt, va_list ap)
{
	char *msg = NULL;

	if (err == NULL) {
		return (code);
	}
	if (vasprintf(&msg, fmt, ap) < 0) {
		psb_oom();
	}
	if (sys_errno != 0) {
		char *full = xasprintf("%s: %s", msg, strerror(sys_errno));

		free(msg);
		msg = full;
	}
	free(err->msg);
	err->code      = code;
	err->sys_errno = sys_errno;
	err->msg       = msg;
	return (code);
}

int
psb_error_make(psb_error_t *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(err, code, 0, fmt, ap);
	va_end(ap);
	return (code);
}

int
psb_error_sys(psb_error_t *err, int code, int sys_errno, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_vset(err, code, sys_errno, fmt, ap);
	va_end(ap);
	return (code);
}

int
psb_error_wrap(psb_error_t *err, const char *fmt, ...)
{
	va_list ap;
	char   *prefix = NULL;
	char   *full;

	if (err == NULL) {
		return (PSB_EINTERNAL);
	}
	va_start(ap, fmt);
	if (vasprintf(&prefix, fmt, ap) < 0) {
		psb_oom();
	}
	va_end(ap);
	full = xasprintf("%s: %s", prefix, psb_error_message(err));
	free(prefix);
	free(err->msg);
	err->msg = full;
	return (err->code);
}

const char *
psb_error_message(const psb_error_t *err)
{
	if (err == NULL) {
		return ("");
	}
	return (err->msg != NULL ? err->msg : psb_strerror(err->code));
}

void
psb_error_release(psb_error_t *err)
{
	if (err != NULL) {
		free(err->msg);
		err->msg       = NULL;
		err->code      = 0;
		err->sys_errno = 0;
	}
}
