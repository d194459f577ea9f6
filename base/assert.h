//
// podsandboxd - assertions for programming errors (STYLE.md practice 7,
// like nng's NNI_ASSERT).
//
// PSB_ASSERT(cond) states an invariant of the code, never a check of
// input: anything from a client, from containerd or from disk returns an
// error instead. It is active in Debug and sanitizer builds (CI runs the
// tests on one) and compiled out where NDEBUG is defined (Release and the
// default RelWithDebInfo), where its condition is not evaluated.
//

#ifndef PSB_BASE_ASSERT_H
#define PSB_BASE_ASSERT_H

#ifdef NDEBUG
#define PSB_ASSERT(cond) ((void)sizeof(cond))
#else
#define PSB_ASSERT(cond)  \
	((cond) ? (void)0 \
	        : psb_assert_fail(#cond, __FILE__, __LINE__, __func__))
#endif

// psb_assert_fail writes "podsandboxd: FILE:LINE: FUNC: assertion `COND'
// failed" to standard error with one write and aborts. Any thread.
_Noreturn void psb_assert_fail(
        const char *cond, const char *file, int line, const char *func);

#endif // PSB_BASE_ASSERT_H
