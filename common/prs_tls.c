/*
 * Mutual TLS for tls+tcp:// links (see prs_tls.h). NNG 1.5.2 on Debian
 * uses mbedTLS; the configuration is the same for every link of a process:
 * our certificate and key, the CA that must have signed the peer's, and
 * authentication required both ways. The peer's host name is not checked
 * (mbedTLS 2 matches no IP addresses): trust is the CA's, so give each
 * deployment its own CA (scripts/make-certs does).
 */
#include "prs_tls.h"
#include "prs_util.h"

#include <nng/supplemental/tls/tls.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEM_MAX (256 * 1024)

char *prs_tls_ca_file = "";
char *prs_tls_cert_file = "";
char *prs_tls_key_file = "";

static struct {
	bool loaded, failed;
	char *ca, *cert, *key;
} pem;

bool
prs_url_tls(const char *url)
{
	return url != NULL && strncmp(url, "tls+tcp://", 10) == 0;
}

/* The whole file, NUL-terminated, or NULL (logged). */
static char *
pem_read(const char *key, const char *path)
{
	FILE *f;
	char *buf;
	size_t n;

	if (path == NULL || path[0] == '\0') {
		prs_err("tls+tcp:// needs %s (and tls_ca_file, tls_cert_file, "
			"tls_key_file)",
			key);
		return NULL;
	}
	if ((f = fopen(path, "rb")) == NULL) {
		prs_err("%s %s: %s", key, path, strerror(errno));
		return NULL;
	}
	buf = xmalloc(PEM_MAX + 1);
	n = fread(buf, 1, PEM_MAX + 1, f);
	fclose(f);
	if (n == 0 || n > PEM_MAX) {
		prs_err("%s %s: %s", key, path,
			n == 0 ? "empty or unreadable"
			       : "larger than 256 KiB");
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static bool
pem_load(void)
{
	if (pem.loaded || pem.failed)
		return pem.loaded;
	pem.ca = pem_read("tls_ca_file", prs_tls_ca_file);
	pem.cert =
		pem.ca ? pem_read("tls_cert_file", prs_tls_cert_file) : NULL;
	pem.key = pem.cert ? pem_read("tls_key_file", prs_tls_key_file) : NULL;
	if (pem.key == NULL) {
		free(pem.ca);
		free(pem.cert);
		pem.ca = pem.cert = NULL;
		pem.failed = true;
		return false;
	}
	pem.loaded = true;
	return true;
}

static int
config_make(nng_tls_config **out, nng_tls_mode mode)
{
	nng_tls_config *cfg;
	int rv;

	if (!pem_load())
		return NNG_EINVAL;
	if ((rv = nng_tls_config_alloc(&cfg, mode)) != 0)
		return rv;
	if ((rv = nng_tls_config_ca_chain(cfg, pem.ca, NULL)) != 0)
		prs_err("tls_ca_file %s: %s", prs_tls_ca_file,
			nng_strerror(rv));
	else if ((rv = nng_tls_config_own_cert(cfg, pem.cert, pem.key,
					       NULL)) != 0)
		prs_err("tls_cert_file %s, tls_key_file %s: %s",
			prs_tls_cert_file, prs_tls_key_file, nng_strerror(rv));
	else
		rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
	if (rv != 0) {
		nng_tls_config_free(cfg);
		return rv;
	}
	*out = cfg;
	return 0;
}

int
prs_tls_dial(nng_socket s, const char *url, nng_dialer *d, int flags)
{
	nng_tls_config *cfg;
	nng_dialer dd;
	int rv;

	if (!prs_url_tls(url))
		return nng_dial(s, url, d, flags);
	if ((rv = config_make(&cfg, NNG_TLS_MODE_CLIENT)) != 0)
		return rv;
	if ((rv = nng_dialer_create(&dd, s, url)) != 0) {
		nng_tls_config_free(cfg);
		return rv;
	}
	/* The dialer holds its own reference. */
	rv = nng_dialer_set_ptr(dd, NNG_OPT_TLS_CONFIG, cfg);
	nng_tls_config_free(cfg);
	if (rv == 0)
		rv = nng_dialer_start(dd, flags);
	if (rv != 0) {
		nng_dialer_close(dd);
		return rv;
	}
	if (d != NULL)
		*d = dd;
	return 0;
}

int
prs_tls_listener(nng_listener l, const char *url)
{
	nng_tls_config *cfg;
	int rv;

	if (!prs_url_tls(url))
		return 0;
	if ((rv = config_make(&cfg, NNG_TLS_MODE_SERVER)) != 0)
		return rv;
	rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg);
	nng_tls_config_free(cfg);
	return rv;
}
