/*
 * Static files (gw_static.h): the SDK, the demo page and the admin
 * console, from the directories of web_root.
 *
 * A request path never becomes a file system path by string surgery.
 * gw_static_map() accepts a fixed set of shapes (a known prefix and at
 * most one file name of [A-Za-z0-9._-] that starts with a letter or a
 * digit and has a known extension) and builds the relative path itself,
 * so "..", encoded slashes, NUL and backslashes never reach the file
 * system. The file is then opened one component at a time with
 * openat(O_NOFOLLOW) from the root, so a symlink anywhere below the root,
 * pointing in or out, is refused as if absent; the root itself may be a
 * symlink (it is the operator's choice).
 *
 * Files are read whole per request: they are small (GW_STATIC_MAX_BYTES
 * bounds the blocking read and the outbound queue), a page load asks for
 * a handful, and the page cache holds them. A weak ETag from inode, size
 * and modification time lets browsers revalidate with a 304, and there is
 * no cache of ours to invalidate when a deploy replaces the files.
 */
#include "gw_static.h"

#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_server.h"
#include "prs_util.h"

/* No inline script or style anywhere: the pages load their code and
 * styles from their own origin. connect-src is wide because the admin
 * console reaches other gateways' /healthz and /readyz and a page may
 * connect its WebSocket to any gateway of the deployment. */
#define STATIC_CSP                                                            \
	"default-src 'self'; script-src 'self'; style-src 'self'; "           \
	"img-src 'self' data:; connect-src 'self' http: https: ws: wss:; "    \
	"object-src 'none'; base-uri 'none'; form-action 'self'; "            \
	"frame-ancestors 'none'"

/* Pages revalidate on every load (a deploy shows at once); the SDK may be
 * reused for five minutes by the 19,000 clients of a gateway. The SDK may
 * also be imported by pages of any origin (a module import is a CORS
 * request): it is public and carries no credentials. */
#define CACHE_PAGE "no-cache"
#define CACHE_SDK  "public, max-age=300"

static const struct {
	const char *ext;
	const char *ctype;
} static_types[] = {
	{".html", "text/html; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".mjs", "text/javascript; charset=utf-8"},
	{".d.ts", "application/typescript; charset=utf-8"},
	{".json", "application/json"},
	{".svg", "image/svg+xml"},
	{".png", "image/png"},
	{".ico", "image/x-icon"},
	{".txt", "text/plain; charset=utf-8"},
	{".woff2", "font/woff2"},
};

/* The directories below a root that hold pages, served at /NAME/. */
static const char *const static_dirs[] = {"demo", "admin", "ui"};

/* The SDK's two files, at fixed addresses. */
static const struct {
	const char *url; /* segment after /v1/ */
	const char *file;
} static_sdk[] = {
	{"client.js", "presence-client.js"},
	{"client.d.ts", "presence-client.d.ts"},
};

static const char *
static_type(const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < PRS_ARRAY_LEN(static_types); i++) {
		size_t el = strlen(static_types[i].ext);
		if (n > el &&
		    memcmp(name + n - el, static_types[i].ext, el) == 0)
			return static_types[i].ctype;
	}
	return NULL;
}

static bool
static_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > GW_STATIC_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') ||
			     (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9');
		if (i == 0 && !alnum)
			return false;
		if (!alnum && ch != '.' && ch != '_' && ch != '-')
			return false;
		if (ch == '.' && i + 1 < n && s[i + 1] == '.')
			return false;
	}
	return true;
}

static void
static_set(struct gw_static_file *f, const char *dir, const char *name,
	   size_t n, const char *cache)
{
	snprintf(f->dir, sizeof(f->dir), "%s", dir);
	memcpy(f->name, name, n);
	f->name[n] = '\0';
	f->cache = cache;
}

int
gw_static_map(const struct gw_path *pp, struct gw_static_file *f)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	if (pp->n == 2 && gw_path_seg_is(pp, 0, "v1")) {
		for (i = 0; i < PRS_ARRAY_LEN(static_sdk); i++) {
			const char *file = static_sdk[i].file;
			if (!gw_path_seg_is(pp, 1, static_sdk[i].url))
				continue;
			static_set(f, "", file, strlen(file), CACHE_SDK);
			f->ctype = static_type(file, strlen(file));
			f->cors = true;
			return 0;
		}
		return -1;
	}
	for (i = 0; i < PRS_ARRAY_LEN(static_dirs); i++)
		if (gw_path_seg_is(pp, 0, static_dirs[i]))
			break;
	if (i == PRS_ARRAY_LEN(static_dirs) || pp->n > 2)
		return -1;
	if (pp->n == 1 || pp->len[1] == 0) { /* /demo, /demo/ */
		static_set(f, static_dirs[i], "index.html", 10, CACHE_PAGE);
	} else {
		if (!static_name_ok(pp->seg[1], pp->len[1]))
			return -1;
		static_set(f, static_dirs[i], pp->seg[1], pp->len[1],
			   CACHE_PAGE);
	}
	f->ctype = static_type(f->name, strlen(f->name));
	return f->ctype != NULL ? 0 : -1;
}

/* gw_static_open below one root. */
static int
static_open_in(const char *root, const struct gw_static_file *f, size_t max,
	       int *fdp, struct stat *st)
{
	int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;

	if (dfd < 0)
		return -ENOENT;
	if (f->dir[0] != '\0') {
		int sub = openat(dfd, f->dir,
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					 O_CLOEXEC);
		close(dfd);
		if (sub < 0)
			return -ENOENT;
		dfd = sub;
	}
	/* O_NONBLOCK: a FIFO planted below the root must not block the
	 * loop in open(); fstat refuses it next. */
	fd = openat(dfd, f->name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return -ENOENT;
	if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return -ENOENT;
	}
	if ((uint64_t) st->st_size > max) {
		close(fd);
		return -EFBIG;
	}
	*fdp = fd;
	return 0;
}

int
gw_static_open(const char *roots, const struct gw_static_file *f, size_t max,
	       int *fd, struct stat *st)
{
	const char *r = roots;

	for (;;) {
		const char *e = strchr(r, ':');
		size_t n = e != NULL ? (size_t) (e - r) : strlen(r);

		if (n > 0 && n < PATH_MAX) {
			char root[PATH_MAX];
			int rv;

			memcpy(root, r, n);
			root[n] = '\0';
			rv = static_open_in(root, f, max, fd, st);
			if (rv != -ENOENT)
				return rv;
		}
		if (e == NULL)
			return -ENOENT;
		r = e + 1;
	}
}

void
gw_static_etag(const struct stat *st, char *out, size_t len)
{
	snprintf(out, len, "W/\"%llx-%llx-%llx.%lx\"",
		 (unsigned long long) st->st_ino,
		 (unsigned long long) st->st_size,
		 (unsigned long long) st->st_mtim.tv_sec,
		 (unsigned long) st->st_mtim.tv_nsec);
}

/* s[0..n) without a leading W/ (weak comparison). */
static void
static_opaque(const char **s, size_t *n)
{
	if (*n >= 2 && (*s)[0] == 'W' && (*s)[1] == '/') {
		*s += 2;
		*n -= 2;
	}
}

bool
gw_static_etag_match(const char *inm, const char *etag)
{
	const char *p = inm;
	size_t elen = strlen(etag);

	static_opaque(&etag, &elen);
	while (p != NULL && *p != '\0') {
		const char *e;
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		e = p;
		/* an entity tag is quoted and may not hold a comma, but a
		 * hostile list may: scan to the next comma either way */
		while (*e != '\0' && *e != ',')
			e++;
		n = (size_t) (e - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 1 && p[0] == '*')
			return true;
		static_opaque(&p, &n);
		if (n == elen && n >= 2 && p[0] == '"' &&
		    memcmp(p, etag, n) == 0)
			return true;
		p = e;
	}
	return false;
}

void
gw_static_log_roots(const char *roots)
{
	const char *r = roots;
	bool any = false;

	for (;;) {
		const char *e = strchr(r, ':');
		size_t n = e != NULL ? (size_t) (e - r) : strlen(r);

		if (n > 0 && n < PATH_MAX) {
			char root[PATH_MAX];
			struct stat st;

			memcpy(root, r, n);
			root[n] = '\0';
			if (stat(root, &st) == 0 && S_ISDIR(st.st_mode))
				any = true;
		}
		if (e == NULL)
			break;
		r = e + 1;
	}
	if (any)
		prs_info("web_root %s: serving /v1/client.js, /demo/, "
			 "/admin/",
			 roots);
	else
		prs_warn("web_root %s: no such directory; /v1/client.js, "
			 "/demo/ and /admin/ answer 404",
			 roots);
}

/* Reads the whole of fd (size bytes by its fstat) into a new buffer. */
static char *
static_read(int fd, size_t size, size_t *got)
{
	char *buf = xmalloc(size > 0 ? size : 1);
	size_t off = 0;

	while (off < size) {
		ssize_t n = pread(fd, buf + off, size - off, (off_t) off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* shrank or failed: send what is there */
		off += (size_t) n;
	}
	*got = off;
	return buf;
}

void
gw_static_serve(struct gw_conn *c, const struct gw_http1_req *rq,
		const struct gw_path *pp)
{
	const struct gw_config *cfg = c->srv->cfg;
	struct gw_static_file f;
	struct stat st;
	char etag[96], extra[704];
	const char *inm = rq->hdr[GW_H_IF_NONE_MATCH];
	size_t max = GW_STATIC_MAX_BYTES, got;
	int fd, rv;
	char *body;

	/* the head and the file must fit in the outbound queue at once */
	if ((size_t) cfg->max_outbound_bytes < max + 4096)
		max = (size_t) cfg->max_outbound_bytes - 4096;
	if (gw_static_map(pp, &f) != 0) {
		gw_http1_respond_error(c, 404, NULL, "no such file", NULL,
				       false);
		return;
	}
	rv = gw_static_open(cfg->web_root, &f, max, &fd, &st);
	if (rv == -EFBIG)
		prs_warn("web_root: %s/%s is over %zu bytes, not served",
			 f.dir, f.name, max);
	if (rv != 0) {
		gw_http1_respond_error(c, rv == -EFBIG ? 500 : 404, NULL,
				       "no such file", NULL, false);
		return;
	}
	gw_static_etag(&st, etag, sizeof(etag));
	snprintf(extra, sizeof(extra),
		 "ETag: %s\r\nContent-Security-Policy: " STATIC_CSP "\r\n"
		 "X-Content-Type-Options: nosniff\r\n"
		 "Referrer-Policy: no-referrer\r\n%s",
		 etag, f.cors ? "Access-Control-Allow-Origin: *\r\n" : "");
	if (inm != NULL && gw_static_etag_match(inm, etag)) {
		close(fd);
		gw_http1_respond_cached(c, 304, f.ctype, f.cache, extra, NULL,
					(size_t) st.st_size, false);
		return;
	}
	if (rq->method == HTTP_HEAD) { /* the length, without reading */
		close(fd);
		gw_http1_respond_cached(c, 200, f.ctype, f.cache, extra, NULL,
					(size_t) st.st_size, false);
		return;
	}
	body = static_read(fd, (size_t) st.st_size, &got);
	close(fd);
	gw_http1_respond_cached(c, 200, f.ctype, f.cache, extra, body, got,
				false);
	free(body);
}
