/*
 * Presence objects and small JSON helpers. Keys go out in insertion order
 * (jansson keeps it), so replies read the way PROTOCOL.md lists them.
 */
#include "gw_json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

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

json_t *
gw_json_id(const char *id)
{
	size_t i, n = id ? strlen(id) : 0;
	uint64_t v = 0;

	/* 2^53 has 16 digits: longer ids are strings without overflow */
	if (n == 0 || n > 16 || (n > 1 && id[0] == '0'))
		return jstr(id);
	for (i = 0; i < n; i++) {
		if (id[i] < '0' || id[i] > '9')
			return jstr(id);
		v = v * 10 + (uint64_t) (id[i] - '0');
	}
	if (v > (UINT64_C(1) << 53))
		return jstr(id);
	return json_integer((json_int_t) v);
}

void
gw_json_time_fmt(char *buf, int64_t ms)
{
	time_t sec = (time_t) (ms / 1000);
	int frac = (int) (ms % 1000);
	struct tm tm;
	size_t n;

	if (frac < 0) {
		frac += 1000;
		sec--;
	}
	gmtime_r(&sec, &tm);
	n = strftime(buf, GW_JSON_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, GW_JSON_TIME_LEN - n, ".%03uZ",
		 (unsigned) frac % 1000u);
}

json_t *
gw_json_time(int64_t ms)
{
	char buf[GW_JSON_TIME_LEN];

	if (ms == 0)
		return json_null();
	gw_json_time_fmt(buf, ms);
	return json_string(buf);
}
