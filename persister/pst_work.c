/*
 * The persister's FIFO of work on its single PostgreSQL connection.
 *
 * Design decisions:
 * - One job at a time, in arrival order: a LoadRequest queued after a
 *   batch sees that batch's rows, and no two statements of ours ever
 *   contend for the same rows.
 * - A job leaves the queue only when its outcome is known: success or an
 *   SQL error (answered to the registry), never on a lost connection,
 *   where the outcome is unknown; it is then simply run again after the
 *   reconnect. Batches are versioned upserts, so running one twice is
 *   harmless (history rows may then be stored twice).
 * - A WriteBatch is converted to statement parameters on arrival, so the
 *   queue owns plain strings and the decoded message can be freed.
 * - The queue stays O(distinct work): the registry resends an
 *   unacknowledged batch and repeats LoadRequests while we wait for
 *   PostgreSQL, so a repeat of a waiting batch replaces it in place and
 *   a new load request supersedes a waiting one. Batches are identified
 *   by (registry epoch, batch id): a restarted registry numbers from 1
 *   again. A repeat of a batch committed recently is only acknowledged.
 * - A history query (v1.1) is read-only and waits its turn like any job,
 *   so it sees every batch that arrived before it. One that could not
 *   start within PST_HISTORY_WAIT_MS (PostgreSQL away) is answered with
 *   an error instead of being run for nobody: the registry has long
 *   answered unavailable.
 */
#include "pst_work.h"
#include "pst_db.h"
#include "pst_sql.h"

#include "prs_metrics.h"
#include "prs_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#define WORK_QUEUE_MAX      4096
#define RETENTION_EVERY     3600.0
#define BAD_ROWS_LOGGED     10 /* per load; then only a count */
#define DONE_RING           64 /* batches remembered as committed */
#define PST_HISTORY_WAIT_MS 10000

enum job_kind { JOB_BATCH, JOB_LOAD, JOB_RETENTION, JOB_HISTORY };

struct job {
	struct job *next;
	enum job_kind kind;
	uint64_t id;                /* batch or load id */
	uint64_t epoch;             /* JOB_BATCH: the registry's epoch */
	struct pst_batch_params bp; /* JOB_BATCH */
	int step;         /* JOB_LOAD: 0 rows, 1 members, 2 gateway roster */
	size_t nbad;      /* JOB_LOAD: malformed rows skipped */
	uint32_t nchunks; /* JOB_LOAD: chunks sent (their index) */
	char *user;       /* JOB_HISTORY: parameters */
	char since[24], limit[16];
	int64_t deadline; /* JOB_HISTORY: monotonic ms to start by */
	int64_t queued;   /* monotonic ms it arrived (JOB_BATCH) */
	int64_t started;  /* monotonic us its first command went out */
};

struct pst_work {
	struct ev_loop *loop;
	struct pst_db *db;
	pst_work_send_fn send;
	void *send_arg;
	struct job *head, **tailp;
	size_t len;
	struct job *cur; /* == head while its command is in flight */
	int64_t retention_days;
	ev_timer cron;
	bool stopping;
	pst_work_stopped_cb stopped_cb;
	void *stopped_arg;
	struct {
		uint64_t epoch, id;
	} done[DONE_RING]; /* recently committed batches */
	size_t done_next;
	uint64_t nbatches, nfailed, nrows, nrepeats;
	uint64_t nloads, nsql_errors;
	struct prs_hist batch_dur, load_dur; /* seconds */
};

static void work_kick(struct pst_work *w);

static void
job_free(struct job *j)
{
	if (j->kind == JOB_BATCH)
		pst_batch_params_free(&j->bp);
	free(j->user);
	free(j);
}

static void
work_push(struct pst_work *w, struct job *j)
{
	j->next = NULL;
	*w->tailp = j;
	w->tailp = &j->next;
	w->len++;
}

static void
work_pop(struct pst_work *w)
{
	struct job *j = w->head;

	w->head = j->next;
	if (w->head == NULL)
		w->tailp = &w->head;
	w->len--;
	job_free(j);
}

static void
send_ack(struct pst_work *w, uint64_t batch, bool ok, const char *err)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__BatchAck ack = PRS__BATCH_ACK__INIT;

	ack.batch = batch;
	ack.ok = ok;
	ack.error = (char *) (err != NULL ? err : "");
	env.body_case = PRS__ENVELOPE__BODY_ACK;
	env.ack = &ack;
	w->send(w->send_arg, &env);
}

/* One LoadChunk; the roster rides only in the last one. */
struct chunk_body {
	Prs__PresenceRow **rows;
	size_t nrows;
	Prs__MemberOp **members;
	size_t nmembers;
	char **gateways;
	size_t ngateways;
};

static void
send_chunk(struct pst_work *w, uint64_t load_id, uint32_t index,
	   const struct chunk_body *body, bool last, const char *err)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__LoadChunk chunk = PRS__LOAD_CHUNK__INIT;

	chunk.load_id = load_id;
	chunk.index = index;
	if (body != NULL) {
		chunk.rows = body->rows;
		chunk.n_rows = body->nrows;
		chunk.members = body->members;
		chunk.n_members = body->nmembers;
		chunk.gateways = body->gateways;
		chunk.n_gateways = body->ngateways;
	}
	chunk.last = last;
	chunk.error = (char *) (err != NULL ? err : "");
	env.body_case = PRS__ENVELOPE__BODY_CHUNK;
	env.chunk = &chunk;
	w->send(w->send_arg, &env);
}

static void
send_history(struct pst_work *w, uint64_t query, Prs__HistoryRow **rows,
	     size_t n, const char *err)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT;
	Prs__HistoryReply hr = PRS__HISTORY_REPLY__INIT;

	hr.query = query;
	hr.rows = rows;
	hr.n_rows = n;
	hr.error = (char *) (err != NULL ? err : "");
	env.body_case = PRS__ENVELOPE__BODY_HISTORY_REPLY;
	env.history_reply = &hr;
	w->send(w->send_arg, &env);
}

/* Nothing is in flight any more: start the next job, or report the
 * stop. */
static void
work_continue(struct pst_work *w)
{
	pst_work_stopped_cb cb = w->stopped_cb;

	w->cur = NULL;
	if (!w->stopping) {
		work_kick(w);
		return;
	}
	w->stopped_cb = NULL;
	if (cb != NULL)
		cb(w->stopped_arg);
}

/* The job at the head is finished: drop it and go on. */
static void
work_next(struct pst_work *w)
{
	w->cur = NULL;
	work_pop(w);
	work_continue(w);
}

/* The connection dropped under the head job: keep it for the retry. */
static void
work_lost(struct pst_work *w)
{
	struct job *j = w->cur;

	if (j->kind == JOB_BATCH)
		j->started = 0; /* its duration is measured on the rerun */
	prs_debug("%s %" PRIu64 " waits for PostgreSQL",
		  j->kind == JOB_BATCH     ? "batch"
		  : j->kind == JOB_LOAD    ? "load"
		  : j->kind == JOB_HISTORY ? "history query"
					   : "retention",
		  j->id);
	work_continue(w);
}

/* A job's outcome is known: how long it took since its first command. */
static void
job_observe(struct pst_work *w, struct job *j, struct prs_hist *h)
{
	if (j->started != 0)
		prs_hist_observe(h,
				 (double) (prs_mono_us() - j->started) / 1e6);
}

static void
batch_done_cb(void *arg, enum pst_db_rc rc, const PGresult *res,
	      const char *err)
{
	struct pst_work *w = arg;
	struct job *j = w->cur;
	int64_t n[4] = {0, 0, 0, 0};
	int i;

	if (rc == PST_DB_ELOST) {
		work_lost(w);
		return;
	}
	job_observe(w, j, &w->batch_dur);
	if (rc == PST_DB_ESQL) {
		prs_err("batch %" PRIu64 " failed: %s", j->id, err);
		w->nfailed++;
		w->nsql_errors++;
		send_ack(w, j->id, false, err);
		work_next(w);
		return;
	}
	/* Committed. The counts are only for the log. */
	if (pst_result_shape_ok(res, 4) && PQntuples(res) == 1) {
		for (i = 0; i < 4; i++)
			if (pst_parse_i64(PQgetvalue(res, 0, i), &n[i]))
				n[i] = -1;
	} else {
		prs_warn("batch %" PRIu64 ": unexpected result shape", j->id);
	}
	prs_debug("batch %" PRIu64 " committed: %zu rows (%" PRId64
		  " newer), %zu history, +%zu/-%zu members "
		  "(%" PRId64 "/%" PRId64 " changed)",
		  j->id, j->bp.nrows, n[0], j->bp.nhistory, j->bp.nadd,
		  j->bp.ndel, n[2], n[3]);
	w->nbatches++;
	w->nrows += j->bp.nrows;
	w->done[w->done_next].epoch = j->epoch;
	w->done[w->done_next].id = j->id;
	w->done_next = (w->done_next + 1) % DONE_RING;
	send_ack(w, j->id, true, NULL);
	work_next(w);
}

static void
load_bad_row(struct job *j, const char *table, int i, const char *why)
{
	if (j->nbad++ < BAD_ROWS_LOGGED)
		prs_warn("load %" PRIu64 ": skipping %s row %d: %s", j->id,
			 table, i, why);
}

static void
load_send_rows(struct pst_work *w, struct job *j, const PGresult *res)
{
	int n = PQntuples(res), i;
	size_t cap = n < PST_LOAD_CHUNK ? (size_t) n : PST_LOAD_CHUNK, k = 0;
	Prs__PresenceRow *rows = xcalloc(cap, sizeof(*rows));
	Prs__Presence *ps = xcalloc(cap, sizeof(*ps));
	Prs__PresenceRow **ptrs = xcalloc(cap, sizeof(*ptrs));
	const char *why;

	for (i = 0; i < n; i++) {
		if (pst_row_from_result(res, i, &rows[k], &ps[k], &why)) {
			load_bad_row(j, "user_presence", i, why);
			continue;
		}
		ptrs[k] = &rows[k];
		if (++k == cap) {
			struct chunk_body cb = {.rows = ptrs, .nrows = k};
			send_chunk(w, j->id, j->nchunks++, &cb, false, NULL);
			k = 0;
		}
	}
	if (k > 0) {
		struct chunk_body cb = {.rows = ptrs, .nrows = k};
		send_chunk(w, j->id, j->nchunks++, &cb, false, NULL);
	}
	free(rows);
	free(ps);
	free(ptrs);
}

static void
load_send_members(struct pst_work *w, struct job *j, const PGresult *res)
{
	int n = PQntuples(res), i;
	size_t cap = n < PST_LOAD_CHUNK ? (size_t) n : PST_LOAD_CHUNK, k = 0;
	Prs__MemberOp *ms = xcalloc(cap, sizeof(*ms));
	Prs__MemberOp **ptrs = xcalloc(cap, sizeof(*ptrs));
	const char *why;

	for (i = 0; i < n; i++) {
		if (pst_member_from_result(res, i, &ms[k], &why)) {
			load_bad_row(j, "thread_members", i, why);
			continue;
		}
		ptrs[k] = &ms[k];
		if (++k == cap) {
			struct chunk_body cb = {.members = ptrs,
						.nmembers = k};
			send_chunk(w, j->id, j->nchunks++, &cb, false, NULL);
			k = 0;
		}
	}
	if (k > 0) {
		struct chunk_body cb = {.members = ptrs, .nmembers = k};
		send_chunk(w, j->id, j->nchunks++, &cb, false, NULL);
	}
	free(ms);
	free(ptrs);
}

/* The last chunk: the gateway roster (a few names), possibly empty. */
static void
load_send_roster(struct pst_work *w, struct job *j, const PGresult *res)
{
	int n = PQntuples(res), i;
	size_t k = 0;
	char **names = xcalloc(n > 0 ? (size_t) n : 1, sizeof(*names));
	struct chunk_body cb = {.gateways = names};

	for (i = 0; i < n; i++) {
		char *name =
			PQgetisnull(res, i, 0) ? NULL : PQgetvalue(res, i, 0);
		if (name == NULL || !prs_id_valid(name, strlen(name))) {
			load_bad_row(j, "gateway_roster", i, "bad name");
			continue;
		}
		names[k++] = name;
	}
	cb.ngateways = k;
	send_chunk(w, j->id, j->nchunks++, &cb, true, NULL);
	free(names);
}

static void
load_done_cb(void *arg, enum pst_db_rc rc, const PGresult *res,
	     const char *err)
{
	struct pst_work *w = arg;
	struct job *j = w->cur;
	static const int nfs[] = {PST_LOAD_ROWS_NF, PST_LOAD_MEMBERS_NF,
				  PST_LOAD_ROSTER_NF};
	int nf = nfs[j->step];

	if (rc == PST_DB_ELOST) {
		/* Resumed at the same step: nothing can be written between
		 * the steps, this job holds the head of the queue. */
		work_lost(w);
		return;
	}
	if (rc == PST_DB_OK && !pst_result_shape_ok(res, nf)) {
		rc = PST_DB_ESQL;
		err = "unexpected result shape";
	}
	if (rc == PST_DB_ESQL) {
		w->nsql_errors++;
		job_observe(w, j, &w->load_dur);
		prs_err("load %" PRIu64 " failed: %s", j->id, err);
		send_chunk(w, j->id, j->nchunks++, NULL, true, err);
		work_next(w);
		return;
	}
	if (j->step == 0) {
		load_send_rows(w, j, res);
		prs_info("load %" PRIu64 ": sent %d presence rows", j->id,
			 PQntuples(res));
		j->step = 1;
		work_continue(w);
		return;
	}
	if (j->step == 1) {
		load_send_members(w, j, res);
		prs_info("load %" PRIu64 ": sent %d memberships", j->id,
			 PQntuples(res));
		j->step = 2;
		work_continue(w);
		return;
	}
	load_send_roster(w, j, res);
	prs_info("load %" PRIu64 ": sent a roster of %d gateways%s", j->id,
		 PQntuples(res), j->nbad ? " (some rows skipped)" : "");
	if (j->nbad > 0)
		prs_warn("load %" PRIu64 ": %zu malformed rows skipped", j->id,
			 j->nbad);
	w->nloads++;
	job_observe(w, j, &w->load_dur);
	work_next(w);
}

static void
retention_done_cb(void *arg, enum pst_db_rc rc, const PGresult *res,
		  const char *err)
{
	struct pst_work *w = arg;

	if (rc == PST_DB_ELOST) {
		work_lost(w);
		return;
	}
	if (rc == PST_DB_ESQL) {
		w->nsql_errors++;
		prs_err("history retention failed: %s", err);
	}
	if (rc == PST_DB_OK && strcmp(PQcmdTuples((PGresult *) res), "0") != 0)
		prs_info("history retention: deleted %s events older than "
			 "%" PRId64 " days",
			 PQcmdTuples((PGresult *) res), w->retention_days);
	work_next(w);
}

static void
history_done_cb(void *arg, enum pst_db_rc rc, const PGresult *res,
		const char *err)
{
	struct pst_work *w = arg;
	struct job *j = w->cur;
	Prs__HistoryRow *rows, **ptrs;
	const char *why;
	size_t k = 0;
	int n, i;

	if (rc == PST_DB_ELOST) {
		work_lost(w);
		return;
	}
	if (rc == PST_DB_OK && !pst_result_shape_ok(res, PST_HISTORY_NF)) {
		rc = PST_DB_ESQL;
		err = "unexpected result shape";
	}
	if (rc == PST_DB_ESQL) {
		w->nsql_errors++;
		prs_err("history query %" PRIu64 " failed: %s", j->id, err);
		send_history(w, j->id, NULL, 0, err);
		work_next(w);
		return;
	}
	n = PQntuples(res);
	if (n > PST_HISTORY_MAX)
		n = PST_HISTORY_MAX;
	rows = xcalloc(n > 0 ? (size_t) n : 1, sizeof(*rows));
	ptrs = xcalloc(n > 0 ? (size_t) n : 1, sizeof(*ptrs));
	for (i = 0; i < n; i++) {
		if (pst_history_from_result(res, i, &rows[k], &why)) {
			prs_warn("history query %" PRIu64
				 ": skipping row %d: %s",
				 j->id, i, why);
			continue;
		}
		ptrs[k] = &rows[k];
		k++;
	}
	prs_debug("history query %" PRIu64 ": %zu events", j->id, k);
	send_history(w, j->id, ptrs, k, NULL);
	free(rows);
	free(ptrs);
	work_next(w);
}

static bool
batch_committed(const struct pst_work *w, uint64_t epoch, uint64_t id)
{
	size_t i;

	for (i = 0; i < DONE_RING; i++)
		if (w->done[i].id == id && w->done[i].epoch == epoch &&
		    (id != 0 || epoch != 0))
			return true;
	return false;
}

static void
work_kick(struct pst_work *w)
{
	struct job *j;
	char cutoff[32];
	const char *params[1] = {cutoff};
	int rc = -1;

	if (w->cur != NULL || w->stopping)
		return;
	/* A resend queued while its first copy was being committed: the
	 * registry resends the same batch, so it only needs the ack (and
	 * applying it again would store its history rows twice). */
	while ((j = w->head) != NULL) {
		if (j->kind == JOB_BATCH &&
		    batch_committed(w, j->epoch, j->id)) {
			w->nrepeats++;
			send_ack(w, j->id, true, NULL);
		} else if (j->kind == JOB_HISTORY &&
			   prs_mono_ms() >= j->deadline) {
			send_history(w, j->id, NULL, 0,
				     "waited too long for PostgreSQL");
		} else {
			break;
		}
		work_pop(w);
	}
	if (j == NULL || !pst_db_idle(w->db))
		return;
	switch (j->kind) {
	case JOB_BATCH:
		rc = pst_db_exec(w->db, PST_STMT_BATCH, j->bp.values,
				 batch_done_cb, w);
		break;
	case JOB_LOAD: {
		static const enum pst_stmt steps[] = {PST_STMT_LOAD_ROWS,
						      PST_STMT_LOAD_MEMBERS,
						      PST_STMT_LOAD_ROSTER};
		rc = pst_db_exec(w->db, steps[j->step], NULL, load_done_cb, w);
		break;
	}
	case JOB_RETENTION:
		snprintf(cutoff, sizeof(cutoff), "%" PRId64,
			 prs_now_ms() - w->retention_days * 86400000);
		rc = pst_db_exec(w->db, PST_STMT_RETENTION, params,
				 retention_done_cb, w);
		break;
	case JOB_HISTORY: {
		const char *hp[3] = {j->user, j->since, j->limit};
		rc = pst_db_exec(w->db, PST_STMT_HISTORY, hp, history_done_cb,
				 w);
		break;
	}
	}
	if (rc == 0) {
		w->cur = j;
		if (j->started == 0)
			j->started = prs_mono_us();
	}
}

static bool
work_full(struct pst_work *w)
{
	if (w->len < WORK_QUEUE_MAX)
		return false;
	prs_warn("work queue full (%zu jobs): refusing new work", w->len);
	return true;
}

void
pst_work_batch(struct pst_work *w, uint64_t epoch, const Prs__WriteBatch *b)
{
	struct job *j;

	if (batch_committed(w, epoch, b->batch)) {
		prs_debug("batch %" PRIu64 " repeated after its commit",
			  b->batch);
		w->nrepeats++;
		send_ack(w, b->batch, true, NULL);
		return;
	}
	for (j = w->head; j != NULL; j = j->next) {
		if (j != w->cur && j->kind == JOB_BATCH && j->id == b->batch &&
		    j->epoch == epoch) {
			prs_debug("batch %" PRIu64 " repeated while queued",
				  b->batch);
			pst_batch_params_free(&j->bp);
			pst_batch_params_build(&j->bp, b);
			return;
		}
	}
	if (work_full(w)) {
		send_ack(w, b->batch, false, "persister queue full");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->kind = JOB_BATCH;
	j->queued = prs_mono_ms();
	j->id = b->batch;
	j->epoch = epoch;
	pst_batch_params_build(&j->bp, b);
	if (j->bp.nskipped > 0)
		prs_warn("batch %" PRIu64 ": skipped %zu entries with invalid "
			 "ids or text",
			 j->id, j->bp.nskipped);
	work_push(w, j);
	work_kick(w);
}

void
pst_work_load(struct pst_work *w, uint64_t load_id)
{
	struct job *j;

	for (j = w->head; j != NULL; j = j->next) {
		if (j != w->cur && j->kind == JOB_LOAD && j->step == 0) {
			if (j->id != load_id)
				prs_debug("load %" PRIu64
					  " supersedes %" PRIu64,
					  load_id, j->id);
			j->id = load_id;
			return;
		}
	}
	if (work_full(w)) {
		send_chunk(w, load_id, 0, NULL, true, "persister queue full");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->kind = JOB_LOAD;
	j->id = load_id;
	work_push(w, j);
	work_kick(w);
}

void
pst_work_history(struct pst_work *w, const Prs__HistoryQuery *q)
{
	struct job *j;

	if (q->user_id == NULL ||
	    !prs_id_valid(q->user_id, strlen(q->user_id)) || q->limit < 1 ||
	    q->limit > PST_HISTORY_MAX || q->since < 0) {
		send_history(w, q->query, NULL, 0, "invalid history query");
		return;
	}
	if (work_full(w)) {
		send_history(w, q->query, NULL, 0, "persister queue full");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->kind = JOB_HISTORY;
	j->id = q->query;
	j->user = xstrdup(q->user_id);
	snprintf(j->since, sizeof(j->since), "%" PRId64, q->since);
	snprintf(j->limit, sizeof(j->limit), "%" PRIu32, q->limit);
	j->deadline = prs_mono_ms() + PST_HISTORY_WAIT_MS;
	work_push(w, j);
	work_kick(w);
}

static void
work_retention(struct pst_work *w)
{
	struct job *j;

	if (w->retention_days <= 0 || w->stopping)
		return;
	for (j = w->head; j != NULL; j = j->next)
		if (j != w->cur && j->kind == JOB_RETENTION)
			return;
	j = xcalloc(1, sizeof(*j));
	j->kind = JOB_RETENTION;
	work_push(w, j);
	work_kick(w);
}

static void
work_cron_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	work_retention(container_of(t, struct pst_work, cron));
}

static void
work_db_state_cb(void *arg, bool ready)
{
	struct pst_work *w = arg;

	sd_notify(0, ready ? "STATUS=connected to PostgreSQL"
			   : "STATUS=waiting for PostgreSQL");
	if (ready)
		work_kick(w);
}

int
pst_work_open(struct pst_work **out, struct ev_loop *loop,
	      const char *conninfo, int64_t retention_days,
	      pst_work_send_fn send, void *send_arg)
{
	struct pst_work *w = xcalloc(1, sizeof(*w));

	w->loop = loop;
	w->send = send;
	w->send_arg = send_arg;
	w->tailp = &w->head;
	w->retention_days = retention_days;
	prs_hist_init(&w->batch_dur, prs_hist_latency, prs_hist_latency_n);
	prs_hist_init(&w->load_dur, prs_hist_latency, prs_hist_latency_n);
	if (pst_db_open(&w->db, loop, conninfo, work_db_state_cb, w) != 0) {
		free(w);
		return -1;
	}
	sd_notify(0, "STATUS=waiting for PostgreSQL");
	ev_timer_init(&w->cron, work_cron_cb, RETENTION_EVERY,
		      RETENTION_EVERY);
	if (retention_days > 0)
		ev_timer_start(loop, &w->cron);
	work_retention(w);
	*out = w;
	return 0;
}

void
pst_work_close(struct pst_work *w)
{
	if (w == NULL)
		return;
	ev_timer_stop(w->loop, &w->cron);
	if (w->len > 0)
		prs_info("dropping %zu unfinished jobs (the registry resends)",
			 w->len);
	while (w->head != NULL)
		work_pop(w);
	pst_db_close(w->db);
	prs_info("%" PRIu64 " batches committed (%" PRIu64 " rows), %" PRIu64
		 " failed, %" PRIu64 " repeats acknowledged",
		 w->nbatches, w->nrows, w->nfailed, w->nrepeats);
	free(w);
}

void
pst_work_stop(struct pst_work *w, pst_work_stopped_cb cb, void *arg)
{
	w->stopping = true;
	ev_timer_stop(w->loop, &w->cron);
	if (w->cur == NULL) {
		cb(arg);
		return;
	}
	w->stopped_cb = cb;
	w->stopped_arg = arg;
}

size_t
pst_work_queued(const struct pst_work *w)
{
	return w->len;
}

void
pst_work_metrics(const struct pst_work *w, struct prs_mbuf *b)
{
	const struct job *j;
	int64_t age = 0;
	char lab[64];

	/* FIFO: the first batch in the queue is the oldest (loads and
	 * history queries ahead of it are few) */
	for (j = w->head; j != NULL; j = j->next) {
		if (j->kind == JOB_BATCH) {
			age = prs_mono_ms() - j->queued;
			break;
		}
	}
	prs_metric_gauge(b, "presence_persister_postgres_up",
			 "1 while connected to PostgreSQL (schema migrated)",
			 pst_db_up(w->db) ? 1 : 0);
	prs_metric_head(b, "presence_persister_postgres_errors_total",
			"counter",
			"PostgreSQL errors: failed connection attempts and "
			"lost connections (connection), statements the "
			"server rejected (sql)");
	prs_metric_u64(
		b, "presence_persister_postgres_errors_total",
		prs_metric_label(lab, sizeof(lab), "kind", "connection"),
		pst_db_failures(w->db));
	prs_metric_u64(b, "presence_persister_postgres_errors_total",
		       prs_metric_label(lab, sizeof(lab), "kind", "sql"),
		       w->nsql_errors);
	prs_metric_counter(b, "presence_persister_batches_total",
			   "write batches committed", w->nbatches);
	prs_metric_counter(b, "presence_persister_batches_failed_total",
			   "write batches PostgreSQL rejected (answered with "
			   "an error; the registry retries)",
			   w->nfailed);
	prs_metric_counter(b, "presence_persister_batch_repeats_total",
			   "resent batches only acknowledged again (already "
			   "committed)",
			   w->nrepeats);
	prs_metric_counter(b, "presence_persister_rows_total",
			   "presence rows written by committed batches",
			   w->nrows);
	prs_metric_counter(b, "presence_persister_loads_total",
			   "state loads answered", w->nloads);
	prs_metric_gauge(b, "presence_persister_queue_jobs",
			 "jobs queued (batches, loads, history queries), the "
			 "one running included",
			 (double) w->len);
	prs_metric_gauge(b, "presence_persister_queue_age_seconds",
			 "how long the oldest queued write batch has waited "
			 "(0: none)",
			 (double) age / 1000.0);
	prs_hist_write(b, "presence_persister_batch_duration_seconds",
		       "time to commit a write batch (first statement to "
		       "its outcome)",
		       &w->batch_dur);
	prs_hist_write(b, "presence_persister_load_duration_seconds",
		       "time to answer a state load", &w->load_dur);
}
