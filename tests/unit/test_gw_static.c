/*
 * Unit tests for gateway/gw_static.c: which request targets map to which
 * file (and which to none: traversal in every spelling), how files are
 * opened below a root (symlinks in and out, FIFOs, directories, the size
 * cap, several roots), and ETag matching.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw_path.h"
#include "gw_static.h"

/* Maps the request target url; returns gw_static_map's verdict. */
static int
map(const char *url, struct gw_static_file *f)
{
	struct gw_path pp;
	char buf[512];
	size_t n = strlen(url);

	assert_true(n + GW_PATH_SEGS_MAX + 1 <= sizeof(buf));
	pp.buf = buf;
	if (gw_path_parse(url, n, &pp) != 0)
		return -2;
	return gw_static_map(&pp, f);
}

static void
maps_to(const char *url, const char *dir, const char *name, const char *ctype)
{
	struct gw_static_file f;

	assert_int_equal(map(url, &f), 0);
	assert_string_equal(f.dir, dir);
	assert_string_equal(f.name, name);
	assert_non_null(f.ctype);
	assert_non_null(strstr(f.ctype, ctype));
	assert_non_null(f.cache);
}

static void
refused(const char *url)
{
	struct gw_static_file f;

	if (map(url, &f) >= 0)
		fail_msg("%s mapped to %s/%s", url, f.dir, f.name);
}

static void
test_map_cors(void **state)
{
	struct gw_static_file f;

	assert_int_equal(map("/v1/client.js", &f), 0);
	assert_true(f.cors);
	assert_int_equal(map("/v1/client.d.ts", &f), 0);
	assert_true(f.cors);
	assert_int_equal(map("/demo/demo.js", &f), 0);
	assert_false(f.cors);
	assert_int_equal(map("/admin/", &f), 0);
	assert_false(f.cors);
}

static void
test_map_known(void **state)
{
	maps_to("/v1/client.js", "", "presence-client.js", "text/javascript");
	maps_to("/v1/client.d.ts", "", "presence-client.d.ts",
		"application/typescript");
	maps_to("/v1/client.js?v=3", "", "presence-client.js",
		"text/javascript");
	maps_to("/demo", "demo", "index.html", "text/html");
	maps_to("/demo/", "demo", "index.html", "text/html");
	maps_to("/demo/?name=x", "demo", "index.html", "text/html");
	maps_to("/admin/", "admin", "index.html", "text/html");
	maps_to("/admin/admin.js", "admin", "admin.js", "text/javascript");
	maps_to("/admin/admin.css", "admin", "admin.css", "text/css");
	maps_to("/ui/base.css", "ui", "base.css", "text/css");
	maps_to("/ui/logo.svg", "ui", "logo.svg", "image/svg+xml");
	maps_to("/ui/icon-32.png", "ui", "icon-32.png", "image/png");
	/* unreserved characters spelled as escapes are the same name */
	maps_to("/demo/%64emo.js", "demo", "demo.js", "text/javascript");
}

static void
test_map_traversal(void **state)
{
	refused("/demo/..");
	refused("/demo/../admin/index.html");
	refused("/demo/%2e%2e");
	refused("/demo/%2E%2E/%2E%2E/etc/passwd");
	refused("/demo/.%2e");
	refused("/demo/%2e");
	refused("/demo/.");
	refused("/demo/..%2fadmin.js");
	refused("/demo/..%2Fadmin%2Findex.html");
	refused("/demo/%2fetc%2fpasswd.js");
	refused("/demo/a%2fb.js");
	refused("/demo/a%5cb.js");
	refused("/demo/..%5c..%5cwin.ini");
	refused("/demo/index.html%00.js");
	refused("/demo/%00");
	refused("/demo/x.js%00");
	refused("/demo/a..js");
	refused("/demo/.hidden.js");
	refused("/demo/.htaccess");
	refused("/demo/-x.js");
	refused("/demo/_x.js");
	refused("/demo/index.html/");
	refused("/demo/sub/index.html");
	refused("/demo//index.html");
	refused("//demo/index.html");
	refused("/v1/../demo/index.html");
	refused("/v1/client.js/");
	refused("/v1/client.js.map");
	refused("/v1/presence-client.js");
	refused("/v1/%2e%2e/client.js");
	maps_to("/ui/", "ui", "index.html", "text/html"); /* uniform */
	refused("/etc/passwd");
	refused("/demo%2f..%2fetc/passwd");
	refused("/DEMO/index.html");
	refused("/demo/%zz.js");
	refused("/demo/caf%c3%a9.js");
	refused("/demo/a b.js");
	refused("/demo/a%20b.js");
	refused("/demo/a:b.js");
	refused("/demo/a~.js");
}

static void
test_map_types(void **state)
{
	refused("/demo/notes");  /* no extension */
	refused("/demo/run.sh"); /* not a web type */
	refused("/demo/secret.key");
	refused("/demo/index.html.bak");
	refused("/demo/.js");
	refused("/demo/js");
	maps_to("/demo/a.d.ts", "demo", "a.d.ts", "typescript");
	maps_to("/demo/mod.mjs", "demo", "mod.mjs", "javascript");
}

static void
test_map_lengths(void **state)
{
	char url[256], name[GW_STATIC_NAME_MAX + 2];

	memset(name, 'a', sizeof(name));
	/* 64 bytes: the longest name */
	memcpy(name + GW_STATIC_NAME_MAX - 3, ".js", 4);
	snprintf(url, sizeof(url), "/demo/%s", name);
	maps_to(url, "demo", name, "javascript");
	memset(name, 'a', sizeof(name));
	memcpy(name + GW_STATIC_NAME_MAX - 2, ".js", 4);
	snprintf(url, sizeof(url), "/demo/%s", name);
	refused(url);
}

/* ---- opening below roots ---------------------------------------- */

static char tmp[256];

static void
put(const char *rel, const char *text)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
mkd(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void
lnk(const char *target, const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	assert_int_equal(symlink(target, p), 0);
}

static int
setup_tree(void **state)
{
	char p[512];

	snprintf(tmp, sizeof(tmp), "%s/gwstatic.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(tmp));
	/* root a: pages; root b: the SDK and a second demo file */
	mkd("a");
	mkd("a/demo");
	mkd("a/admin");
	mkd("b");
	mkd("b/demo");
	mkd("outside");
	put("a/demo/index.html", "<p>demo</p>");
	put("a/admin/index.html", "<p>admin</p>");
	put("b/demo/index.html", "<p>shadowed</p>");
	put("b/demo/only-b.js", "b();");
	put("b/presence-client.js", "export {};");
	put("outside/secret.js", "secret");
	lnk("../../outside/secret.js", "a/demo/out.js"); /* out of root */
	lnk("index.html", "a/demo/in.html");             /* inside root */
	lnk("../outside", "a/ui");                       /* a directory */
	mkd("a/demo/dir.js");
	snprintf(p, sizeof(p), "%s/a/demo/fifo.js", tmp);
	assert_int_equal(mkfifo(p, 0644), 0);
	put("a/demo/big.js", "");
	snprintf(p, sizeof(p), "%s/a/demo/big.js", tmp);
	assert_int_equal(truncate(p, 4096), 0);
	return 0;
}

static int
teardown_tree(void **state)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

/* Opens url below roots (relative to tmp, colon-separated); returns the
 * result and the file's first bytes in got. */
static int
open_url(const char *roots, const char *url, size_t max, char *got,
	 size_t glen)
{
	struct gw_static_file f;
	char full[2048] = "";
	const char *r = roots;
	struct stat st;
	int fd, rv;
	ssize_t n;

	while (*r) {
		const char *e = strchr(r, ':');
		size_t k = e ? (size_t) (e - r) : strlen(r);
		size_t used = strlen(full);
		snprintf(full + used, sizeof(full) - used, "%s%s/%.*s",
			 used ? ":" : "", tmp, (int) k, r);
		r += k + (e ? 1 : 0);
	}
	assert_int_equal(map(url, &f), 0);
	rv = gw_static_open(full, &f, max, &fd, &st);
	if (rv != 0)
		return rv;
	n = read(fd, got, glen - 1);
	close(fd);
	got[n > 0 ? n : 0] = '\0';
	return 0;
}

static void
test_open(void **state)
{
	char got[64];

	assert_int_equal(open_url("a:b", "/demo/", 1 << 20, got, sizeof(got)),
			 0);
	assert_string_equal(got, "<p>demo</p>");
	/* the first root that has the file wins; later ones fill in */
	assert_int_equal(
		open_url("a:b", "/demo/only-b.js", 1 << 20, got, sizeof(got)),
		0);
	assert_string_equal(got, "b();");
	assert_int_equal(open_url("b:a", "/demo/", 1 << 20, got, sizeof(got)),
			 0);
	assert_string_equal(got, "<p>shadowed</p>");
	assert_int_equal(
		open_url("a:b", "/v1/client.js", 1 << 20, got, sizeof(got)),
		0);
	assert_string_equal(got, "export {};");
	/* empty and missing roots are skipped */
	assert_int_equal(open_url("nope::b", "/v1/client.js", 1 << 20, got,
				  sizeof(got)),
			 0);
	assert_int_equal(
		open_url("a", "/v1/client.js", 1 << 20, got, sizeof(got)),
		-ENOENT);
	assert_int_equal(
		open_url("a", "/demo/nothing.js", 1 << 20, got, sizeof(got)),
		-ENOENT);
}

static void
test_open_refused(void **state)
{
	char got[64];

	/* symlinks below the root: out of it, and even inside it */
	assert_int_equal(
		open_url("a", "/demo/out.js", 1 << 20, got, sizeof(got)),
		-ENOENT);
	assert_int_equal(
		open_url("a", "/demo/in.html", 1 << 20, got, sizeof(got)),
		-ENOENT);
	/* a symlinked directory */
	assert_int_equal(
		open_url("a", "/ui/secret.js", 1 << 20, got, sizeof(got)),
		-ENOENT);
	/* not regular files; the FIFO must not block */
	assert_int_equal(
		open_url("a", "/demo/dir.js", 1 << 20, got, sizeof(got)),
		-ENOENT);
	assert_int_equal(
		open_url("a", "/demo/fifo.js", 1 << 20, got, sizeof(got)),
		-ENOENT);
	/* the size cap: exactly max is served, one byte less refuses */
	assert_int_equal(open_url("a", "/demo/big.js", 4096, got, sizeof(got)),
			 0);
	assert_int_equal(open_url("a", "/demo/big.js", 4095, got, sizeof(got)),
			 -EFBIG);
}

static void
test_etag(void **state)
{
	struct stat st;
	char e1[96], e2[96];

	memset(&st, 0, sizeof(st));
	st.st_ino = 42;
	st.st_size = 1000;
	st.st_mtim.tv_sec = 1700000000;
	st.st_mtim.tv_nsec = 5;
	gw_static_etag(&st, e1, sizeof(e1));
	assert_int_equal(strncmp(e1, "W/\"", 3), 0);
	assert_int_equal(e1[strlen(e1) - 1], '"');
	st.st_mtim.tv_nsec = 6;
	gw_static_etag(&st, e2, sizeof(e2));
	assert_string_not_equal(e1, e2);

	assert_true(gw_static_etag_match(e1, e1));
	assert_true(gw_static_etag_match(e1 + 2, e1)); /* strong spelling */
	assert_true(gw_static_etag_match("*", e1));
	assert_true(gw_static_etag_match(" * ", e1));
	{
		char list[256];
		snprintf(list, sizeof(list), "\"x\", %s ,\"y\"", e2);
		assert_true(gw_static_etag_match(list, e2));
		assert_false(gw_static_etag_match(list, e1));
	}
	assert_false(gw_static_etag_match("", e1));
	assert_false(gw_static_etag_match(",,, ,", e1));
	assert_false(gw_static_etag_match("W/", e1));
	assert_false(gw_static_etag_match("\"", e1));
	assert_false(gw_static_etag_match("**", e1));
	assert_false(gw_static_etag_match(e2, e1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_known),
		cmocka_unit_test(test_map_cors),
		cmocka_unit_test(test_map_traversal),
		cmocka_unit_test(test_map_types),
		cmocka_unit_test(test_map_lengths),
		cmocka_unit_test_setup_teardown(test_open, setup_tree,
						teardown_tree),
		cmocka_unit_test_setup_teardown(test_open_refused, setup_tree,
						teardown_tree),
		cmocka_unit_test(test_etag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
