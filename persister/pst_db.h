/*
 * The persister's one PostgreSQL connection, driven by libev through
 * libpq's non-blocking API. It connects, runs the schema migrations,
 * then executes one command at a time; when the server is unreachable
 * or the connection drops it reconnects every second, forever.
 */
#ifndef PST_DB_H
#define PST_DB_H

#include <ev.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "pst_sql.h"

struct pst_db;

/* Outcome of a command. */
enum pst_db_rc {
	PST_DB_OK = 0,
	PST_DB_ESQL = -1,  /* the server rejected it; err says why */
	PST_DB_ELOST = -2, /* connection lost: the outcome is unknown */
};

/* Command finished. res (on PST_DB_OK) is the last result that returned
 * tuples, else the last result; err (otherwise) a one-line message. Both
 * are freed when the callback returns. The callback may start the next
 * command. */
typedef void (*pst_db_done_cb)(void *arg, enum pst_db_rc rc,
			       const PGresult *res, const char *err);
/* The connection became usable (ready: connected and migrated) or was
 * lost (!ready). Called on the loop, never from inside pst_db_exec. */
typedef void (*pst_db_state_cb)(void *arg, bool ready);

/* Checks conninfo (a postgresql:// URI or key=value string) and starts
 * connecting. Returns 0, or -1 when conninfo cannot be parsed (logged).
 * The caller keeps conninfo; it is copied. */
int pst_db_open(struct pst_db **out, struct ev_loop *loop,
		const char *conninfo, pst_db_state_cb state_cb, void *arg);
/* Disconnects and frees; a command in flight is abandoned silently
 * (the server rolls it back when it sees the connection close). */
void pst_db_close(struct pst_db *db);

/* True when connected, migrated and no command is in flight. */
bool pst_db_idle(const struct pst_db *db);
/* True when connected and migrated (a command may be in flight). */
bool pst_db_up(const struct pst_db *db);
/* Connection attempts that failed and connections lost, since start. */
uint64_t pst_db_failures(const struct pst_db *db);

/* Runs prepared statement st (pst_sql.h: pst_stmts) with its text
 * parameters (pst_stmts[st].nparams of them, borrowed: libpq copies them
 * before this returns). Requires pst_db_idle. Returns 0 (cb will be
 * called exactly once), or -1 when the connection broke while sending
 * (cb is not called; the state callback reports the loss). */
int pst_db_exec(struct pst_db *db, enum pst_stmt st, const char *const *params,
		pst_db_done_cb cb, void *arg);

#endif
