/*
 * Non-blocking libpq connection state machine on libev.
 *
 *   DOWN --1 s timer--> CONNECTING --PQconnectPoll OK--> MIGRATING
 *     ^                      |                               |
 *     +------- any failure --+--------- script done -----> READY
 *
 * Design decisions:
 * - Nothing ever blocks the loop: PQconnectStartParams/PQconnectPoll with
 *   an ev_io on whatever PQsocket is at each step (it can change while
 *   libpq tries hosts), PQsetnonblocking, PQflush until 0 with the socket
 *   watched for read and write, PQconsumeInput/PQisBusy/PQgetResult.
 *   libpq ignores connect_timeout under PQconnectPoll and a hung server
 *   never answers, so one deadline timer bounds connecting and commands.
 * - Every failure, whatever its phase, goes through db_fail: drop the
 *   connection, log one line (repeats of the same message go to debug),
 *   retry in 1 s. The persister never exits because PostgreSQL is gone.
 * - Migrations run on every (re)connect before anything else, so a
 *   database restored from an old backup is brought up to date too.
 * - Statements (pst_stmts) run prepared: a batch costs PostgreSQL no
 *   parse and, once it settles on a generic plan, no planning. Each is
 *   prepared on its first use on a connection, as the first half of that
 *   command (its parameters copied meanwhile), so "a command in flight"
 *   means the same with or without the prepare, and a connection that
 *   never loads state never prepares the load statements.
 */
#include "pst_db.h"
#include "pst_sql.h"

#include "prs_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_RETRY_S           1.0
#define DB_CONNECT_TIMEOUT_S 10.0
#define DB_CMD_TIMEOUT_S     120.0

enum db_state { DB_DOWN, DB_CONNECTING, DB_MIGRATING, DB_READY };

struct pst_db {
	struct ev_loop *loop;
	char *conninfo;
	PGconn *conn;
	enum db_state state;
	ev_io io;
	int io_fd, io_events;
	ev_timer retry;
	ev_timer deadline;
	bool busy;         /* a command is in flight */
	bool flushing;     /* PQflush returned 1: output still queued */
	bool fail_pending; /* a send failed; db_fail on the next io event */
	pst_db_done_cb cb;
	void *cb_arg;
	PGresult *last; /* result kept for the callback */
	char *err;      /* first error of the command */
	pst_db_state_cb state_cb;
	void *arg;
	char *last_fail; /* last failure logged, to log an outage once */
	uint64_t nfail;  /* connection attempts failed and connections lost */
	bool prepared[PST_STMT_N]; /* on this connection */
	/* The command waiting for its statement's PREPARE: */
	enum pst_stmt pend_st;
	char **pend_params; /* copies */
	pst_db_done_cb pend_cb;
	void *pend_arg;
};

static void db_connect(struct pst_db *db);

/* Frees the copied parameters of the command waiting for its PREPARE. */
static void
pend_free(struct pst_db *db)
{
	int i;

	if (db->pend_params == NULL)
		return;
	for (i = 0; i < pst_stmts[db->pend_st].nparams; i++)
		free(db->pend_params[i]);
	free(db->pend_params);
	db->pend_params = NULL;
}

/* force: re-arm even if unchanged (libpq may have closed the socket and
 * opened another one with the same number while it tried hosts). */
static void
db_watch(struct pst_db *db, int fd, int events, bool force)
{
	if (!force && db->io_fd == fd && db->io_events == events &&
	    ev_is_active(&db->io))
		return;
	ev_io_stop(db->loop, &db->io);
	ev_io_set(&db->io, fd, events);
	ev_io_start(db->loop, &db->io);
	db->io_fd = fd;
	db->io_events = events;
}

/* Drops the connection and everything tied to it, without callbacks. */
static void
db_teardown(struct pst_db *db)
{
	ev_io_stop(db->loop, &db->io);
	db->io_fd = -1;
	ev_timer_stop(db->loop, &db->deadline);
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	PQclear(db->last);
	db->last = NULL;
	free(db->err);
	db->err = NULL;
	db->busy = db->flushing = db->fail_pending = false;
	memset(db->prepared, 0, sizeof(db->prepared));
	pend_free(db);
	db->state = DB_DOWN;
}

static void
db_fail(struct pst_db *db, const char *what, const char *detail)
{
	bool was_ready = db->state == DB_READY;
	pst_db_done_cb cb = db->busy ? db->cb : NULL;
	void *cb_arg = db->cb_arg;
	char line[512];

	db->nfail++;
	snprintf(line, sizeof(line), "%s%s%s", what, *detail ? ": " : "",
		 detail);
	pst_oneline(line);
	if (db->last_fail == NULL || strcmp(db->last_fail, line) != 0) {
		prs_warn("%s (retrying every %.0f s)", line, DB_RETRY_S);
		free(db->last_fail);
		db->last_fail = xstrdup(line);
	} else {
		prs_debug("%s", line);
	}
	db_teardown(db);
	ev_timer_set(&db->retry, DB_RETRY_S, 0.);
	ev_timer_start(db->loop, &db->retry);
	if (cb != NULL)
		cb(cb_arg, PST_DB_ELOST, NULL,
		   "connection to PostgreSQL lost");
	if (was_ready)
		db->state_cb(db->arg, false);
}

static void
db_conn_fail(struct pst_db *db, const char *what)
{
	db_fail(db, what, db->conn != NULL ? PQerrorMessage(db->conn) : "");
}

static void
db_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	db_connect(container_of(w, struct pst_db, retry));
}

static void
db_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pst_db *db = container_of(w, struct pst_db, deadline);

	db_fail(db,
		db->state == DB_CONNECTING
			? "PostgreSQL connection attempt timed out"
			: "PostgreSQL did not answer in time",
		"");
}

static void
db_deadline(struct pst_db *db, double after)
{
	ev_timer_stop(db->loop, &db->deadline);
	ev_timer_set(&db->deadline, after, 0.);
	ev_timer_start(db->loop, &db->deadline);
}

static void
db_notice_cb(void *arg, const char *msg)
{
	char line[512];

	snprintf(line, sizeof(line), "%s", msg);
	prs_debug("PostgreSQL: %s", pst_oneline(line));
}

static char *
result_error(const PGresult *r)
{
	const char *prim = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	char line[1024];

	if (prim != NULL)
		snprintf(line, sizeof(line), "%s%s%s (SQLSTATE %s)", prim,
			 detail ? ": " : "", detail ? detail : "",
			 state ? state : "?");
	else
		snprintf(line, sizeof(line), "%s", PQresultErrorMessage(r));
	return xstrdup(pst_oneline(line));
}

/* After a PQsend* call (ok: what it returned): the command is in flight,
 * cb will get its outcome. */
static int
db_sent(struct pst_db *db, int ok, pst_db_done_cb cb, void *arg)
{
	int rc;

	if (!ok) {
		db->fail_pending = true;
		ev_feed_event(db->loop, &db->io, EV_READ);
		return -1;
	}
	db->busy = true;
	db->cb = cb;
	db->cb_arg = arg;
	db_deadline(db, DB_CMD_TIMEOUT_S);
	rc = PQflush(db->conn);
	if (rc < 0) {
		db->fail_pending = true;
	} else if (rc > 0) {
		db->flushing = true;
		db_watch(db, db->io_fd, EV_READ | EV_WRITE, false);
	}
	/* libpq may have read an early answer while sending: look at its
	 * buffer on the next iteration rather than wait for the socket. */
	ev_feed_event(db->loop, &db->io, EV_READ);
	return 0;
}

/* The command's results are all in: hand them over. */
static void
db_cmd_done(struct pst_db *db)
{
	pst_db_done_cb cb = db->cb;
	void *arg = db->cb_arg;
	PGresult *last = db->last;
	char *err = db->err;

	db->last = NULL;
	db->err = NULL;
	db->busy = false;
	db->cb = NULL;
	ev_timer_stop(db->loop, &db->deadline);
	if (err != NULL)
		cb(arg, PST_DB_ESQL, NULL, err);
	else
		cb(arg, PST_DB_OK, last, NULL);
	PQclear(last);
	free(err);
}

/* Collects every result that libpq can give without blocking. */
static void
db_drain(struct pst_db *db)
{
	while (db->conn != NULL && db->busy && !PQisBusy(db->conn)) {
		PGresult *r = PQgetResult(db->conn);
		if (r == NULL) {
			db_cmd_done(db);
			continue;
		}
		switch (PQresultStatus(r)) {
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
		case PGRES_EMPTY_QUERY:
			/* Keep the last result with rows, else the last. */
			if (db->last == NULL ||
			    PQresultStatus(r) == PGRES_TUPLES_OK ||
			    PQresultStatus(db->last) != PGRES_TUPLES_OK) {
				PQclear(db->last);
				db->last = r;
			} else {
				PQclear(r);
			}
			break;
		case PGRES_FATAL_ERROR:
		case PGRES_NONFATAL_ERROR:
		case PGRES_BAD_RESPONSE:
			if (db->err == NULL)
				db->err = result_error(r);
			PQclear(r);
			break;
		default:
			/* COPY and friends: we never ask for them. */
			PQclear(r);
			db_fail(db, "unexpected PostgreSQL result", "");
			return;
		}
	}
	if (db->conn != NULL && !db->busy) {
		PGnotify *n;
		while ((n = PQnotifies(db->conn)) != NULL)
			PQfreemem(n);
	}
}

static void
db_migrated_cb(void *arg, enum pst_db_rc rc, const PGresult *res,
	       const char *err)
{
	struct pst_db *db = arg;
	int64_t version, applied;

	if (rc == PST_DB_ELOST)
		return; /* db_fail did the rest */
	if (rc == PST_DB_ESQL) {
		db_fail(db, "schema migration failed", err);
		return;
	}
	if (!pst_result_shape_ok(res, 2) || PQntuples(res) != 1 ||
	    pst_parse_i64(PQgetvalue(res, 0, 0), &version) ||
	    pst_parse_i64(PQgetvalue(res, 0, 1), &applied)) {
		db_fail(db, "schema migration returned an unexpected result",
			"");
		return;
	}
	if (applied > 0)
		prs_info("applied %lld schema migration(s), schema version "
			 "%lld",
			 (long long) applied, (long long) version);
	else
		prs_debug("schema version %lld", (long long) version);
	if (version > pst_sql_schema_version())
		prs_warn("database schema version %lld is newer than this "
			 "persister's (%d)",
			 (long long) version, pst_sql_schema_version());
	db->state = DB_READY;
	free(db->last_fail);
	db->last_fail = NULL;
	db->state_cb(db->arg, true);
}

static void
db_connected(struct pst_db *db)
{
	char *script;

	ev_timer_stop(db->loop, &db->deadline);
	if (PQsetnonblocking(db->conn, 1) != 0) {
		db_conn_fail(db, "PostgreSQL: cannot set non-blocking mode");
		return;
	}
	PQsetNoticeProcessor(db->conn, db_notice_cb, db);
	prs_info("connected to PostgreSQL (database %s on %s)", PQdb(db->conn),
		 PQhost(db->conn) ? PQhost(db->conn) : "default socket");
	db->state = DB_MIGRATING;
	db_watch(db, PQsocket(db->conn), EV_READ, false);
	script = pst_sql_migrate_script();
	db_sent(db, PQsendQuery(db->conn, script), db_migrated_cb, db);
	free(script);
}

static void
db_connect_poll(struct pst_db *db)
{
	PostgresPollingStatusType st = PQconnectPoll(db->conn);
	int fd = PQsocket(db->conn);

	if (st == PGRES_POLLING_OK) {
		db_connected(db);
	} else if ((st == PGRES_POLLING_READING ||
		    st == PGRES_POLLING_WRITING) &&
		   fd >= 0) {
		db_watch(db, fd,
			 st == PGRES_POLLING_READING ? EV_READ : EV_WRITE,
			 true);
	} else {
		db_conn_fail(db, "cannot connect to PostgreSQL");
	}
}

static void
db_connect(struct pst_db *db)
{
	static const char *const keys[] = {"dbname",
					   "fallback_application_name",
					   "client_encoding", NULL};
	const char *vals[] = {db->conninfo, "presence-persister", "UTF8",
			      NULL};

	db->conn = PQconnectStartParams(keys, vals, 1);
	if (db->conn == NULL) {
		db_fail(db, "cannot connect to PostgreSQL", "out of memory");
		return;
	}
	if (PQstatus(db->conn) == CONNECTION_BAD || PQsocket(db->conn) < 0) {
		db_conn_fail(db, "cannot connect to PostgreSQL");
		return;
	}
	db->state = DB_CONNECTING;
	db_deadline(db, DB_CONNECT_TIMEOUT_S);
	/* As if PQconnectPoll had said PGRES_POLLING_WRITING. */
	db_watch(db, PQsocket(db->conn), EV_WRITE, true);
}

static void
db_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pst_db *db = container_of(w, struct pst_db, io);
	int rc;

	if (db->state == DB_CONNECTING) {
		db_connect_poll(db);
		return;
	}
	if (db->conn == NULL)
		return;
	if (db->fail_pending) {
		db_conn_fail(db, "PostgreSQL connection failed");
		return;
	}
	if ((revents & EV_READ) && !PQconsumeInput(db->conn)) {
		db_conn_fail(db, "PostgreSQL connection lost");
		return;
	}
	if (db->flushing) {
		if ((rc = PQflush(db->conn)) < 0) {
			db_conn_fail(db, "PostgreSQL connection lost");
			return;
		}
		if (rc == 0) {
			db->flushing = false;
			db_watch(db, db->io_fd, EV_READ, false);
		}
	}
	db_drain(db);
	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_BAD)
		db_conn_fail(db, "PostgreSQL connection lost");
}

int
pst_db_open(struct pst_db **out, struct ev_loop *loop, const char *conninfo,
	    pst_db_state_cb state_cb, void *arg)
{
	struct pst_db *db;
	PQconninfoOption *opts;
	char *err = NULL;

	opts = PQconninfoParse(conninfo, &err);
	if (opts == NULL) {
		if (err != NULL) {
			prs_err("database URL: %s", pst_oneline(err));
			PQfreemem(err);
		} else {
			prs_err("database URL: cannot parse");
		}
		return -1;
	}
	PQconninfoFree(opts);
	db = xcalloc(1, sizeof(*db));
	db->loop = loop;
	db->conninfo = xstrdup(conninfo);
	db->state_cb = state_cb;
	db->arg = arg;
	db->io_fd = -1;
	ev_init(&db->io, db_io_cb);
	ev_init(&db->retry, db_retry_cb);
	ev_init(&db->deadline, db_deadline_cb);
	/* Connect from the loop, so the first callbacks never run before
	 * the caller has stored *out. */
	ev_timer_set(&db->retry, 0., 0.);
	ev_timer_start(loop, &db->retry);
	*out = db;
	return 0;
}

void
pst_db_close(struct pst_db *db)
{
	if (db == NULL)
		return;
	db_teardown(db);
	ev_timer_stop(db->loop, &db->retry);
	free(db->conninfo);
	free(db->last_fail);
	free(db);
}

bool
pst_db_idle(const struct pst_db *db)
{
	return db->state == DB_READY && !db->busy && !db->fail_pending;
}

bool
pst_db_up(const struct pst_db *db)
{
	return db->state == DB_READY;
}

uint64_t
pst_db_failures(const struct pst_db *db)
{
	return db->nfail;
}

static int
exec_prepared(struct pst_db *db, enum pst_stmt st, const char *const *params,
	      pst_db_done_cb cb, void *arg)
{
	return db_sent(db,
		       PQsendQueryPrepared(db->conn, pst_stmts[st].name,
					   pst_stmts[st].nparams, params, NULL,
					   NULL, 0),
		       cb, arg);
}

/* The PREPARE of the waiting command is done: now the command itself,
 * with the same callback as if it had been sent at once. */
static void
db_prepared_cb(void *arg, enum pst_db_rc rc, const PGresult *res,
	       const char *err)
{
	struct pst_db *db = arg;
	pst_db_done_cb cb = db->pend_cb;
	void *cb_arg = db->pend_arg;
	enum pst_stmt st = db->pend_st;

	db->pend_cb = NULL;
	if (rc != PST_DB_OK) {
		pend_free(db);
		cb(cb_arg, rc, NULL, err);
		return;
	}
	db->prepared[st] = true;
	if (exec_prepared(db, st, (const char *const *) db->pend_params, cb,
			  cb_arg) != 0) {
		/* Sending failed: the pending failure (db_io_cb) reports the
		 * loss to cb, which was promised exactly one call. */
		db->busy = true;
		db->cb = cb;
		db->cb_arg = cb_arg;
	}
	pend_free(db);
}

int
pst_db_exec(struct pst_db *db, enum pst_stmt st, const char *const *params,
	    pst_db_done_cb cb, void *arg)
{
	const struct pst_stmt_def *d;
	int i, rc;

	if (!pst_db_idle(db) || (unsigned) st >= PST_STMT_N)
		return -1;
	if (db->prepared[st])
		return exec_prepared(db, st, params, cb, arg);
	d = &pst_stmts[st];
	rc = db_sent(
		db, PQsendPrepare(db->conn, d->name, d->sql, d->nparams, NULL),
		db_prepared_cb, db);
	if (rc != 0)
		return rc;
	db->pend_st = st;
	db->pend_cb = cb;
	db->pend_arg = arg;
	db->pend_params = xcalloc((size_t) d->nparams + 1, sizeof(char *));
	for (i = 0; i < d->nparams; i++)
		db->pend_params[i] =
			params[i] != NULL ? xstrdup(params[i]) : NULL;
	return 0;
}
