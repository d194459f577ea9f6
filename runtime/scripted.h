//
// podsandboxd - the scripted runtime: a TEST DOUBLE (DESIGN.md §6).
//
// It keeps a small in-memory "world" of fake tasks and answers every
// operation from it, asynchronously (through an ev_timer, never inside the
// call). Tests script any operation to be delayed, to fail, or to hang,
// and can make a fake pause task exit. It is never the default backend and
// the daemon logs a loud warning when it runs with it.
//
// Options string (psb_runtime_open "scripted"): NULL or "" for defaults;
// comma-separated world=PATH, probe_delay_ms=N, network=1. With network=1
// every start makes a fake pod network the way the containerd backend
// records one: its plan is recorded (psb_runtime_record) before the start
// goes on, START_OK's resources carry {"network": {"netns": ..., "ips":
// ["10.88.X.Y"]}}, and net_down (PSB_RTOP_NET_DOWN, scriptable) ends in
// NET_DOWN_OK without it.
//
// All functions: loop thread only. `rt` must be a scripted runtime.
//

#ifndef PSB_RUNTIME_SCRIPTED_H
#define PSB_RUNTIME_SCRIPTED_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/runtime.h"

extern const psb_runtime_ops_t psb_scripted_ops;

typedef enum psb_rt_op {
	PSB_RTOP_START,
	PSB_RTOP_KILL,
	PSB_RTOP_DELETE,
	PSB_RTOP_PROBE,
	PSB_RTOP_NET_DOWN, // with the option network=1
	PSB_RTOP_COUNT
} psb_rt_op_t;

typedef enum psb_script_how {
	PSB_SCRIPT_OK,         // succeed (after delay_ms)
	PSB_SCRIPT_FAIL,       // fail; a failed start reports rolled_back
	PSB_SCRIPT_FAIL_DIRTY, // fail; a failed start is NOT rolled back
	PSB_SCRIPT_HANG,       // never complete (until released)
	PSB_SCRIPT_UNREACHABLE // probe: RUNTIME_UNREACHABLE; other ops fail
} psb_script_how_t;

// psb_scripted_script makes the next `times` calls of op (for sandbox id,
// or any sandbox if id is NULL; -1 times = for ever) behave as how, after
// delay_ms. Rules are matched newest first; an exhausted rule is dropped.
// Without a rule every operation succeeds after the default delay (0 ms).
void psb_scripted_script(psb_runtime_t *rt, psb_rt_op_t op, const char *id,
        psb_script_how_t how, uint32_t delay_ms, int times);

// psb_scripted_clear drops every rule.
void psb_scripted_clear(psb_runtime_t *rt);

// psb_scripted_exit makes the fake pause task of id exit with status
// (delivered asynchronously as TASK_EXIT). Returns PSB_ENOENT if no
// running task exists for id.
int psb_scripted_exit(psb_runtime_t *rt, const char *id, int32_t status);

// World state, as probes see it and as tests set it up before a
// "restart" (a new controller over the same store).
typedef enum psb_fake_task {
	PSB_FAKE_NONE,
	PSB_FAKE_RUNNING,
	PSB_FAKE_EXITED,
} psb_fake_task_t;

void psb_scripted_set_task(psb_runtime_t *rt, const char *id,
        uint64_t generation, psb_fake_task_t state, uint32_t pid,
        int32_t exit_status);

// psb_scripted_task reports the world state of id (PSB_FAKE_NONE if none).
psb_fake_task_t psb_scripted_task(psb_runtime_t *rt, const char *id,
        uint32_t *pid, int32_t *exit_status);

// psb_scripted_calls counts the calls of op since open.
uint64_t psb_scripted_calls(psb_runtime_t *rt, psb_rt_op_t op);

// psb_scripted_hung counts operations currently hung.
uint32_t psb_scripted_hung(psb_runtime_t *rt);

// psb_scripted_release completes every hung operation as if it had been
// scripted with how (OK or FAIL) and returns how many it released.
uint32_t psb_scripted_release(psb_runtime_t *rt, psb_script_how_t how);

#endif // PSB_RUNTIME_SCRIPTED_H
