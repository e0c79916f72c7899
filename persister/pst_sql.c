/*
 * SQL text, migrations and parameter building for the persister.
 *
 * Design decision: a WriteBatch is written by ONE statement whose
 * data-modifying CTEs upsert presence, append history and add/remove
 * members. A single statement is its own transaction (atomic, one round
 * trip, no BEGIN/COMMIT bookkeeping, nothing left open if the connection
 * drops), and every table is touched set-based from unnest() of array
 * parameters: no per-row statements, no SQL text built from data.
 * Array parameters use PostgreSQL's text array syntax, so the one place
 * where data meets syntax is the quoting in pst_arr_str.
 */
#include "pst_sql.h"

#include "prs_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Key of pg_advisory_xact_lock serialising migrations ("prspst"). */
#define PST_MIGRATE_LOCK 0x707273707374LL

struct migration {
	int version;
	const char *sql; /* runs inside a plpgsql block: statements end in ; */
};

/* Append-only: never edit an applied migration, add a new one. */
static const struct migration migrations[] = {
	{1, "CREATE TABLE IF NOT EXISTS user_presence ("
	    " user_id text PRIMARY KEY,"
	    " status text NOT NULL,"
	    " text text,"
	    " is_online boolean NOT NULL,"
	    " last_seen bigint,"
	    " since bigint NOT NULL,"
	    " meta jsonb,"
	    " version bigint NOT NULL,"
	    " updated_at timestamptz NOT NULL DEFAULT now());"
	    "CREATE TABLE IF NOT EXISTS thread_members ("
	    " thread_id text,"
	    " user_id text,"
	    " PRIMARY KEY (thread_id, user_id));"
	    "CREATE INDEX IF NOT EXISTS thread_members_user_id_idx"
	    " ON thread_members (user_id);"
	    "CREATE TABLE IF NOT EXISTS presence_events ("
	    " id bigserial PRIMARY KEY,"
	    " user_id text NOT NULL,"
	    " status text NOT NULL,"
	    " at bigint NOT NULL);"
	    "CREATE INDEX IF NOT EXISTS presence_events_at_idx"
	    " ON presence_events (at);"},
	/* v1.1: auto-away (status holds the chosen one), so that a
	 * registry restart shows what was shown before; a user's history,
	 * newest first (PST_SQL_HISTORY). */
	{2, "ALTER TABLE user_presence ADD COLUMN IF NOT EXISTS"
	    " auto_away boolean NOT NULL DEFAULT false;"
	    "CREATE INDEX IF NOT EXISTS presence_events_user_at_idx"
	    " ON presence_events (user_id, at DESC, id DESC);"},
	/* The gateways the registry knew alive (or still waited for): a
	 * restarted registry waits for them before it takes their users
	 * offline (docs/DESIGN.md, "Links"). */
	{3, "CREATE TABLE IF NOT EXISTS gateway_roster ("
	    " name text PRIMARY KEY,"
	    " since timestamptz NOT NULL DEFAULT now());"},
};

const char PST_SQL_BATCH[] =
	"WITH up AS ("
	" INSERT INTO user_presence (user_id, status, text, is_online,"
	"  last_seen, since, meta, version, auto_away, updated_at)"
	" SELECT u, s, t, o, l, si, m::jsonb, v, a, now()"
	" FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[],"
	"  $5::bigint[], $6::bigint[], $7::text[], $8::bigint[],"
	"  $16::boolean[])"
	"  AS r(u, s, t, o, l, si, m, v, a)"
	" ON CONFLICT (user_id) DO UPDATE SET"
	"  status = EXCLUDED.status, text = EXCLUDED.text,"
	"  is_online = EXCLUDED.is_online, last_seen = EXCLUDED.last_seen,"
	"  since = EXCLUDED.since, meta = EXCLUDED.meta,"
	"  version = EXCLUDED.version, auto_away = EXCLUDED.auto_away,"
	"  updated_at = now()"
	" WHERE user_presence.version < EXCLUDED.version"
	" RETURNING 1),"
	"ev AS ("
	" INSERT INTO presence_events (user_id, status, at)"
	" SELECT * FROM unnest($9::text[], $10::text[], $11::bigint[])"
	" RETURNING 1),"
	"ma AS ("
	" INSERT INTO thread_members (thread_id, user_id)"
	" SELECT * FROM unnest($12::text[], $13::text[])"
	" ON CONFLICT DO NOTHING"
	" RETURNING 1),"
	"md AS ("
	" DELETE FROM thread_members m"
	" USING unnest($14::text[], $15::text[]) AS d(t, u)"
	" WHERE m.thread_id = d.t AND m.user_id = d.u"
	" RETURNING 1),"
	/* NULL: the roster is not part of this batch. The two touch
	 * disjoint rows: one statement cannot delete and re-insert a key. */
	"rd AS ("
	" DELETE FROM gateway_roster"
	" WHERE $17::text[] IS NOT NULL AND name <> ALL($17::text[])"
	" RETURNING 1),"
	"ri AS ("
	" INSERT INTO gateway_roster (name)"
	" SELECT * FROM unnest($17::text[])"
	" ON CONFLICT DO NOTHING"
	" RETURNING 1)"
	"SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM ev),"
	" (SELECT count(*) FROM ma), (SELECT count(*) FROM md)";

const char PST_SQL_LOAD_ROWS[] =
	"SELECT user_id, status, text, is_online, last_seen, since,"
	" meta::text, version, auto_away FROM user_presence";

const char PST_SQL_LOAD_MEMBERS[] =
	"SELECT thread_id, user_id FROM thread_members";

const char PST_SQL_LOAD_ROSTER[] = "SELECT name FROM gateway_roster";

const char PST_SQL_RETENTION[] = "DELETE FROM presence_events WHERE at < $1";

/* Same instant: the later insert (higher id) is the newer change. */
const char PST_SQL_HISTORY[] = "SELECT status, at FROM presence_events"
			       " WHERE user_id = $1 AND at >= $2::bigint"
			       " ORDER BY at DESC, id DESC LIMIT $3::bigint";

const struct pst_stmt_def pst_stmts[PST_STMT_N] = {
	[PST_STMT_BATCH] = {"prs_batch", PST_SQL_BATCH, PST_BP_N},
	[PST_STMT_LOAD_ROWS] = {"prs_load_rows", PST_SQL_LOAD_ROWS, 0},
	[PST_STMT_LOAD_MEMBERS] = {"prs_load_members", PST_SQL_LOAD_MEMBERS,
				   0},
	[PST_STMT_LOAD_ROSTER] = {"prs_load_roster", PST_SQL_LOAD_ROSTER, 0},
	[PST_STMT_RETENTION] = {"prs_retention", PST_SQL_RETENTION, 1},
	[PST_STMT_HISTORY] = {"prs_history", PST_SQL_HISTORY, 3},
};

int
pst_sql_schema_version(void)
{
	return migrations[PRS_ARRAY_LEN(migrations) - 1].version;
}

/* A growable string for the script. */
struct sbuf {
	char *buf;
	size_t len, cap;
};

static void
sbuf_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		while (b->len + n + 1 > ncap)
			ncap *= 2;
		b->buf = xrealloc(b->buf, ncap);
		b->cap = ncap;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

static void
sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_put(b, s, strlen(s));
}

char *
pst_sql_migrate_script(void)
{
	struct sbuf b = {0};
	char num[64];
	size_t i;

	snprintf(num, sizeof(num), "%lld", (long long) PST_MIGRATE_LOCK);
	sbuf_puts(&b, "BEGIN;SELECT pg_advisory_xact_lock(");
	sbuf_puts(&b, num);
	sbuf_puts(&b, ");CREATE TABLE IF NOT EXISTS schema_migrations ("
		      "version int PRIMARY KEY, "
		      "applied_at timestamptz NOT NULL DEFAULT now());");
	for (i = 0; i < PRS_ARRAY_LEN(migrations); i++) {
		snprintf(num, sizeof(num), "%d", migrations[i].version);
		sbuf_puts(&b, "DO $pst$ BEGIN IF NOT EXISTS (SELECT 1 FROM "
			      "schema_migrations WHERE version = ");
		sbuf_puts(&b, num);
		sbuf_puts(&b, ") THEN ");
		sbuf_puts(&b, migrations[i].sql);
		sbuf_puts(&b,
			  "INSERT INTO schema_migrations (version) VALUES (");
		sbuf_puts(&b, num);
		sbuf_puts(&b, "); END IF; END $pst$;");
	}
	/* Rows inserted by this transaction have applied_at = now(). */
	sbuf_puts(&b, "SELECT coalesce(max(version), 0), "
		      "count(*) FILTER (WHERE applied_at = now()) "
		      "FROM schema_migrations;COMMIT;");
	return b.buf;
}

void
pst_arr_init(struct pst_arr *a)
{
	memset(a, 0, sizeof(*a));
}

static void
arr_reserve(struct pst_arr *a, size_t extra)
{
	/* +2: the closing brace and the terminating NUL. */
	size_t need = a->len + extra + 2;
	if (a->cap == 0 || need > a->cap) {
		size_t ncap = a->cap ? a->cap : 64;
		while (ncap < need)
			ncap *= 2;
		a->buf = xrealloc(a->buf, ncap);
		a->cap = ncap;
	}
	if (a->len == 0)
		a->buf[a->len++] = '{';
}

/* Opens an element: room for extra bytes plus the separator. */
static char *
arr_elem(struct pst_arr *a, size_t extra)
{
	arr_reserve(a, extra + 2);
	if (a->n++ > 0)
		a->buf[a->len++] = ',';
	return a->buf + a->len;
}

void
pst_arr_str(struct pst_arr *a, const char *s)
{
	size_t n, i;
	char *o;

	if (s == NULL) {
		pst_arr_null(a);
		return;
	}
	n = strlen(s);
	o = arr_elem(a, 2 * n + 2);
	*o++ = '"';
	for (i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			*o++ = '\\';
		*o++ = s[i];
	}
	*o++ = '"';
	a->len = (size_t) (o - a->buf);
}

void
pst_arr_i64(struct pst_arr *a, int64_t v)
{
	char *o = arr_elem(a, 24);
	int n = snprintf(o, 24, "%" PRId64, v);
	a->len += (size_t) n;
}

void
pst_arr_bool(struct pst_arr *a, bool v)
{
	char *o = arr_elem(a, 1);
	*o = v ? 't' : 'f';
	a->len++;
}

void
pst_arr_null(struct pst_arr *a)
{
	char *o = arr_elem(a, 4);
	memcpy(o, "NULL", 4);
	a->len += 4;
}

const char *
pst_arr_end(struct pst_arr *a)
{
	arr_reserve(a, 0);
	a->buf[a->len++] = '}';
	a->buf[a->len] = '\0';
	return a->buf;
}

void
pst_arr_free(struct pst_arr *a)
{
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

/* Sort key for deduplication: (a, b) ascending, then the entry to keep
 * first (highest version, then latest position in the batch). */
struct dkey {
	const char *a, *b;
	int64_t version;
	size_t idx;
};

static int
dkey_cmp(const void *x, const void *y)
{
	const struct dkey *k1 = x, *k2 = y;
	int c = strcmp(k1->a, k2->a);
	if (c == 0 && k1->b != NULL)
		c = strcmp(k1->b, k2->b);
	if (c != 0)
		return c;
	if (k1->version != k2->version)
		return k1->version > k2->version ? -1 : 1;
	return k1->idx > k2->idx ? -1 : (k1->idx < k2->idx);
}

static bool
same_key(const struct dkey *k1, const struct dkey *k2)
{
	return strcmp(k1->a, k2->a) == 0 &&
	       (k1->b == NULL || strcmp(k1->b, k2->b) == 0);
}

static bool
id_ok(const char *s)
{
	return s != NULL && prs_id_valid(s, strlen(s));
}

static bool
text_ok(const char *s)
{
	return s != NULL && prs_utf8_valid(s, strlen(s));
}

static bool
row_ok(const Prs__PresenceRow *r)
{
	const Prs__Presence *p = r != NULL ? r->p : NULL;
	return p != NULL && id_ok(p->user_id) &&
	       (!p->has_text || text_ok(p->text)) &&
	       (p->meta == NULL || text_ok(p->meta));
}

static void
add_rows(struct pst_batch_params *bp, const Prs__WriteBatch *b)
{
	struct dkey *k = xcalloc(b->n_rows, sizeof(*k));
	size_t i, n = 0;

	for (i = 0; i < b->n_rows; i++) {
		const Prs__PresenceRow *r = b->rows[i];
		if (!row_ok(r)) {
			bp->nskipped++;
			continue;
		}
		k[n].a = r->p->user_id;
		k[n].version = r->version;
		k[n].idx = i;
		n++;
	}
	qsort(k, n, sizeof(*k), dkey_cmp);
	for (i = 0; i < n; i++) {
		const Prs__Presence *p;
		if (i > 0 && same_key(&k[i - 1], &k[i])) {
			bp->ndup++;
			continue;
		}
		p = b->rows[k[i].idx]->p;
		pst_arr_str(&bp->arr[PST_BP_USER], p->user_id);
		pst_arr_str(&bp->arr[PST_BP_STATUS],
			    prs_status_name((int) p->status));
		pst_arr_str(&bp->arr[PST_BP_TEXT],
			    p->has_text ? p->text : NULL);
		pst_arr_bool(&bp->arr[PST_BP_ONLINE], p->is_online);
		if (p->last_seen == 0)
			pst_arr_null(&bp->arr[PST_BP_LAST_SEEN]);
		else
			pst_arr_i64(&bp->arr[PST_BP_LAST_SEEN], p->last_seen);
		pst_arr_i64(&bp->arr[PST_BP_SINCE], p->since);
		pst_arr_str(&bp->arr[PST_BP_META],
			    p->meta != NULL && p->meta[0] != '\0' ? p->meta
								  : NULL);
		pst_arr_i64(&bp->arr[PST_BP_VERSION], k[i].version);
		pst_arr_bool(&bp->arr[PST_BP_AUTO], p->auto_away);
		bp->nrows++;
	}
	free(k);
}

static void
add_history(struct pst_batch_params *bp, const Prs__WriteBatch *b)
{
	size_t i;

	for (i = 0; i < b->n_history; i++) {
		const Prs__HistoryRow *h = b->history[i];
		if (h == NULL || !id_ok(h->user_id)) {
			bp->nskipped++;
			continue;
		}
		pst_arr_str(&bp->arr[PST_BP_H_USER], h->user_id);
		pst_arr_str(&bp->arr[PST_BP_H_STATUS],
			    prs_status_name((int) h->status));
		pst_arr_i64(&bp->arr[PST_BP_H_AT], h->at);
		bp->nhistory++;
	}
}

static void
add_members(struct pst_batch_params *bp, const Prs__WriteBatch *b)
{
	struct dkey *k = xcalloc(b->n_members, sizeof(*k));
	size_t i, n = 0;

	for (i = 0; i < b->n_members; i++) {
		const Prs__MemberOp *m = b->members[i];
		if (m == NULL || !id_ok(m->thread_id) || !id_ok(m->user_id)) {
			bp->nskipped++;
			continue;
		}
		k[n].a = m->thread_id;
		k[n].b = m->user_id;
		k[n].idx = i;
		n++;
	}
	/* Add and delete of the same pair would race inside one statement
	 * (CTEs share a snapshot): keep only the last op per pair. */
	qsort(k, n, sizeof(*k), dkey_cmp);
	for (i = 0; i < n; i++) {
		const Prs__MemberOp *m;
		if (i > 0 && same_key(&k[i - 1], &k[i])) {
			bp->ndup++;
			continue;
		}
		m = b->members[k[i].idx];
		if (m->add) {
			pst_arr_str(&bp->arr[PST_BP_ADD_THREAD], m->thread_id);
			pst_arr_str(&bp->arr[PST_BP_ADD_USER], m->user_id);
			bp->nadd++;
		} else {
			pst_arr_str(&bp->arr[PST_BP_DEL_THREAD], m->thread_id);
			pst_arr_str(&bp->arr[PST_BP_DEL_USER], m->user_id);
			bp->ndel++;
		}
	}
	free(k);
}

static void
add_roster(struct pst_batch_params *bp, const Prs__WriteBatch *b)
{
	size_t i;

	for (i = 0; b->roster && i < b->n_gateways; i++) {
		if (!id_ok(b->gateways[i])) {
			bp->nskipped++;
			continue;
		}
		pst_arr_str(&bp->arr[PST_BP_ROSTER], b->gateways[i]);
		bp->nroster++;
	}
}

void
pst_batch_params_build(struct pst_batch_params *bp, const Prs__WriteBatch *b)
{
	int i;

	memset(bp, 0, sizeof(*bp));
	for (i = 0; i < PST_BP_N; i++)
		pst_arr_init(&bp->arr[i]);
	add_rows(bp, b);
	add_history(bp, b);
	add_members(bp, b);
	add_roster(bp, b);
	for (i = 0; i < PST_BP_N; i++)
		bp->values[i] = pst_arr_end(&bp->arr[i]);
	if (!b->roster)
		bp->values[PST_BP_ROSTER] = NULL;
}

void
pst_batch_params_free(struct pst_batch_params *bp)
{
	int i;

	for (i = 0; i < PST_BP_N; i++)
		pst_arr_free(&bp->arr[i]);
	memset(bp, 0, sizeof(*bp));
}

int
pst_parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = (int64_t) v;
	return 0;
}

char *
pst_oneline(char *s)
{
	char *r = s, *w = s;

	while (*r != '\0') {
		unsigned char c = (unsigned char) *r++;
		if (c < 0x20 || c == 0x7f || c == ' ') {
			if (w > s && w[-1] != ' ')
				*w++ = ' ';
		} else {
			*w++ = (char) c;
		}
	}
	while (w > s && w[-1] == ' ')
		w--;
	*w = '\0';
	return s;
}

bool
pst_result_shape_ok(const PGresult *res, int nfields)
{
	return res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK &&
	       PQnfields(res) == nfields && PQntuples(res) >= 0;
}

/* Column c of row i as a string, NULL when SQL NULL. */
static char *
col(const PGresult *res, int i, int c)
{
	if (PQgetisnull(res, i, c))
		return NULL;
	return PQgetvalue(res, i, c);
}

int
pst_row_from_result(const PGresult *res, int i, Prs__PresenceRow *r,
		    Prs__Presence *p, const char **why)
{
	char *user = col(res, i, 0), *status = col(res, i, 1);
	char *text = col(res, i, 2), *online = col(res, i, 3);
	char *last_seen = col(res, i, 4), *since = col(res, i, 5);
	char *meta = col(res, i, 6), *version = col(res, i, 7);
	char *aut = col(res, i, 8);
	int st;

	prs__presence_row__init(r);
	prs__presence__init(p);
	r->p = p;
	if (user == NULL || !prs_id_valid(user, strlen(user))) {
		*why = "bad user_id";
		return -1;
	}
	p->user_id = user;
	if (status == NULL || (st = prs_status_parse(status)) < 0) {
		*why = "bad status";
		return -1;
	}
	p->status = (Prs__Status) st;
	if (text != NULL) {
		if (!prs_utf8_valid(text, strlen(text))) {
			*why = "bad text";
			return -1;
		}
		p->has_text = true;
		p->text = text;
	}
	if (online == NULL || (strcmp(online, "t") && strcmp(online, "f"))) {
		*why = "bad is_online";
		return -1;
	}
	p->is_online = online[0] == 't';
	if (last_seen != NULL && pst_parse_i64(last_seen, &p->last_seen)) {
		*why = "bad last_seen";
		return -1;
	}
	if (since == NULL || pst_parse_i64(since, &p->since)) {
		*why = "bad since";
		return -1;
	}
	if (meta != NULL) {
		if (!prs_utf8_valid(meta, strlen(meta))) {
			*why = "bad meta";
			return -1;
		}
		p->meta = meta;
	}
	if (version == NULL || pst_parse_i64(version, &r->version)) {
		*why = "bad version";
		return -1;
	}
	if (aut == NULL || (strcmp(aut, "t") && strcmp(aut, "f"))) {
		*why = "bad auto_away";
		return -1;
	}
	p->auto_away = aut[0] == 't';
	return 0;
}

int
pst_member_from_result(const PGresult *res, int i, Prs__MemberOp *m,
		       const char **why)
{
	char *thread = col(res, i, 0), *user = col(res, i, 1);

	prs__member_op__init(m);
	if (thread == NULL || !prs_id_valid(thread, strlen(thread))) {
		*why = "bad thread_id";
		return -1;
	}
	if (user == NULL || !prs_id_valid(user, strlen(user))) {
		*why = "bad user_id";
		return -1;
	}
	m->thread_id = thread;
	m->user_id = user;
	m->add = true;
	return 0;
}

int
pst_history_from_result(const PGresult *res, int i, Prs__HistoryRow *h,
			const char **why)
{
	char *status = col(res, i, 0), *at = col(res, i, 1);
	int st;

	prs__history_row__init(h);
	if (status == NULL || (st = prs_status_parse(status)) < 0) {
		*why = "bad status";
		return -1;
	}
	h->status = (Prs__Status) st;
	if (at == NULL || pst_parse_i64(at, &h->at)) {
		*why = "bad at";
		return -1;
	}
	return 0;
}
