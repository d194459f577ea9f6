//
// podsandboxctl - the verbs that change a sandbox: run, create, start,
// stop, rm, and wait for its exit. Each gets its arguments and options
// checked (cmdline.c), makes its calls and prints a line or, with -o json,
// a JSON document with stable camelCase keys.
//

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "podsandboxctl.h"

// ---- create / run / start ----

static char *
ctl_read_file(const char *path, psb_client_error_t *err)
{
	FILE  *f = fopen(path, "r");
	char  *buf;
	size_t len = 0;
	size_t cap = 4096;

	if (f == NULL) {
		err->code = PSB_CODE_INVALID_ARGUMENT;
		snprintf(err->message, sizeof(err->message), "%s: %s", path,
		        strerror(errno));
		return (NULL);
	}
	if ((buf = malloc(cap)) == NULL) {
		abort();
	}
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0) {
			break;
		}
		if (cap - len - 1 == 0 &&
		        (buf = realloc(buf, cap *= 2)) == NULL) {
			abort();
		}
	}
	fclose(f);
	buf[len] = '\0';
	return (buf);
}

// ctl_load_config reads a crictl pod config JSON file as the bytes Create
// sends (*cfg is malloc'd).
static int
ctl_load_config(
        const char *path, void **cfg, size_t *len, psb_client_error_t *err)
{
	char *text = ctl_read_file(path, err);
	int   rv;

	if (text == NULL) {
		return (-1);
	}
	rv = psb_config_from_json(text, cfg, len, err);
	free(text);
	return (rv);
}

// ctl_new_id returns 32 random hex digits (static storage).
static const char *
ctl_new_id(void)
{
	static char   id[33];
	unsigned char b[16];
	int           fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b)) {
		perror("podsandboxctl: /dev/urandom");
		exit(CTL_EXIT_API);
	}
	close(fd);
	for (size_t i = 0; i < sizeof(b); i++) {
		snprintf(id + 2 * i, 3, "%02x", b[i]);
	}
	return (id);
}

// ctl_print_started prints what run and start print about a started
// sandbox: its id, or the instance as JSON.
static void
ctl_print_started(const ctl_t *ctl, const char *id, const psb_instance_t *in)
{
	if (ctl->json) {
		ctl_print_json(json_pack("{s:s,s:I,s:I,s:o}", "id", id, "pid",
		        (json_int_t)in->pid, "createdAt",
		        (json_int_t)in->created_at, "labels",
		        ctl_json_parse(in->labels_json)));
	} else {
		puts(id);
	}
}

static int
ctl_create_common(
        ctl_t *ctl, const ctl_opts_t *o, const char *path, bool start)
{
	psb_client_error_t err;
	psb_instance_t     inst;
	const char        *id = o->id;
	void              *cfg;
	size_t             len;
	int                rc;

	// The config is read before the client is opened: a bad file is
	// reported as such whatever the socket.
	if (ctl_load_config(path, &cfg, &len, &err) != 0) {
		return (ctl_api_error(&err));
	}
	if (id == NULL) {
		id = ctl_new_id();
	}
	if (ctl_client(ctl, &rc) == NULL) {
		free(cfg);
		return (rc);
	}
	rc = psb_client_create_netns(
	        ctl->c, id, cfg, len, o->runtime, o->netns, &err);
	free(cfg);
	if (rc != 0) {
		return (ctl_api_error(&err));
	}
	if (!start) {
		if (ctl->json) {
			ctl_print_json(json_pack("{s:s}", "id", id));
		} else {
			puts(id);
		}
		return (CTL_EXIT_OK);
	}
	if (psb_client_start(ctl->c, id, &inst, &err) != 0) {
		fprintf(stderr,
		        "podsandboxctl: sandbox %s was created but "
		        "did not start\n",
		        id);
		return (ctl_api_error(&err));
	}
	ctl_print_started(ctl, id, &inst);
	psb_instance_free(&inst);
	return (CTL_EXIT_OK);
}

int
ctl_run(ctl_t *ctl, const ctl_opts_t *o, char **args, int nargs)
{
	return (ctl_create_common(ctl, o, args[0], true));
}

int
ctl_create(ctl_t *ctl, const ctl_opts_t *o, char **args, int nargs)
{
	return (ctl_create_common(ctl, o, args[0], false));
}

int
ctl_start(ctl_t *ctl, const ctl_opts_t *o, char **args, int nargs)
{
	psb_client_error_t err;
	psb_instance_t     inst;

	if (psb_client_start(ctl->c, args[0], &inst, &err) != 0) {
		return (ctl_api_error(&err));
	}
	ctl_print_started(ctl, inst.sandbox_id, &inst);
	psb_instance_free(&inst);
	return (CTL_EXIT_OK);
}

// ---- stop / rm / wait ----

int
ctl_stop(ctl_t *ctl, const ctl_opts_t *o, char **args, int nargs)
{
	psb_client_error_t err;

	if (psb_client_stop(ctl->c, args[0], (uint32_t)o->timeout, &err) !=
	        0) {
		return (ctl_api_error(&err));
	}
	if (ctl->json) {
		ctl_print_json(
		        json_pack("{s:s,s:b}", "id", args[0], "stopped", 1));
	} else {
		printf("Stopped sandbox %s\n", args[0]);
	}
	return (CTL_EXIT_OK);
}

// ctl_rm removes each sandbox named, going on past failures; the exit
// code is the worst of them.
int
ctl_rm(ctl_t *ctl, const ctl_opts_t *o, char **args, int nargs)
{
	psb_client_error_t err;
	json_t            *removed = json_array();
	int                worst   = CTL_EXIT_OK;

	for (int i = 0; i < nargs; i++) {
		if (psb_client_shutdown(ctl->c, args[i], &err) != 0) {
			int rc = ctl_api_error(&err);
			if (rc > worst) {
				worst = rc;
			}
			continue;
		}
		if (ctl->json) {
			json_array_append_new(removed, json_string(args[i]));
		} else {
			printf("Removed sandbox %s\n", args[i]);
		}
	}
	if (ctl->json) {
		ctl_print_json(json_pack("{s:o}", "removed", removed));
	} else {
		json_decref(removed);
	}
	return (worst);
}

int
ctl_wait(ctl_t *ctl, const ctl_opts_t *o, char **args, int nargs)
{
	psb_client_error_t err;
	psb_exit_t         ex;

	// Without --timeout, wait for as long as the sandbox runs.
	if (psb_client_wait(ctl->c, args[0],
	            o->timeout > 0 ? (int)o->timeout : -1, &ex, &err) != 0) {
		return (ctl_api_error(&err));
	}
	if (ctl->json) {
		ctl_print_json(json_pack("{s:s,s:I,s:I}", "id", args[0],
		        "exitStatus", (json_int_t)ex.exit_status, "exitedAt",
		        (json_int_t)ex.exited_at));
	} else {
		printf("%u\n", ex.exit_status);
	}
	return (CTL_EXIT_OK);
}
