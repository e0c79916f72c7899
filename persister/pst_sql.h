/*
 * SQL of the persister: schema migrations, the statements it runs, the
 * text form of the array parameters those statements take, and the
 * checks that turn result rows (hostile input) back into messages.
 * Everything here is pure: no connection, no loop, so it is unit-tested.
 */
#ifndef PST_SQL_H
#define PST_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "presence.pb-c.h"

/* Rows per LoadChunk (rows or members). */
#define PST_LOAD_CHUNK 1000

/* A PostgreSQL array literal in text form ({"a","b",NULL}) being built.
 * Strings are always double-quoted with '"' and '\' escaped, so any
 * content (commas, braces, the word NULL) round-trips. */
struct pst_arr {
	char *buf;
	size_t len, cap;
	size_t n; /* elements added */
};

/* Starts an empty array (buffer allocated on demand). */
void pst_arr_init(struct pst_arr *a);
/* Appends a string element; s == NULL appends SQL NULL. */
void pst_arr_str(struct pst_arr *a, const char *s);
void pst_arr_i64(struct pst_arr *a, int64_t v);
void pst_arr_bool(struct pst_arr *a, bool v);
void pst_arr_null(struct pst_arr *a);
/* Closes the literal and returns it; it stays owned by a, valid until
 * pst_arr_free. Call once. */
const char *pst_arr_end(struct pst_arr *a);
void pst_arr_free(struct pst_arr *a);

/* Parameters of PST_SQL_BATCH: one array per column. */
enum {
	PST_BP_USER,
	PST_BP_STATUS,
	PST_BP_TEXT,
	PST_BP_ONLINE,
	PST_BP_LAST_SEEN,
	PST_BP_SINCE,
	PST_BP_META,
	PST_BP_VERSION,
	PST_BP_H_USER,
	PST_BP_H_STATUS,
	PST_BP_H_AT,
	PST_BP_ADD_THREAD,
	PST_BP_ADD_USER,
	PST_BP_DEL_THREAD,
	PST_BP_DEL_USER,
	PST_BP_AUTO,   /* v1.1: user_presence.auto_away */
	PST_BP_ROSTER, /* gateway_roster names; NULL: not in this batch */
	PST_BP_N
};

/* A WriteBatch turned into the parameters of PST_SQL_BATCH. */
struct pst_batch_params {
	struct pst_arr arr[PST_BP_N];
	const char *values[PST_BP_N]; /* point into arr[] */
	size_t nrows, nhistory, nadd, ndel, nroster;
	size_t ndup;     /* rows or member ops superseded within the batch */
	size_t nskipped; /* entries with invalid ids or text, left out */
};

/* Builds bp from b (which the caller keeps). Rows are deduplicated per
 * user keeping the highest version (ON CONFLICT cannot touch a row twice
 * in one statement) and member ops per (thread, user) keeping the last;
 * entries with invalid ids or non-UTF-8 text are skipped and counted.
 * Free with pst_batch_params_free. */
void pst_batch_params_build(struct pst_batch_params *bp,
			    const Prs__WriteBatch *b);
void pst_batch_params_free(struct pst_batch_params *bp);

/* Statements. All data goes through parameters. */
extern const char PST_SQL_BATCH[];     /* PST_BP_N params; 1 row of counts */
extern const char PST_SQL_LOAD_ROWS[]; /* no params; PST_LOAD_ROWS_NF */
extern const char PST_SQL_LOAD_MEMBERS[]; /* no params; 2 fields */
extern const char PST_SQL_LOAD_ROSTER[];  /* no params; 1 field */
extern const char PST_SQL_RETENTION[];    /* $1 = cutoff ms */
/* v1.1: $1 user, $2 since (ms), $3 limit; PST_HISTORY_NF fields */
extern const char PST_SQL_HISTORY[];

/* Every statement above, prepared by pst_db on each new connection
 * (after the migrations) and run by index: PostgreSQL parses and plans
 * the batch statement once per connection, not once per batch. */
enum pst_stmt {
	PST_STMT_BATCH,
	PST_STMT_LOAD_ROWS,
	PST_STMT_LOAD_MEMBERS,
	PST_STMT_LOAD_ROSTER,
	PST_STMT_RETENTION,
	PST_STMT_HISTORY,
	PST_STMT_N
};
struct pst_stmt_def {
	const char *name; /* prepared statement name */
	const char *sql;
	int nparams;
};
extern const struct pst_stmt_def pst_stmts[PST_STMT_N];

#define PST_HISTORY_NF      2
#define PST_HISTORY_MAX     1000 /* rows per history query */
#define PST_LOAD_ROWS_NF    9
#define PST_LOAD_MEMBERS_NF 2
#define PST_LOAD_ROSTER_NF  1

/* Newest schema version this persister knows. */
int pst_sql_schema_version(void);
/* The migration script: one simple-query string that takes an advisory
 * lock, applies in one transaction every migration not yet recorded in
 * schema_migrations, and returns (schema version, migrations applied).
 * Caller frees. */
char *pst_sql_migrate_script(void);

/* Strict decimal int64: the whole string, no blanks. 0 or -1. */
int pst_parse_i64(const char *s, int64_t *out);
/* Replaces control characters (newlines, tabs) by spaces and trims the
 * end, so a libpq message fits on one log line. Edits s in place. */
char *pst_oneline(char *s);

/* Checks a result's shape: tuples with exactly nfields columns. */
bool pst_result_shape_ok(const PGresult *res, int nfields);
/* Fills row i of a PST_SQL_LOAD_ROWS result into r and p (r->p = p).
 * Strings point into res. Returns 0, or -1 with *why set when the row is
 * malformed (the caller skips it). */
int pst_row_from_result(const PGresult *res, int i, Prs__PresenceRow *r,
			Prs__Presence *p, const char **why);
/* Row i of a PST_SQL_HISTORY result into h (user_id left empty).
 * Returns 0, or -1 with *why set when the row is malformed. */
int pst_history_from_result(const PGresult *res, int i, Prs__HistoryRow *h,
			    const char **why);
/* Same for row i of a PST_SQL_LOAD_MEMBERS result (add = true). */
int pst_member_from_result(const PGresult *res, int i, Prs__MemberOp *m,
			   const char **why);

#endif
