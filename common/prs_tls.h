/*
 * Mutual TLS for links between hosts (tls+tcp://): every listener and
 * every dialer of such a URL presents this process's certificate and
 * requires one from the peer, signed by the deployment's CA
 * (docs/OPERATIONS.md, "Several hosts"). A peer without one fails the TLS
 * handshake, before the link layer sees a connection.
 */
#ifndef PRS_TLS_H
#define PRS_TLS_H

#include <stdbool.h>

#include <nng/nng.h>

/* Keys every daemon takes (the [common] section; see prs_config.c):
 * PEM files of the CA that signs every process of the deployment, of this
 * process's certificate and of its private key (unencrypted). */
extern char *prs_tls_ca_file, *prs_tls_cert_file, *prs_tls_key_file;

/* Whether url is a tls+tcp:// URL. */
bool prs_url_tls(const char *url);
/* nng_dial for any URL; for tls+tcp://, with this process's TLS client
 * configuration. Returns 0 or an NNG error (a TLS configuration error is
 * logged once, naming the key). */
int prs_tls_dial(nng_socket s, const char *url, nng_dialer *d, int flags);
/* Sets the TLS server configuration on a listener of a tls+tcp:// URL
 * (before it starts); nothing for other URLs. Returns 0 or an NNG error. */
int prs_tls_listener(nng_listener l, const char *url);

#endif
