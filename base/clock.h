//
// podsandboxd - time. Wall-clock times are int64 nanoseconds since the Unix
// epoch (what the API and the store carry); durations are monotonic.
//

#ifndef PSB_BASE_CLOCK_H
#define PSB_BASE_CLOCK_H

#include <stdint.h>

// psb_now_ns returns CLOCK_REALTIME in nanoseconds since the epoch.
int64_t psb_now_ns(void);

// psb_mono_ns returns CLOCK_MONOTONIC in nanoseconds.
int64_t psb_mono_ns(void);

// psb_mono_ms is psb_mono_ns in milliseconds.
int64_t psb_mono_ms(void);

// psb_time_format writes t (ns since epoch) as RFC 3339 UTC with
// milliseconds into buf (at least 32 bytes) and returns buf.
char *psb_time_format(int64_t t, char *buf, unsigned long len);

#endif // PSB_BASE_CLOCK_H
