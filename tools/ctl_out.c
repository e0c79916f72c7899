/*
 * presencectl's output: JSON documents for scripts, and the human forms
 * of presence objects and times. Times are shown in UTC (ISO 8601, as
 * the drop-in endpoints write them) with a relative hint, so that output
 * pasted from two hosts compares without time zones.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "prs_util.h"

void
ctl_print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(j);
}

void
ctl_print_error_json(json_t *e)
{
	ctl_print_json(json_pack("{s:o}", "error", e));
}

void
ctl_time_fmt(char *buf, size_t len, int64_t ms)
{
	time_t t = (time_t) (ms / 1000);
	struct tm tm;
	char s[32];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", s, (int) (ms % 1000));
}

void
ctl_ago_fmt(char *buf, size_t len, int64_t ms)
{
	int64_t d = prs_now_ms() - ms, a = d < 0 ? -d : d;
	const char *unit = "s";
	int64_t v = a / 1000;

	if (a >= 86400000) {
		v = a / 86400000;
		unit = "d";
	} else if (a >= 3600000) {
		v = a / 3600000;
		unit = "h";
	} else if (a >= 60000) {
		v = a / 60000;
		unit = "min";
	}
	if (d >= 0)
		snprintf(buf, len, "%lld %s ago", (long long) v, unit);
	else
		snprintf(buf, len, "in %lld %s", (long long) v, unit);
}

/* " (since T, 3 min ago)" style piece for ms, or "" when absent. */
static void
when_fmt(char *buf, size_t len, const char *label, const json_t *v)
{
	char t[40], ago[40];

	if (!json_is_integer(v) || json_integer_value(v) <= 0) {
		buf[0] = '\0';
		return;
	}
	ctl_time_fmt(t, sizeof(t), json_integer_value(v));
	ctl_ago_fmt(ago, sizeof(ago), json_integer_value(v));
	snprintf(buf, len, "  %s %s (%s)", label, t, ago);
}

void
ctl_print_presence(const json_t *p, int width)
{
	const char *user = json_string_value(json_object_get(p, "user_id"));
	const char *st = json_string_value(json_object_get(p, "status"));
	const char *text = json_string_value(json_object_get(p, "text"));
	const json_t *ls = json_object_get(p, "last_seen");
	char since[96], seen[96];
	bool online = json_is_true(json_object_get(p, "is_online"));

	when_fmt(since, sizeof(since), "since", json_object_get(p, "since"));
	if (online)
		seen[0] = '\0';
	else if (json_is_null(ls))
		snprintf(seen, sizeof(seen), "  never seen");
	else
		when_fmt(seen, sizeof(seen), "last seen", ls);
	printf("%-*s  %-9s%s%s%s%s%s\n", width, user ? user : "?",
	       st ? st : "?",
	       json_is_true(json_object_get(p, "auto")) ? " (auto)" : "",
	       text ? "  \"" : "", text ? text : "", text ? "\"" : "",
	       online ? since : seen);
}

bool
ctl_id_valid(const char *s)
{
	return prs_id_valid(s, strlen(s));
}
