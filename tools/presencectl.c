/*
 * presencectl: the operator's command-line tool for a presence
 * deployment. It speaks only the public interfaces a gateway serves (the
 * v1 HTTP API, /healthz, /readyz, /metrics, the v1 WebSocket), so it
 * needs no access to the registry's sockets or to PostgreSQL and works
 * from any host that can reach a gateway's HTTP port. Only status also
 * reads the registry's and the persister's Prometheus endpoints
 * (--registry-metrics, --persister-metrics; '' skips them).
 *
 * This file holds the invocation: global options anywhere on the line,
 * a table of subcommands with their own --help, and the documented exit
 * codes (ctl.h, docs/PRESENCECTL.md). The work is in ctl_*.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "prs_util.h"
#include "prs_version.h"

#define TOKEN_MAX 16384

enum {
	O_THREAD = 1 << 0,
	O_LIMIT = 1 << 1,
	O_SINCE = 1 << 2,
	O_AS = 1 << 3,
	O_METRICS = 1 << 4, /* --registry-metrics, --persister-metrics */
};

struct ctl_command {
	const char *name;
	const char *args;
	const char *about;
	const char *help;
	int (*fn)(struct ctl *);
	size_t min_args, max_args;
	unsigned opts; /* O_*: the subcommand's own options */
};

static const struct ctl_command commands[] = {
	{"status", "[--registry-metrics URL] [--persister-metrics URL]",
	 "health, readiness, version and uptime of every process",
	 "For each --url: /healthz, /readyz (the registry link, and the\n"
	 "registry's state loaded), /metrics (sessions, version, uptime),\n"
	 "and whether the persister answers through it (a one-row history\n"
	 "read; needs an admin token under auth jwt).\n"
	 "Then the registry's and the persister's own metrics endpoints\n"
	 "(their metrics_address): reachable, ready (registry: state\n"
	 "loaded; persister: PostgreSQL up and linked to the registry),\n"
	 "version and uptime.\n"
	 "  --registry-metrics URL   default "
	 "http://127.0.0.1:9464/metrics\n"
	 "  --persister-metrics URL  default "
	 "http://127.0.0.1:9465/metrics\n"
	 "  An empty URL ('') skips that process.\n"
	 "Exit 0 when every process is healthy and ready, 2 when one\n"
	 "cannot be reached (or a URL is not what it should be), else 5\n"
	 "when one is not ready or the persister is unavailable.\n",
	 ctl_cmd_status, 0, 0, O_METRICS},
	{"online", "[--thread T]", "users online (admin), or in a thread",
	 "Without --thread: every online user (needs an admin token).\n"
	 "With --thread T: the online members of thread T (an admin, or a\n"
	 "member of T). One id per line; --json prints\n"
	 "{\"thread_id\": T|null, \"online_users\": [ids]}.\n",
	 ctl_cmd_online, 0, 0, O_THREAD},
	{"user", "ID [--limit N] [--since MS]",
	 "a user's presence, live sessions and history",
	 "Presence (GET /v1/users/ID/presence), live sessions on every\n"
	 "gateway (admin) and stored history, newest first (--limit 1-1000,\n"
	 "default 20; --since ms since the epoch). A part that fails is\n"
	 "shown as such and the others still print; the exit code is the\n"
	 "first failure's. Exit 4 when presence has never seen the user\n"
	 "(offline, never seen, no sessions, no history).\n",
	 ctl_cmd_user, 1, 1, O_LIMIT | O_SINCE},
	{"query", "ID...", "presence of several users",
	 "POST /v1/presence/query: one line per user (status, text, since or\n"
	 "last seen); --json prints the gateway's {\"users\": [...]}.\n",
	 ctl_cmd_query, 1, 1000, 0},
	{"threads", "T members [set|add|rm] [ID...]",
	 "list or change the members of thread T (admin)",
	 "threads T members           list the members of T\n"
	 "threads T members set IDs   replace them with IDs (none: empty)\n"
	 "threads T members add IDs   add IDs\n"
	 "threads T members rm IDs    remove IDs\n"
	 "A change prints the resulting member list.\n",
	 ctl_cmd_threads, 2, 10003, 0},
	{"kick", "USER", "end every session of USER on every gateway (admin)",
	 "DELETE /v1/users/USER/sessions: WebSockets close with 4001\n"
	 "\"kicked\", heartbeat sessions end; watchers see the user offline "
	 "at\n"
	 "once. Prints how many sessions ended (0 is not an error). The user\n"
	 "may connect again at once: revoke tokens at their issuer.\n",
	 ctl_cmd_kick, 1, 1, 0},
	{"watch", "ID... [--as ID]", "stream presence events until Ctrl-C",
	 "Opens a v1 WebSocket (/v1/ws) to the first --url, says hello as\n"
	 "the token's user (under auth none as --as ID, default\n"
	 "\"presencectl\"), watches the IDs (at most 10000), prints their\n"
	 "current presence, then one line per event until Ctrl-C, which\n"
	 "says bye and exits 0. --json prints one presence object per line\n"
	 "(NDJSON). The watching session is a session of that user: use a\n"
	 "dedicated user without threads. http:// URLs only (no TLS).\n"
	 "Exit 2 when the gateway closes the connection.\n",
	 ctl_cmd_watch, 1, 10000, O_AS},
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: presencectl [OPTIONS] COMMAND [ARGS...]\n"
		   "Operate a presence deployment through a gateway's HTTP "
		   "port.\n\nCommands:\n");
	for (i = 0; i < PRS_ARRAY_LEN(commands); i++) {
		if (strlen(commands[i].args) > 30)
			fprintf(f, "  %-8s %s\n  %-8s %-30s %s\n",
				commands[i].name, commands[i].args, "", "",
				commands[i].about);
		else
			fprintf(f, "  %-8s %-30s %s\n", commands[i].name,
				commands[i].args, commands[i].about);
	}
	fprintf(f,
		"\nOptions (anywhere on the line):\n"
		"  --url URL         a gateway, e.g. http://127.0.0.1:8080 "
		"(default;\n"
		"                    or $PRESENCE_URL); repeat it or give a "
		"comma list\n"
		"                    for status; other commands use the "
		"first\n"
		"  --token-file F    file holding the JWT (or "
		"$PRESENCE_TOKEN_FILE);\n"
		"                    none under auth_mode none\n"
		"  --json            one JSON document on stdout (watch: one "
		"per line)\n"
		"  --timeout S       seconds per request (default 10)\n"
		"  --help, -h        this, or with a COMMAND its details\n"
		"  --version         print the version\n"
		"\nExit codes: 0 ok, 1 usage or a request the gateway "
		"refused (400),\n"
		"2 gateway unreachable or not a presence gateway (wrong "
		"URL;\nstatus: any process unreachable),\n"
		"3 unauthorized or forbidden (401, 403), 4 not found "
		"(unknown user),\n"
		"5 unavailable (503: registry down or loading; status: a "
		"process not ready),\n6 other server error.\n"
		"See docs/PRESENCECTL.md.\n");
}

static void
usage_command(const struct ctl_command *cmd)
{
	printf("Usage: presencectl [OPTIONS] %s %s\n%s.\n\n%s", cmd->name,
	       cmd->args, cmd->about, cmd->help);
	printf("\nOptions: --url URL, --token-file F, --json, --timeout S "
	       "(presencectl --help).\n");
}

static const struct ctl_command *
command_find(const char *name)
{
	size_t i;

	for (i = 0; i < PRS_ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Adds each comma-separated URL of s, without a trailing '/'. */
static int
urls_add(struct ctl *c, const char *s)
{
	char *copy = xstrdup(s), *p, *save = NULL;

	for (p = strtok_r(copy, ",", &save); p != NULL;
	     p = strtok_r(NULL, ",", &save)) {
		size_t n = strlen(p);
		while (n > 0 && p[n - 1] == '/')
			n--;
		if (n == 0)
			continue;
		if (strncmp(p, "http://", 7) != 0 &&
		    strncmp(p, "https://", 8) != 0) {
			fprintf(stderr,
				"presencectl: --url %s: expected "
				"http://HOST:PORT or https://…\n",
				p);
			free(copy);
			return -1;
		}
		c->urls = xrealloc(c->urls, (c->nurls + 1) * sizeof(char *));
		c->urls[c->nurls++] = xstrndup(p, n);
	}
	free(copy);
	return 0;
}

/* A metrics URL: empty (skip), or http:// or https://. */
static int
metrics_url_check(const char *opt, const char *v)
{
	if (v[0] == '\0' || strncmp(v, "http://", 7) == 0 ||
	    strncmp(v, "https://", 8) == 0)
		return 0;
	fprintf(stderr,
		"presencectl: %s %s: expected http://HOST:PORT/metrics, or "
		"'' to skip\n",
		opt, v);
	return -1;
}

static int
token_read(struct ctl *c, const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "presencectl: --token-file %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	buf = xmalloc(TOKEN_MAX + 1);
	n = fread(buf, 1, TOKEN_MAX + 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
			 buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n < TOKEN_MAX ? n : TOKEN_MAX] = '\0';
	if (n == 0 || n > TOKEN_MAX || strpbrk(buf, " \t\r\n") != NULL) {
		fprintf(stderr,
			"presencectl: --token-file %s: expected one token "
			"(a JWT) on one line\n",
			path);
		free(buf);
		return -1;
	}
	free(c->token);
	c->token = buf;
	return 0;
}

static int
int_arg(const char *opt, const char *v, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long x;

	errno = 0;
	x = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || x < min || x > max) {
		fprintf(stderr,
			"presencectl: %s: expected an integer from %lld to "
			"%lld, not '%s'\n",
			opt, (long long) min, (long long) max, v);
		return -1;
	}
	*out = x;
	return 0;
}

/* The value of option argv[*i] ("--k V" or "--k=V"), or NULL. */
static const char *
opt_value(int argc, char **argv, int *i, const char *eq)
{
	if (eq != NULL)
		return eq + 1;
	if (*i + 1 < argc)
		return argv[++*i];
	fprintf(stderr, "presencectl: %s needs a value\n", argv[*i]);
	return NULL;
}

/* Parses argv into c and *cmd; returns -1 to exit with CTL_USAGE, 1 to
 * exit 0 (help printed), 0 to run. */
static int
args_parse(struct ctl *c, const struct ctl_command **cmd, int argc,
	   char **argv)
{
	const char *token_file = getenv("PRESENCE_TOKEN_FILE"), *v;
	bool help = false, dashdash = false;
	int64_t secs = 10;
	int i;

	*cmd = NULL;
	c->args = xcalloc((size_t) argc, sizeof(char *));
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '=');
		size_t len = eq ? (size_t) (eq - a) : strlen(a);

#define IS(name) (len == strlen(name) && strncmp(a, name, len) == 0)
		if (dashdash || a[0] != '-' || a[1] == '\0') {
			if (*cmd != NULL) {
				c->args[c->nargs++] = (char *) a;
			} else if ((*cmd = command_find(a)) == NULL) {
				if (strcmp(a, "help") == 0 && !help) {
					help = true;
					continue;
				}
				fprintf(stderr,
					"presencectl: unknown command '%s' "
					"(see --help)\n",
					a);
				return -1;
			}
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashdash = true;
		} else if (IS("--help") || IS("-h")) {
			help = true;
		} else if (IS("--version")) {
			printf("presencectl %s\n", PRS_VERSION);
			return 1;
		} else if (IS("--json")) {
			c->json = true;
		} else if (IS("--url")) {
			if ((v = opt_value(argc, argv, &i, eq)) == NULL ||
			    urls_add(c, v) != 0)
				return -1;
		} else if (IS("--token-file")) {
			if ((token_file = opt_value(argc, argv, &i, eq)) ==
			    NULL)
				return -1;
		} else if (IS("--timeout")) {
			if ((v = opt_value(argc, argv, &i, eq)) == NULL ||
			    int_arg("--timeout", v, 1, 3600, &secs) != 0)
				return -1;
		} else if (IS("--thread") && *cmd &&
			   ((*cmd)->opts & O_THREAD)) {
			if ((v = opt_value(argc, argv, &i, eq)) == NULL)
				return -1;
			c->thread = (char *) v;
		} else if (IS("--limit") && *cmd && ((*cmd)->opts & O_LIMIT)) {
			if ((v = opt_value(argc, argv, &i, eq)) == NULL ||
			    int_arg("--limit", v, 1, 1000, &c->limit) != 0)
				return -1;
		} else if (IS("--since") && *cmd && ((*cmd)->opts & O_SINCE)) {
			if ((v = opt_value(argc, argv, &i, eq)) == NULL ||
			    int_arg("--since", v, 0, INT64_MAX, &c->since) !=
				    0)
				return -1;
		} else if ((IS("--registry-metrics") ||
			    IS("--persister-metrics")) &&
			   *cmd && ((*cmd)->opts & O_METRICS)) {
			bool reg = IS("--registry-metrics");
			if ((v = opt_value(argc, argv, &i, eq)) == NULL ||
			    metrics_url_check(reg ? "--registry-metrics"
						  : "--persister-metrics",
					      v) != 0)
				return -1;
			*(reg ? &c->registry_metrics : &c->persister_metrics) =
				(char *) v;
		} else if (IS("--as") && *cmd && ((*cmd)->opts & O_AS)) {
			if ((v = opt_value(argc, argv, &i, eq)) == NULL)
				return -1;
			c->as = (char *) v;
		} else {
			fprintf(stderr,
				"presencectl: unknown option '%.*s'%s%s "
				"(see --help)\n",
				(int) len, a, *cmd ? " for " : "",
				*cmd ? (*cmd)->name : "");
			return -1;
		}
#undef IS
	}
	if (help) {
		if (*cmd != NULL)
			usage_command(*cmd);
		else
			usage(stdout);
		return 1;
	}
	if (*cmd == NULL) {
		usage(stderr);
		return -1;
	}
	if (c->nargs < (*cmd)->min_args || c->nargs > (*cmd)->max_args) {
		fprintf(stderr, "Usage: presencectl %s %s\n", (*cmd)->name,
			(*cmd)->args);
		return -1;
	}
	c->timeout_ms = secs * 1000;
	if (c->nurls == 0 &&
	    urls_add(c, getenv("PRESENCE_URL") ? getenv("PRESENCE_URL")
					       : "http://127.0.0.1:8080") != 0)
		return -1;
	if (c->nurls == 0) {
		fprintf(stderr, "presencectl: no --url\n");
		return -1;
	}
	if (token_file != NULL && token_file[0] != '\0' &&
	    token_read(c, token_file) != 0)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct ctl c = {.limit = 20};
	const struct ctl_command *cmd;
	int rv;
	size_t i;

	rv = args_parse(&c, &cmd, argc, argv);
	if (rv == 0 && ctl_http_init() != 0)
		rv = -1;
	if (rv == 0)
		rv = cmd->fn(&c);
	else
		rv = rv > 0 ? CTL_OK : CTL_USAGE;
	ctl_http_cleanup();
	for (i = 0; i < c.nurls; i++)
		free(c.urls[i]);
	free(c.urls);
	free(c.args);
	free(c.token);
	return rv;
}
