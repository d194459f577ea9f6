//
// podsandboxd - the error contract (docs/error-handling.md).
//
// Functions return int: 0 (PSB_OK) on success, a negative psb_err on
// failure; or a pointer, NULL on failure. A function that can fail with
// context takes a psb_error_t *err as its last argument, fills it only on
// failure, and never touches it on success.
//

#ifndef PSB_BASE_ERROR_H
#define PSB_BASE_ERROR_H

#include <stdarg.h>

// The closed set of domain error codes. PSB_ERRORS(X) generates the enum,
// the names and the default messages from one list. Values are negative so
// that "rv < 0" means failure everywhere.
#define PSB_ERRORS(X)                                              \
	X(EINVAL, "invalid argument")                              \
	X(ENOENT, "not found")                                     \
	X(EEXIST, "already exists")                                \
	X(ESTATE, "not allowed in this state")                     \
	X(ETIMEDOUT, "deadline exceeded")                          \
	X(EUNAVAIL, "unavailable")                                 \
	X(EPERM, "permission denied")                              \
	X(ENOSPC, "resource exhausted")                            \
	X(ERUNTIME, "runtime error")                               \
	X(ESTORE, "store error")                                   \
	X(ECORRUPT, "store is corrupt")                            \
	X(EBUSY, "busy (in use by another process)")               \
	X(EPROTO, "protocol error")                                \
	X(ESTALE, "stale event (older generation or wrong state)") \
	X(ECANCELED, "canceled")                                   \
	X(EINTERNAL, "internal error")                             \
	X(ENOTSUP, "not supported")

typedef enum psb_err {
	PSB_OK = 0,
#define PSB_ERR_ENUM_(name, msg) PSB_##name,
	PSB_ERR_FIRST_ = -100,
	PSB_ERRORS(PSB_ERR_ENUM_)
#undef PSB_ERR_ENUM_
	        PSB_ERR_LAST_
} psb_err;

// psb_strerror returns a static description of code ("not found").
const char *psb_strerror(int code);

// psb_errname returns the static symbolic name of code ("PSB_ENOENT").
const char *psb_errname(int code);

// psb_error_t carries a failure: a domain code, the errno that caused it
// (0 if none) and a heap-allocated message owned by the error.
typedef struct psb_error {
	int   code;
	int   sys_errno;
	char *msg;
} psb_error_t;

#define PSB_ERROR_INIT     \
	{                  \
		0, 0, NULL \
	}

// psb_error_make fills err (if not NULL) with code and a formatted message;
// any previous message is released. Returns code, so callers can write
// "return psb_error_make(err, PSB_EINVAL, "bad id %s", id);".
int psb_error_make(psb_error_t *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

// psb_error_sys is psb_error_make that also records errno and appends
// strerror(sys_errno) to the message.
int psb_error_sys(psb_error_t *err, int code, int sys_errno, const char *fmt,
        ...) __attribute__((format(printf, 4, 5)));

// psb_error_wrap prefixes err's message with a formatted context
// ("while stopping sandbox X: <old message>"). Returns err->code.
int psb_error_wrap(psb_error_t *err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

// psb_error_message returns err's message, or the code's default text.
const char *psb_error_message(const psb_error_t *err);

// psb_error_release frees the message and resets err to PSB_ERROR_INIT.
void psb_error_release(psb_error_t *err);

#endif // PSB_BASE_ERROR_H
