/*
 * Presence objects and small JSON helpers. Keys go out in insertion order
 * (jansson keeps it), so replies read the way PROTOCOL.md lists them.
 */
#include "gw_json.h"

#include <string.h>

#include "prs_util.h"

/* json_string() refuses invalid UTF-8: never expected from the registry,
 * but never leave a member out because of it. */
static json_t *
jstr(const char *s)
{
	json_t *v = json_string(s ? s : "");
	return v ? v : json_string("");
}

json_t *
gw_json_presence(const Prs__Presence *p)
{
	json_t *o = json_object();
	json_t *meta = NULL;

	json_object_set_new(o, "user_id", jstr(p->user_id));
	json_object_set_new(o, "status",
			    json_string(prs_status_name((int) p->status)));
	json_object_set_new(o, "is_online", json_boolean(p->is_online));
	json_object_set_new(o, "text",
			    p->has_text && p->text ? jstr(p->text)
						   : json_null());
	json_object_set_new(o, "last_seen",
			    p->last_seen ? json_integer(p->last_seen)
					 : json_null());
	json_object_set_new(o, "since", json_integer(p->since));
	if (p->meta != NULL && p->meta[0] != '\0') {
		meta = json_loads(p->meta, 0, NULL);
		if (meta != NULL && !json_is_object(meta)) {
			json_decref(meta);
			meta = NULL;
		}
	}
	json_object_set_new(o, "meta", meta ? meta : json_null());
	/* v1.1: only when true, so v1 objects keep their shape */
	if (p->auto_away)
		json_object_set_new(o, "auto", json_true());
	return o;
}

static int
dump_cb(const char *buf, size_t size, void *data)
{
	gw_buf_append(data, buf, size);
	return 0;
}

void
gw_json_dump(json_t *j, struct gw_buf *b)
{
	json_dump_callback(j, dump_cb, b, JSON_COMPACT);
}

int
gw_json_ids(json_t *v, size_t max, const char **why)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v)) {
		*why = "user_ids must be an array of user ids";
		return -1;
	}
	if (json_array_size(v) > max) {
		*why = "too many user ids in one request";
		return -2;
	}
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e) ||
		    !prs_id_valid(json_string_value(e),
				  json_string_length(e))) {
			*why = "user_ids must be valid user ids";
			return -1;
		}
	}
	return 0;
}
