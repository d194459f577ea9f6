//
// podsandboxd - time helpers.
//

#include "base/clock.h"

#include <stdio.h>
#include <time.h>

static int64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
}

int64_t
psb_now_ns(void)
{
	return (clock_ns(CLOCK_REALTIME));
}

int64_t
psb_mono_ns(void)
{
	return (clock_ns(CLOCK_MONOTONIC));
}

char *
psb_time_format(int64_t t, char *buf, unsigned long len)
{
	time_t    secs = (time_t)(t / 1000000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	        tm.tm_min, tm.tm_sec, (int)((t % 1000000000) / 1000000));
	return (buf);
}

int64_t
psb_mono_ms(void)
{
	return (psb_mono_ns() / 1000000);
}
