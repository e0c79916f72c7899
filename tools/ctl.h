/*
 * presencectl's shared pieces: the invocation (global options and the
 * options of the subcommand), the HTTP client over libcurl (ctl_http.c),
 * the subcommands (ctl_cmd.c, ctl_status.c) and the WebSocket watcher
 * (ctl_watch.c). Every subcommand returns one of the exit codes below,
 * documented in docs/PRESENCECTL.md: scripts branch on them.
 */
#ifndef CTL_H
#define CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ctl_exit {
	CTL_OK = 0,
	CTL_USAGE = 1,       /* bad arguments, or the gateway answered 400 */
	CTL_CONNECT = 2,     /* unreachable, or not a presence gateway (status:
				any process) */
	CTL_AUTH = 3,        /* 401 or 403 */
	CTL_NOT_FOUND = 4,   /* an unknown user */
	CTL_UNAVAILABLE = 5, /* 503: registry (or persister) unavailable;
				status: a process not ready */
	CTL_SERVER = 6,      /* any other failure of the server */
};

/* An answer above this size is refused (exit CTL_SERVER). */
#define CTL_BODY_MAX (16u << 20)

struct ctl {
	char **urls; /* base URLs without a trailing '/' */
	size_t nurls;
	char *token; /* bearer token, or NULL (auth none) */
	char *as;    /* auth none: the caller (X-User-Id, hello user_id) */
	bool json;
	int64_t timeout_ms;
	/* subcommand options */
	char *thread;
	int64_t limit, since;
	/* status: the registry's and the persister's metrics URLs (NULL:
	 * the defaults; "": skip) */
	char *registry_metrics, *persister_metrics;
	char **args; /* positional arguments after the subcommand */
	size_t nargs;
};

/* One HTTP exchange. json is the parsed body when it is JSON. */
struct ctl_resp {
	long status;  /* 0 when no answer arrived */
	int curl_rc;  /* CURLcode */
	bool too_big; /* the body passed CTL_BODY_MAX */
	char *body;   /* NUL-terminated */
	size_t len;
	json_t *json;
	char err[256]; /* curl's message when curl_rc != 0 */
};

/* ---- ctl_http.c ---- */

/* Sets up libcurl; 0, or -1 after printing why. */
int ctl_http_init(void);
void ctl_http_cleanup(void);
/* Sends METHOD base+path with body (a JSON document, or NULL; not
 * consumed) and fills r (the caller frees it with ctl_resp_free). Returns
 * CTL_OK for a 2xx answer with a JSON body, else the exit code that fits
 * the failure (without printing anything). */
int ctl_http(const struct ctl *c, const char *base, const char *method,
	     const char *path, json_t *body, struct ctl_resp *r);
void ctl_resp_free(struct ctl_resp *r);
/* The exit code for an HTTP status and its JSON error body (used by the
 * watcher for a refused upgrade too). */
int ctl_status_exit(long status, const json_t *body);
/* Prints to stderr why r failed, naming what was asked and where; returns
 * ctl_http's exit code for it. */
int ctl_resp_report(const struct ctl *c, const char *base, const char *what,
		    const struct ctl_resp *r);
/* {"exit","status","code","message"} describing r's failure (new ref). */
json_t *ctl_resp_error_json(const struct ctl *c, const char *base,
			    const struct ctl_resp *r);
/* The percent-encoding of s as one path segment (caller frees). */
char *ctl_seg(const char *s);
/* A malloc'ed string, printf style. */
char *ctl_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- ctl_out.c: output helpers ---- */

/* Prints j as one JSON document on stdout (indented) and drops it. */
void ctl_print_json(json_t *j);
/* "2026-12-02T10:00:00.123Z" for ms since the epoch. */
void ctl_time_fmt(char *buf, size_t len, int64_t ms);
/* "3 min ago" / "in 2 s" relative to now (buf at least 32 bytes). */
void ctl_ago_fmt(char *buf, size_t len, int64_t ms);
/* One presence object as a human line ("alice  online  since …"). */
void ctl_print_presence(const json_t *p, int width);
/* In --json mode, the document of a failed command: {"error": e}. */
void ctl_print_error_json(json_t *e);
/* True when s is a valid user or thread id (PROTOCOL.md §2). */
bool ctl_id_valid(const char *s);

/* ---- subcommands: each returns an enum ctl_exit ---- */

int ctl_cmd_status(struct ctl *c);
int ctl_cmd_online(struct ctl *c);
int ctl_cmd_user(struct ctl *c);
int ctl_cmd_query(struct ctl *c);
int ctl_cmd_threads(struct ctl *c);
int ctl_cmd_kick(struct ctl *c);
int ctl_cmd_watch(struct ctl *c);

#endif
