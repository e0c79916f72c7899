/*
 * presencectl's request/answer subcommands: online, user, query, threads
 * and kick. Each is a thin client of the v1 HTTP API (PROTOCOL.md §6)
 * on the first --url; the gateway checks ids and rights, and its answer
 * decides the exit code (ctl_http.c). In --json mode each prints exactly
 * one document, {"error": …} when it failed; the shapes are in
 * docs/PRESENCECTL.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "prs_util.h"

/* One request to the first gateway. On success *out holds the answer
 * (a new reference) and CTL_OK is returned; on failure the reason is
 * printed (stderr, and the {"error"} document in --json mode unless
 * quiet_json) and the exit code returned; *err, if given, gets the error
 * object. */
static int
cmd_ask(struct ctl *c, const char *what, const char *method, const char *path,
	json_t *body, json_t **out, bool quiet_json, json_t **err)
{
	struct ctl_resp r;
	int ex = ctl_http(c, c->urls[0], method, path, body, &r);

	*out = NULL;
	if (err != NULL)
		*err = NULL;
	if (ex == CTL_OK) {
		*out = json_incref(r.json);
	} else {
		ctl_resp_report(c, c->urls[0], what, &r);
		if (err != NULL)
			*err = ctl_resp_error_json(c, c->urls[0], &r);
		if (c->json && !quiet_json)
			ctl_print_error_json(
				ctl_resp_error_json(c, c->urls[0], &r));
	}
	ctl_resp_free(&r);
	return ex;
}

/* Exits CTL_USAGE unless id is valid. */
static bool
cmd_id_check(const char *what, const char *id)
{
	if (ctl_id_valid(id))
		return true;
	fprintf(stderr,
		"presencectl: invalid %s '%s': 1-128 bytes of UTF-8 without "
		"control characters\n",
		what, id);
	return false;
}

static json_t *
cmd_ids(char **ids, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(ids[i]));
	return a;
}

/* Prints the strings of array a, one per line. */
static void
cmd_print_lines(const json_t *a)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		puts(json_string_value(v) ? json_string_value(v) : "?");
}

int
ctl_cmd_online(struct ctl *c)
{
	char *path, *seg = NULL;
	json_t *doc, *ids;
	int ex;

	if (c->thread != NULL) {
		if (!cmd_id_check("thread id", c->thread))
			return CTL_USAGE;
		seg = ctl_seg(c->thread);
		path = ctl_fmt("/v1/online?thread_id=%s", seg);
	} else {
		path = xstrdup("/v1/online");
	}
	ex = cmd_ask(c, "online users", "GET", path, NULL, &doc, false, NULL);
	free(path);
	free(seg);
	if (ex != CTL_OK)
		return ex;
	ids = json_object_get(doc, "online_users");
	if (!json_is_array(ids)) {
		fprintf(stderr,
			"presencectl: online users: malformed answer\n");
		json_decref(doc);
		return CTL_SERVER;
	}
	if (c->json) {
		ctl_print_json(json_pack("{s:o,s:O}", "thread_id",
					 c->thread ? json_string(c->thread)
						   : json_null(),
					 "online_users", ids));
	} else {
		if (c->thread != NULL)
			fprintf(stderr, "%zu online in thread %s\n",
				json_array_size(ids), c->thread);
		else
			fprintf(stderr, "%zu online\n", json_array_size(ids));
		cmd_print_lines(ids);
	}
	json_decref(doc);
	return CTL_OK;
}

/* ---- user ---------------------------------------------------------- */

static void
user_print_sessions(const json_t *ss)
{
	size_t i;
	json_t *s;
	char t[40], ago[40];

	printf("sessions: %zu\n", json_array_size(ss));
	json_array_foreach(ss, i, s)
	{
		const char *dev =
			json_string_value(json_object_get(s, "device"));
		int64_t since =
			json_integer_value(json_object_get(s, "since"));

		ctl_time_fmt(t, sizeof(t), since);
		ctl_ago_fmt(ago, sizeof(ago), since);
		printf("  %s  gateway %s  device %s  since %s (%s)%s\n",
		       json_string_value(json_object_get(s, "session_id")),
		       json_string_value(json_object_get(s, "gateway")),
		       dev ? dev : "-", t, ago,
		       json_is_true(json_object_get(s, "idle")) ? "  idle"
								: "");
	}
}

static void
user_print_history(const json_t *ev)
{
	size_t i;
	json_t *e;
	char t[40];

	printf("history: %zu event%s, newest first\n", json_array_size(ev),
	       json_array_size(ev) == 1 ? "" : "s");
	json_array_foreach(ev, i, e)
	{
		ctl_time_fmt(t, sizeof(t),
			     json_integer_value(json_object_get(e, "at")));
		printf("  %s  %s\n", t,
		       json_string_value(json_object_get(e, "status")));
	}
}

/* The array under key of doc (a new reference, or NULL); drops doc. */
static json_t *
user_part(json_t *doc, const char *key)
{
	json_t *a = json_object_get(doc, key);

	a = json_is_array(a) ? json_incref(a) : NULL;
	json_decref(doc);
	return a;
}

static json_t *
json_or_null(json_t *j)
{
	return j != NULL ? json_incref(j) : json_null();
}

int
ctl_cmd_user(struct ctl *c)
{
	const char *id = c->args[0];
	char *seg, *path;
	json_t *pres, *ss = NULL, *hist = NULL, *doc, *err;
	json_t *errors = json_object();
	int ex = CTL_OK, e;
	bool never;

	if (!cmd_id_check("user id", id)) {
		json_decref(errors);
		return CTL_USAGE;
	}
	seg = ctl_seg(id);
	path = ctl_fmt("/v1/users/%s/presence", seg);
	e = cmd_ask(c, "presence", "GET", path, NULL, &pres, true, &err);
	free(path);
	if (e != CTL_OK) {
		json_object_set_new(errors, "presence", err);
		ex = e;
	}
	/* a wrong URL or a refused token fails every part alike */
	if (e != CTL_CONNECT && e != CTL_AUTH) {
		path = ctl_fmt("/v1/users/%s/sessions", seg);
		e = cmd_ask(c, "sessions", "GET", path, NULL, &doc, true,
			    &err);
		free(path);
		ss = user_part(doc, "sessions");
		if (e != CTL_OK) {
			json_object_set_new(errors, "sessions", err);
			ex = ex ? ex : e;
		}
		path = ctl_fmt("/v1/users/%s/history?limit=%lld&since=%lld",
			       seg, (long long) c->limit,
			       (long long) c->since);
		e = cmd_ask(c, "history", "GET", path, NULL, &doc, true, &err);
		free(path);
		hist = user_part(doc, "events");
		if (e != CTL_OK) {
			json_object_set_new(errors, "history", err);
			ex = ex ? ex : e;
		}
	}
	free(seg);
	never = pres != NULL &&
		json_is_null(json_object_get(pres, "last_seen")) &&
		!json_is_true(json_object_get(pres, "is_online")) &&
		json_array_size(ss) == 0 && json_array_size(hist) == 0;
	if (c->json) {
		doc = json_pack("{s:s,s:o,s:o,s:o,s:o}", "user_id", id,
				"presence", json_or_null(pres), "sessions",
				json_or_null(ss), "history",
				json_or_null(hist), "known",
				pres ? json_boolean(!never) : json_null());
		if (json_object_size(errors) > 0)
			json_object_set(doc, "errors", errors);
		ctl_print_json(doc);
	} else if (pres != NULL || ss != NULL || hist != NULL) {
		if (pres != NULL)
			ctl_print_presence(pres, (int) strlen(id));
		if (ss != NULL)
			user_print_sessions(ss);
		if (hist != NULL)
			user_print_history(hist);
	}
	if (ex == CTL_OK && never) {
		fprintf(stderr,
			"presencectl: user %s: unknown (presence has never "
			"seen this user)\n",
			id);
		ex = CTL_NOT_FOUND;
	}
	json_decref(pres);
	json_decref(ss);
	json_decref(hist);
	json_decref(errors);
	return ex;
}

/* ---- query --------------------------------------------------------- */

int
ctl_cmd_query(struct ctl *c)
{
	json_t *doc, *users, *p;
	size_t i;
	int ex, width = 4;

	for (i = 0; i < c->nargs; i++) {
		if (!cmd_id_check("user id", c->args[i]))
			return CTL_USAGE;
		if ((int) strlen(c->args[i]) > width)
			width = (int) strlen(c->args[i]);
	}
	p = json_pack("{s:o}", "user_ids", cmd_ids(c->args, c->nargs));
	ex = cmd_ask(c, "query", "POST", "/v1/presence/query", p, &doc, false,
		     NULL);
	json_decref(p);
	if (ex != CTL_OK)
		return ex;
	users = json_object_get(doc, "users");
	if (!json_is_array(users)) {
		fprintf(stderr, "presencectl: query: malformed answer\n");
		json_decref(doc);
		return CTL_SERVER;
	}
	if (c->json) {
		ctl_print_json(doc);
		return CTL_OK;
	}
	json_array_foreach(users, i, p) ctl_print_presence(p, width);
	json_decref(doc);
	return CTL_OK;
}

/* ---- threads T members [set|add|rm] IDs ------------------------------ */

static int
threads_list(struct ctl *c, const char *thread, const char *path)
{
	json_t *doc, *ids;
	int ex;

	ex = cmd_ask(c, "thread members", "GET", path, NULL, &doc, false,
		     NULL);
	if (ex != CTL_OK)
		return ex;
	ids = json_object_get(doc, "user_ids");
	if (!json_is_array(ids)) {
		fprintf(stderr, "presencectl: members: malformed answer\n");
		json_decref(doc);
		return CTL_SERVER;
	}
	if (c->json) {
		ctl_print_json(json_pack("{s:s,s:O}", "thread_id", thread,
					 "user_ids", ids));
	} else {
		fprintf(stderr, "thread %s: %zu member%s\n", thread,
			json_array_size(ids),
			json_array_size(ids) == 1 ? "" : "s");
		cmd_print_lines(ids);
	}
	json_decref(doc);
	return CTL_OK;
}

/* Removes each id with its own DELETE (the API removes one at a time). */
static int
threads_rm(struct ctl *c, const char *path, char **ids, size_t n)
{
	size_t i;
	int ex = CTL_OK;

	for (i = 0; i < n && ex == CTL_OK; i++) {
		char *seg = ctl_seg(ids[i]), *p = ctl_fmt("%s/%s", path, seg);
		json_t *doc;

		ex = cmd_ask(c, "remove member", "DELETE", p, NULL, &doc,
			     false, NULL);
		json_decref(doc);
		free(p);
		free(seg);
	}
	return ex;
}

int
ctl_cmd_threads(struct ctl *c)
{
	const char *thread = c->args[0], *verb;
	char *seg, *path;
	json_t *body, *doc;
	size_t i;
	int ex;

	if (strcmp(c->args[1], "members") != 0) {
		fprintf(stderr, "Usage: presencectl threads T members "
				"[set|add|rm] [ID...]\n");
		return CTL_USAGE;
	}
	verb = c->nargs > 2 ? c->args[2] : NULL;
	if (verb != NULL && strcmp(verb, "set") != 0 &&
	    strcmp(verb, "add") != 0 && strcmp(verb, "rm") != 0) {
		fprintf(stderr,
			"presencectl: threads: '%s': expected set, add or "
			"rm\n",
			verb);
		return CTL_USAGE;
	}
	if ((verb == NULL && c->nargs > 2) ||
	    (verb != NULL && strcmp(verb, "set") != 0 && c->nargs < 4)) {
		fprintf(stderr, "presencectl: threads: %s needs user ids\n",
			verb ? verb : "members");
		return CTL_USAGE;
	}
	if (!cmd_id_check("thread id", thread))
		return CTL_USAGE;
	for (i = 3; i < c->nargs; i++)
		if (!cmd_id_check("user id", c->args[i]))
			return CTL_USAGE;
	seg = ctl_seg(thread);
	path = ctl_fmt("/v1/threads/%s/members", seg);
	free(seg);
	ex = CTL_OK;
	if (verb != NULL && strcmp(verb, "rm") == 0) {
		ex = threads_rm(c, path, c->args + 3, c->nargs - 3);
	} else if (verb != NULL) {
		body = json_pack("{s:o}", "user_ids",
				 cmd_ids(c->args + 3, c->nargs - 3));
		ex = cmd_ask(c, "thread members",
			     strcmp(verb, "set") == 0 ? "PUT" : "POST", path,
			     body, &doc, false, NULL);
		json_decref(body);
		json_decref(doc);
	}
	if (ex == CTL_OK)
		ex = threads_list(c, thread, path);
	free(path);
	return ex;
}

/* ---- kick ------------------------------------------------------------ */

int
ctl_cmd_kick(struct ctl *c)
{
	const char *id = c->args[0];
	char *seg, *path;
	json_t *doc;
	json_int_t n;
	int ex;

	if (!cmd_id_check("user id", id))
		return CTL_USAGE;
	seg = ctl_seg(id);
	path = ctl_fmt("/v1/users/%s/sessions", seg);
	free(seg);
	ex = cmd_ask(c, "kick", "DELETE", path, NULL, &doc, false, NULL);
	free(path);
	if (ex != CTL_OK)
		return ex;
	n = json_integer_value(json_object_get(doc, "ended"));
	if (c->json)
		ctl_print_json(
			json_pack("{s:s,s:I}", "user_id", id, "ended", n));
	else
		printf("%s: ended %lld session%s\n", id, (long long) n,
		       n == 1 ? "" : "s");
	json_decref(doc);
	return CTL_OK;
}
