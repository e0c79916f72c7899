/*
 * libFuzzer harness: the static files' path mapping (gw_static_map behind
 * gw_path_parse) and If-None-Match matching. The input is a request
 * target. Whatever it is, a mapped file must stay one plain name in one
 * known directory: the checks below abort on anything that could leave
 * the web root (a separator, a dot-dot, a leading dot, a NUL, a byte
 * outside [A-Za-z0-9._-]), or that has no content type.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_path.h"
#include "gw_static.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_name(const char *s, bool may_be_empty)
{
	size_t i, n = strlen(s);

	if (n == 0) {
		if (!may_be_empty)
			abort();
		return;
	}
	if (n > GW_STATIC_NAME_MAX || s[0] == '.' || strstr(s, "..") != NULL)
		abort();
	for (i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_path pp;
	struct gw_static_file f;
	char *url, *inm;

	if (size > 8192)
		return 0;
	pp.buf = malloc(size + GW_PATH_SEGS_MAX + 1);
	if (gw_path_parse((const char *) data, size, &pp) == 0 &&
	    gw_static_map(&pp, &f) == 0) {
		check_name(f.dir, true);
		check_name(f.name, false);
		if (f.ctype == NULL || f.cache == NULL)
			abort();
		if (f.dir[0] != '\0' && strcmp(f.dir, "demo") != 0 &&
		    strcmp(f.dir, "admin") != 0 && strcmp(f.dir, "ui") != 0)
			abort();
	}
	free(pp.buf);

	/* the same bytes as an If-None-Match list */
	inm = malloc(size + 1);
	memcpy(inm, data, size);
	inm[size] = '\0';
	url = inm; /* NUL inside: the header would end there too */
	(void) gw_static_etag_match(url, "W/\"1-2-3.4\"");
	free(inm);
	return 0;
}
