/*
 * presencectl's HTTP client: one libcurl easy handle, reused so that the
 * requests of one command share a keep-alive connection. Bounded in every
 * way a misbehaving server could hold it: a total time per request
 * (--timeout), a connect time, a body size (CTL_BODY_MAX), no redirects,
 * http and https only.
 *
 * A failure is classified once, here, into the documented exit codes:
 * the answer's JSON error object (PROTOCOL.md §6) tells a gateway's own
 * 404 ("no such endpoint": a wrong URL) from a missing user, and an
 * answer that is not JSON at all means the URL does not point at a
 * presence gateway (a proxy's error page, another server).
 */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "prs_util.h"

static CURL *curl;

int
ctl_http_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "presencectl: libcurl failed to start\n");
		return -1;
	}
	curl = curl_easy_init();
	if (curl == NULL) {
		fprintf(stderr, "presencectl: libcurl failed to start\n");
		return -1;
	}
	return 0;
}

void
ctl_http_cleanup(void)
{
	if (curl != NULL)
		curl_easy_cleanup(curl);
	curl = NULL;
	curl_global_cleanup();
}

char *
ctl_fmt(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	PRS_ASSERT(n >= 0);
	s = xmalloc((size_t) n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t) n + 1, fmt, ap);
	va_end(ap);
	return s;
}

char *
ctl_seg(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), i, k = 0;
	char *out = xmalloc(3 * n + 1);

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char) s[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		    ch == '.' || ch == '~') {
			out[k++] = (char) ch;
		} else {
			out[k++] = '%';
			out[k++] = hex[ch >> 4];
			out[k++] = hex[ch & 15];
		}
	}
	out[k] = '\0';
	return out;
}

static size_t
http_write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct ctl_resp *r = ud;
	size_t n = size * nmemb;

	if (r->len + n > CTL_BODY_MAX) {
		r->too_big = true;
		return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
	}
	r->body = xrealloc(r->body, r->len + n + 1);
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

void
ctl_resp_free(struct ctl_resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/* The error object's field of a v1 error body, or NULL. */
static const char *
err_field(const json_t *body, const char *key)
{
	return json_string_value(
		json_object_get(json_object_get(body, "error"), key));
}

int
ctl_status_exit(long status, const json_t *body)
{
	const char *msg = err_field(body, "message");

	if (status >= 200 && status < 300)
		return body != NULL ? CTL_OK : CTL_CONNECT;
	if (err_field(body, "code") == NULL)
		return CTL_CONNECT; /* not a presence gateway's answer */
	switch (status) {
	case 400:
	case 413:
	case 414:
	case 431:
		return CTL_USAGE;
	case 401:
	case 403:
		return CTL_AUTH;
	case 404:
		/* the router's own 404: the path is not the API's */
		if (msg != NULL && strcmp(msg, "no such endpoint") == 0)
			return CTL_CONNECT;
		return CTL_NOT_FOUND;
	case 503:
		return CTL_UNAVAILABLE;
	default:
		return CTL_SERVER;
	}
}

int
ctl_http(const struct ctl *c, const char *base, const char *method,
	 const char *path, json_t *body, struct ctl_resp *r)
{
	struct curl_slist *hdrs = NULL;
	char *url = ctl_fmt("%s%s", base, path), *auth = NULL, *as = NULL;
	char *data = NULL;
	long connect_ms = c->timeout_ms < 5000 ? (long) c->timeout_ms : 5000;
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) c->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(curl, CURLOPT_MAXFILESIZE, (long) CTL_BODY_MAX);
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "presencectl");
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, r->err);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (c->token != NULL) {
		auth = ctl_fmt("Authorization: Bearer %s", c->token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	if (c->as != NULL) {
		as = ctl_fmt("X-User-Id: %s", c->as);
		hdrs = curl_slist_append(hdrs, as);
	}
	if (body != NULL) {
		data = json_dumps(body, JSON_COMPACT);
		hdrs = curl_slist_append(hdrs,
					 "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
				 (long) strlen(data));
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(curl);
	r->curl_rc = (int) rc;
	if (rc == CURLE_OK || rc == CURLE_WRITE_ERROR)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (rc != CURLE_OK && r->err[0] == '\0')
		snprintf(r->err, sizeof(r->err), "%s", curl_easy_strerror(rc));
	if (rc == CURLE_FILESIZE_EXCEEDED)
		r->too_big = true;
	if (rc == CURLE_OK && r->body != NULL)
		r->json = json_loadb(r->body, r->len, 0, NULL);
	curl_slist_free_all(hdrs);
	free(data);
	free(auth);
	free(as);
	free(url);
	if (r->too_big)
		return CTL_SERVER;
	if (rc != CURLE_OK)
		return CTL_CONNECT;
	return ctl_status_exit(r->status, r->json);
}

/* The one-line reason for r's failure, and the hint that goes with it. */
static void
resp_explain(const struct ctl *c, const char *base, const struct ctl_resp *r,
	     char *why, size_t wlen, const char **hint)
{
	const char *msg = err_field(r->json, "message");
	int ex = ctl_status_exit(r->status, r->json);

	*hint = NULL;
	if (r->too_big) {
		snprintf(why, wlen, "the answer is larger than %u MiB",
			 CTL_BODY_MAX >> 20);
		return;
	}
	if (r->curl_rc != 0) {
		snprintf(why, wlen, "cannot reach %s: %s", base, r->err);
		*hint = "is a gateway listening there? check --url";
		return;
	}
	if (ex == CTL_CONNECT && r->status == 404) {
		snprintf(why, wlen, "%s answered 404 %s", base,
			 msg ? msg : "(not a presence gateway's answer)");
		*hint = "the URL is not a presence gateway's (check --url, "
			"and any path after the port)";
		return;
	}
	if (ex == CTL_CONNECT) {
		snprintf(why, wlen,
			 "%s answered HTTP %ld without a presence error "
			 "object",
			 base, r->status);
		*hint = "is --url a presence gateway (not a proxy or another "
			"server)?";
		return;
	}
	snprintf(why, wlen, "HTTP %ld %s: %s", r->status,
		 err_field(r->json, "code"), msg ? msg : "");
	if (r->status == 401)
		*hint = c->token ? "the token was refused: check --token-file "
				   "(expired? signed with another secret?)"
				 : "this gateway needs a token: give one with "
				   "--token-file or PRESENCE_TOKEN_FILE";
	else if (r->status == 403)
		*hint = "this needs a token whose claims include "
			"\"admin\": true";
	else if (r->status == 503)
		*hint = "the registry is down or still loading its state "
			"(history also needs the persister); try again "
			"shortly, and see `presencectl status`";
}

int
ctl_resp_report(const struct ctl *c, const char *base, const char *what,
		const struct ctl_resp *r)
{
	char why[512];
	const char *hint;

	resp_explain(c, base, r, why, sizeof(why), &hint);
	fprintf(stderr, "presencectl: %s: %s\n", what, why);
	if (hint != NULL)
		fprintf(stderr, "presencectl: %s\n", hint);
	if (r->too_big)
		return CTL_SERVER;
	if (r->curl_rc != 0)
		return CTL_CONNECT;
	return ctl_status_exit(r->status, r->json);
}

json_t *
ctl_resp_error_json(const struct ctl *c, const char *base,
		    const struct ctl_resp *r)
{
	char why[512];
	const char *hint, *code = err_field(r->json, "code");
	int ex = r->too_big        ? CTL_SERVER
		 : r->curl_rc != 0 ? CTL_CONNECT
				   : ctl_status_exit(r->status, r->json);

	resp_explain(c, base, r, why, sizeof(why), &hint);
	return json_pack("{s:i,s:o,s:o,s:s,s:s}", "exit", ex, "status",
			 r->status ? json_integer(r->status) : json_null(),
			 "code", code ? json_string(code) : json_null(),
			 "message", why, "url", base);
}
