//
// podsandboxd - the controller's sandboxes (controller_int.h): their
// records and the helpers that copy, load and write them. The stepping is
// core/controller.c.
//

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "core/controller_int.h"

//
// Small helpers.
//

static void
ctl_rec_free_ips(sb_rec_t *r)
{
	for (size_t i = 0; i < r->nips; i++) {
		free(r->ips[i]);
	}
	free(r->ips);
	r->ips  = NULL;
	r->nips = 0;
}

void
ctl_rec_free(sb_rec_t *r)
{
	free(r->resources);
	free(r->last_error);
	ctl_rec_free_ips(r);
	r->resources  = NULL;
	r->last_error = NULL;
}

void
ctl_rec_copy(sb_rec_t *dst, const sb_rec_t *src)
{
	*dst            = *src;
	dst->resources  = src->resources ? xstrdup(src->resources) : NULL;
	dst->last_error = src->last_error ? xstrdup(src->last_error) : NULL;
	dst->ips = src->nips ? xcalloc(src->nips, sizeof(char *)) : NULL;
	for (size_t i = 0; i < src->nips; i++) {
		dst->ips[i] = xstrdup(src->ips[i]);
	}
}

void
ctl_set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src != NULL ? xstrdup(src) : NULL;
}

// rec_set_resources records what the runtime reported, whether it names
// a pod network (the NET_UP guard) and the network's IPs: parsed once
// here, so that neither guards nor Status ever parse.
void
ctl_rec_set_resources(sb_rec_t *r, const char *resources)
{
	json_t       *res = resources ? json_loads(resources, 0, NULL) : NULL;
	const json_t *net = json_object_get(res, PSB_RT_NETWORK);
	const json_t *ip;
	size_t        i;

	ctl_set_str(&r->resources, resources);
	ctl_rec_free_ips(r);
	r->net_up = json_is_object(net);
	json_array_foreach(json_object_get(net, "ips"), i, ip)
	{
		if (json_is_string(ip)) {
			r->ips = xrealloc(
			        r->ips, (r->nips + 1) * sizeof(char *));
			r->ips[r->nips++] = xstrdup(json_string_value(ip));
		}
	}
	json_decref(res);
}

//
// Sandboxes.
//

psb_sandbox_t *
ctl_sb_alloc(psb_controller_t *c, const char *id)
{
	psb_sandbox_t *sb = xcalloc(1, sizeof(*sb));

	snprintf(sb->id, sizeof(sb->id), "%s", id);
	sb->ctl             = c;
	sb->rec.exit_status = -1;
	ev_timer_init(&sb->deadline, ctl_deadline_cb, 0., 0.);
	sb->deadline.data = sb;
	PSB_LIST_INIT(&sb->held, ctl_req_t, node);
	return (sb);
}

void
ctl_sb_free(psb_sandbox_t *sb)
{
	ev_timer_stop(sb->ctl->loop, &sb->deadline);
	ctl_rec_free(&sb->rec);
	if (sb->touched) {
		ctl_rec_free(&sb->snap);
	}
	free(sb->config);
	free(sb->config_json);
	free(sb->labels);
	free(sb->runtime_handler);
	free(sb->netns_path);
	free(sb);
}

psb_sandbox_t *
ctl_sandbox_load(psb_controller_t *c, const psb_store_row_t *row)
{
	psb_sandbox_t *sb = ctl_sb_alloc(c, row->id);

	sb->rec.state       = row->state;
	sb->rec.generation  = row->generation;
	sb->rec.pid         = row->pid;
	sb->rec.created_at  = row->created_at;
	sb->rec.started_at  = row->started_at;
	sb->rec.exited_at   = row->exited_at;
	sb->rec.exit_status = row->exit_status;
	sb->rec.updated_at  = row->updated_at;
	ctl_rec_set_resources(&sb->rec, row->resources);
	sb->config_len = row->config_len;
	sb->config =
	        row->config_len ? xmemdup(row->config, row->config_len) : NULL;
	sb->config_json = row->config_json ? xstrdup(row->config_json) : NULL;
	sb->labels      = row->labels ? xstrdup(row->labels) : NULL;
	sb->runtime_handler =
	        row->runtime_handler ? xstrdup(row->runtime_handler) : NULL;
	sb->netns_path = row->netns_path ? xstrdup(row->netns_path) : NULL;
	// Stop/Shutdown requests an operation in flight was to carry out.
	sb->rec.want = row->want & (PSB_G_WANT_STOP | PSB_G_WANT_SHUTDOWN);
	psb_map_put(c->sandboxes, sb->id, sb);
	return (sb);
}

void
ctl_rt_sandbox(const psb_sandbox_t *sb, psb_rt_sandbox_t *out)
{
	memset(out, 0, sizeof(*out));
	out->id              = sb->id;
	out->generation      = sb->rec.generation;
	out->config          = sb->config;
	out->config_len      = sb->config_len;
	out->runtime_handler = sb->runtime_handler;
	out->netns_path      = sb->netns_path;
	out->pid             = sb->rec.pid;
	out->resources       = sb->rec.resources;
}

// sb_touch snapshots sb at its first change in a tick.
void
ctl_sb_touch(psb_controller_t *c, psb_sandbox_t *sb)
{
	if (sb->touched) {
		return;
	}
	sb->touched    = true;
	sb->snap_epoch = sb->timer_epoch;
	ctl_rec_copy(&sb->snap, &sb->rec);
	psb_list_append(&c->touched, sb);
}

void
ctl_sb_row(const psb_sandbox_t *sb, psb_store_row_t *row)
{
	memset(row, 0, sizeof(*row));
	row->id              = sb->id;
	row->state           = sb->rec.state;
	row->generation      = sb->rec.generation;
	row->config          = sb->config;
	row->config_len      = sb->config_len;
	row->config_json     = sb->config_json;
	row->runtime_handler = sb->runtime_handler;
	row->netns_path      = sb->netns_path;
	row->labels          = sb->labels;
	row->resources       = sb->rec.resources;
	row->pid             = sb->rec.pid;
	row->created_at      = sb->rec.created_at;
	row->started_at      = sb->rec.started_at;
	row->exited_at       = sb->rec.exited_at;
	row->exit_status     = sb->rec.exit_status;
	row->updated_at      = sb->rec.updated_at;
	row->want            = sb->rec.want;
}

void
ctl_tick_fail(psb_controller_t *c, psb_error_t *err)
{
	if (!c->tick_error) {
		c->tick_error     = true;
		c->tick_error_msg = xstrdup(psb_error_message(err));
	}
	psb_error_release(err);
}

void
ctl_board_pin(psb_controller_t *c, const psb_sandbox_t *sb)
{
	psb_sandbox_view_t v;

	ctl_sb_view(sb, &v);
	psb_board_put(c->board, &v, !sb->awaiting_probe);
}
