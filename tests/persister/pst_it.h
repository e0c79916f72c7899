/*
 * pst_it's fixture (pst_it_fix.c), shared by its checks (pst_it.c): the
 * persister under test, the registry's end of its links, SQL helpers and
 * the WriteBatch being built.
 */
#ifndef PST_IT_H
#define PST_IT_H

#include <libpq-fe.h>
#include <nng/nng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "presence.pb-c.h"

extern const char *binary; /* the persister under test */
extern char tmpdir[64], reg_url[128], pst_url[128], conninfo[2048];
extern char dbname[64];
extern PGconn *admin, *db;
extern nng_socket inbox, outbox;
extern pid_t child;        /* the persister, or -1 */
extern Prs__WriteBatch wb; /* the batch being built (wb_*) */
extern char names[][32];   /* scratch user ids for big batches */

/* Stops the persister, drops the database, removes the temp dir. */
void cleanup(void);
/* Prints the failure with its line, cleans up and exits 1. */
void __attribute__((noreturn, format(printf, 2, 3)))
fail(int line, const char *fmt, ...);
#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c))                                                     \
			fail(__LINE__, "%s", #c);                             \
	} while (0)

int64_t mono_ms(void);
/* A query on the test's own connection; fails the test on error. */
PGresult *q(int line, const char *sql, int n, const char *const *params);
/* The one value of a one-row query, as text ("<null>" for NULL). */
char *q1(int line, const char *sql, int n, const char *const *params);

void start_persister(const char *database);
/* Waits for the persister to exit: its status, or -1 on timeout. */
int wait_exit(int timeout_ms);
void send_env(Prs__Envelope *env);
/* The next envelope of that body from the persister, or NULL. */
Prs__Envelope *recv_body(Prs__Envelope__BodyCase want, int timeout_ms);
uint64_t wait_hello(void);
void drain(void);

void wb_reset(uint64_t id);
Prs__Presence *wb_row(const char *user, Prs__Status st, int64_t version);
void wb_member(const char *thread, const char *user, bool add);
void wb_history(const char *user, Prs__Status st, int64_t at);
/* Sends wb and waits for its BatchAck; returns ok, copies the error. */
bool wb_send(char *err, size_t errlen);
void wb_send_ok(void);

/* What a load returned. */
struct loaded {
	size_t nrows, nmembers, nchunks;
	bool u1_ok, u2_ok, uni_ok;
	char error[256];
	char roster[256];  /* gateway names in load order, comma-separated */
	bool roster_early; /* names in a chunk before the last */
};

void load(uint64_t id, struct loaded *l);

#endif
