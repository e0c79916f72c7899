/*
 * Integration test of presence-persister against a real PostgreSQL.
 *
 * This program plays the registry over real NNG: it listens on an ipc
 * inbox in a temp dir, starts the real persister binary (argv[1]) on a
 * fresh database created for the run (from argv[2] or $DATABASE_URL;
 * exit 77 = skipped when neither is given), sends WriteBatches and
 * LoadRequests, checks acknowledgements, chunks and table contents, kills
 * the persister with SIGKILL, restarts it and checks that nothing was
 * lost. It waits by polling with bounded deadlines, never fixed sleeps.
 *
 * With PST_IT_PG_STOP and PST_IT_PG_START set (shell commands stopping
 * and starting that PostgreSQL server), it also stops the server under
 * the running persister, sends work during the outage and checks that
 * it is applied once the server is back.
 */
#include "presence.pb-c.h"
#include "prs_util.h"
#include "pst_sql.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *binary;
static char tmpdir[64], reg_url[128], pst_url[128], conninfo[2048];
static char dbname[64];
static PGconn *admin, *db;
static nng_socket inbox, outbox;
static pid_t child = -1;
static uint64_t seq, epoch = 0x1234;

static void
cleanup(void)
{
	char path[160];
	int st;

	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, &st, 0);
		child = -1;
	}
	nng_close(inbox);
	nng_close(outbox);
	if (db != NULL)
		PQfinish(db);
	db = NULL;
	if (admin != NULL && dbname[0] != '\0') {
		char sql[128];
		snprintf(sql, sizeof(sql),
			 "DROP DATABASE IF EXISTS %s "
			 "WITH (FORCE)",
			 dbname);
		PQclear(PQexec(admin, sql));
	}
	if (admin != NULL)
		PQfinish(admin);
	admin = NULL;
	if (tmpdir[0] != '\0') {
		snprintf(path, sizeof(path), "%s/reg.sock", tmpdir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/pst.sock", tmpdir);
		unlink(path);
		rmdir(tmpdir);
	}
}

static void __attribute__((noreturn, format(printf, 2, 3)))
fail(int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pst_it:%d: FAIL: ", line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cleanup();
	exit(1);
}

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c))                                                     \
			fail(__LINE__, "%s", #c);                             \
	} while (0)

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static PGresult *
q(int line, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		fail(line, "%s: %s", sql, PQresultErrorMessage(r));
	return r;
}

/* The one value of a one-row query, as text ("<null>" for NULL). */
static char *
q1(int line, const char *sql, int n, const char *const *params)
{
	static char buf[4][512];
	static int k;
	PGresult *r = q(line, sql, n, params);
	char *out = buf[k++ % 4];

	if (PQntuples(r) != 1)
		fail(line, "%s: %d rows", sql, PQntuples(r));
	snprintf(out, 512, "%s",
		 PQgetisnull(r, 0, 0) ? "<null>" : PQgetvalue(r, 0, 0));
	PQclear(r);
	return out;
}

static void
start_persister(const char *database)
{
	char *argv[] = {(char *) binary,
			"--url",
			pst_url,
			"--registry-url",
			reg_url,
			"--name",
			"it-persister",
			"--database-url",
			(char *) database,
			"--history-retention-days",
			"30",
			"--metrics-address",
			"",
			NULL};
	int rc = posix_spawn(&child, binary, NULL, NULL, argv, environ);

	if (rc != 0)
		fail(__LINE__, "spawn %s: %s", binary, strerror(rc));
}

/* Waits for the child to exit and returns its wait status. */
static int
wait_exit(int timeout_ms)
{
	int64_t end = mono_ms() + timeout_ms;
	int st;

	while (mono_ms() < end) {
		pid_t p = waitpid(child, &st, WNOHANG);
		if (p == child) {
			child = -1;
			return st;
		}
		usleep(10000);
	}
	fail(__LINE__, "persister did not exit within %d ms", timeout_ms);
}

static void
send_env(Prs__Envelope *env)
{
	size_t len;
	void *buf;
	int rv;

	env->kind = PRS__KIND__KIND_REGISTRY;
	env->sender = "it-registry";
	env->epoch = epoch;
	env->seq = ++seq;
	/* The link framing (common/prs_link.c): a 4-byte big-endian length
	 * before each envelope; one envelope per message here. */
	len = prs__envelope__get_packed_size(env);
	buf = nng_alloc(len + 4);
	((uint8_t *) buf)[0] = (uint8_t) (len >> 24);
	((uint8_t *) buf)[1] = (uint8_t) (len >> 16);
	((uint8_t *) buf)[2] = (uint8_t) (len >> 8);
	((uint8_t *) buf)[3] = (uint8_t) len;
	prs__envelope__pack(env, (uint8_t *) buf + 4);
	if ((rv = nng_send(outbox, buf, len + 4, NNG_FLAG_ALLOC)) != 0)
		fail(__LINE__, "send: %s", nng_strerror(rv));
}

/* Envelopes received in one message but not yet handed out. */
static Prs__Envelope *rxq[4096];
static size_t rxq_head, rxq_len;

static void
rx_split(const uint8_t *b, size_t len)
{
	size_t off = 0;

	while (off < len) {
		uint32_t n;
		Prs__Envelope *env;
		if (len - off < 4)
			fail(__LINE__, "truncated frame from the persister");
		n = (uint32_t) b[off] << 24 | (uint32_t) b[off + 1] << 16 |
		    (uint32_t) b[off + 2] << 8 | b[off + 3];
		off += 4;
		if (n > len - off)
			fail(__LINE__, "bad frame length from the persister");
		env = prs__envelope__unpack(NULL, n, b + off);
		off += n;
		if (env == NULL)
			fail(__LINE__,
			     "undecodable message from the persister");
		if (rxq_len == PRS_ARRAY_LEN(rxq))
			fail(__LINE__, "receive queue overflow");
		rxq[(rxq_head + rxq_len++) % PRS_ARRAY_LEN(rxq)] = env;
	}
}

/* Next envelope of the given body type from the persister (others, the
 * Hellos, are skipped), or NULL after timeout_ms. Caller frees. */
static Prs__Envelope *
recv_body(Prs__Envelope__BodyCase want, int timeout_ms)
{
	int64_t end = mono_ms() + timeout_ms;

	while (mono_ms() < end) {
		Prs__Envelope *env;
		void *buf;
		size_t len;
		int rv;
		if (rxq_len == 0) {
			rv = nng_recv(inbox, &buf, &len, NNG_FLAG_ALLOC);
			if (rv == NNG_ETIMEDOUT)
				continue;
			if (rv != 0)
				fail(__LINE__, "recv: %s", nng_strerror(rv));
			rx_split(buf, len);
			nng_free(buf, len);
			continue;
		}
		env = rxq[rxq_head];
		rxq_head = (rxq_head + 1) % PRS_ARRAY_LEN(rxq);
		rxq_len--;
		if (env->kind != PRS__KIND__KIND_PERSISTER ||
		    strcmp(env->sender, "it-persister") != 0)
			fail(__LINE__, "bad sender %d %s", env->kind,
			     env->sender);
		if (env->body_case == want)
			return env;
		prs__envelope__free_unpacked(env, NULL);
	}
	return NULL;
}

/* Waits for a Hello and returns the sender's epoch. */
static uint64_t
wait_hello(void)
{
	Prs__Envelope *env = recv_body(PRS__ENVELOPE__BODY_HELLO, 15000);
	uint64_t e;

	CHECK(env != NULL);
	CHECK(strcmp(env->hello->address, pst_url) == 0);
	e = env->epoch;
	prs__envelope__free_unpacked(env, NULL);
	return e;
}

/* Drains whatever the persister sent so far (Hellos). */
static void
drain(void)
{
	Prs__Envelope *env;
	while ((env = recv_body(PRS__ENVELOPE__BODY__NOT_SET, 300)) != NULL)
		prs__envelope__free_unpacked(env, NULL);
}

/* Builds WriteBatches in static storage. */
#define MAXROWS 4000
static Prs__WriteBatch wb;
static Prs__PresenceRow rows[MAXROWS], *rowp[MAXROWS];
static Prs__Presence ps[MAXROWS];
static Prs__HistoryRow hist[16], *histp[16];
static Prs__MemberOp mem[MAXROWS], *memp[MAXROWS];
static char names[MAXROWS][32];

static void
wb_reset(uint64_t id)
{
	prs__write_batch__init(&wb);
	wb.batch = id;
	wb.rows = rowp;
	wb.history = histp;
	wb.members = memp;
}

static Prs__Presence *
wb_row(const char *user, Prs__Status st, int64_t version)
{
	size_t i = wb.n_rows++;

	prs__presence_row__init(&rows[i]);
	prs__presence__init(&ps[i]);
	rows[i].p = &ps[i];
	rows[i].version = version;
	ps[i].user_id = (char *) user;
	ps[i].status = st;
	ps[i].is_online = st != PRS__STATUS__ST_OFFLINE;
	ps[i].since = 1000 + version;
	rowp[i] = &rows[i];
	return &ps[i];
}

static void
wb_member(const char *thread, const char *user, bool add)
{
	size_t i = wb.n_members++;

	prs__member_op__init(&mem[i]);
	mem[i].thread_id = (char *) thread;
	mem[i].user_id = (char *) user;
	mem[i].add = add;
	memp[i] = &mem[i];
}

static void
wb_history(const char *user, Prs__Status st, int64_t at)
{
	size_t i = wb.n_history++;

	prs__history_row__init(&hist[i]);
	hist[i].user_id = (char *) user;
	hist[i].status = st;
	hist[i].at = at;
	histp[i] = &hist[i];
}

/* Sends wb and waits for its BatchAck; returns ok, copies the error. */
static bool
wb_send(char *err, size_t errlen)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT, *ack;
	bool ok;

	env.body_case = PRS__ENVELOPE__BODY_BATCH;
	env.batch = &wb;
	send_env(&env);
	for (;;) {
		ack = recv_body(PRS__ENVELOPE__BODY_ACK, 15000);
		if (ack == NULL)
			fail(__LINE__, "no BatchAck for batch %" PRIu64,
			     wb.batch);
		if (ack->ack->batch == wb.batch)
			break;
		prs__envelope__free_unpacked(ack, NULL);
	}
	ok = ack->ack->ok;
	if (err != NULL)
		snprintf(err, errlen, "%s", ack->ack->error);
	prs__envelope__free_unpacked(ack, NULL);
	return ok;
}

static void
wb_send_ok(void)
{
	char err[512];

	if (!wb_send(err, sizeof(err)))
		fail(__LINE__, "batch %" PRIu64 " failed: %s", wb.batch, err);
}

/* What a load returned. */
struct loaded {
	size_t nrows, nmembers, nchunks;
	bool u1_ok, u2_ok, uni_ok;
	char error[256];
	char roster[256];  /* gateway names in load order, comma-separated */
	bool roster_early; /* names in a chunk before the last */
};

static void
load(uint64_t id, struct loaded *l)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT, *c;
	Prs__LoadRequest req = PRS__LOAD_REQUEST__INIT;
	size_t i;

	memset(l, 0, sizeof(*l));
	req.load_id = id;
	env.body_case = PRS__ENVELOPE__BODY_LOAD;
	env.load = &req;
	send_env(&env);
	for (;;) {
		bool last;
		c = recv_body(PRS__ENVELOPE__BODY_CHUNK, 20000);
		if (c == NULL)
			fail(__LINE__, "load %" PRIu64 ": no last chunk", id);
		CHECK(c->chunk->load_id == id);
		CHECK(c->chunk->n_rows <= 1000);
		CHECK(c->chunk->n_members <= 1000);
		l->nchunks++;
		l->nrows += c->chunk->n_rows;
		l->nmembers += c->chunk->n_members;
		snprintf(l->error, sizeof(l->error), "%s", c->chunk->error);
		for (i = 0; i < c->chunk->n_members; i++)
			CHECK(c->chunk->members[i]->add);
		if (c->chunk->n_gateways > 0 && !c->chunk->last)
			l->roster_early = true;
		for (i = 0; i < c->chunk->n_gateways; i++) {
			size_t n = strlen(l->roster);
			snprintf(l->roster + n, sizeof(l->roster) - n, "%s%s",
				 n > 0 ? "," : "", c->chunk->gateways[i]);
		}
		for (i = 0; i < c->chunk->n_rows; i++) {
			Prs__PresenceRow *r = c->chunk->rows[i];
			Prs__Presence *p = r->p;
			CHECK(p != NULL);
			if (!strcmp(p->user_id, "u1"))
				l->u1_ok = r->version == 20 &&
					   p->status == PRS__STATUS__ST_DND &&
					   !p->has_text &&
					   p->meta[0] == '\0' &&
					   p->last_seen == 0 && p->is_online;
			if (!strcmp(p->user_id, "u2"))
				l->u2_ok =
					r->version == 6 &&
					p->status == PRS__STATUS__ST_ONLINE &&
					p->has_text &&
					!strcmp(p->text, "a \"quoted\" "
							 "\\ {x,y} NULL") &&
					p->last_seen == 12345 &&
					!strcmp(p->meta,
						"{\"k\": \"v\\\"q\"}");
			if (!strcmp(p->user_id,
				    "\xc3\xbc-ser \xf0\x9f\x98\x80"))
				l->uni_ok = r->version == 1;
		}
		last = c->chunk->last;
		prs__envelope__free_unpacked(c, NULL);
		if (last)
			break;
	}
}

/* The array-literal builder against PostgreSQL's own array parser. */
static const char *
roster_now(void)
{
	return q1(__LINE__,
		  "SELECT coalesce(string_agg(name, ',' ORDER BY name), '') "
		  "FROM gateway_roster",
		  0, NULL);
}

/* The gateway roster: a batch with roster set replaces it exactly (an
 * invalid name is skipped), one without leaves it alone, and a load
 * returns it in its last chunk. */
static void
check_roster(void)
{
	static char *g1[] = {"gw-a", "gw-b"};
	static char *g2[] = {"gw-c", "gw-b", "bad\tname"};
	struct loaded l;

	wb_reset(400);
	wb.roster = true;
	wb.gateways = g1;
	wb.n_gateways = 2;
	wb_send_ok();
	CHECK(!strcmp(roster_now(), "gw-a,gw-b"));
	wb_reset(401);
	wb.roster = true;
	wb.gateways = g2;
	wb.n_gateways = 3;
	wb_send_ok();
	CHECK(!strcmp(roster_now(), "gw-b,gw-c"));
	wb_reset(402);
	wb_row("roster-u", PRS__STATUS__ST_ONLINE, 5);
	wb_send_ok();
	CHECK(!strcmp(roster_now(), "gw-b,gw-c"));
	load(403, &l);
	CHECK(l.error[0] == '\0' && !l.roster_early);
	CHECK(!strcmp(l.roster, "gw-b,gw-c") ||
	      !strcmp(l.roster, "gw-c,gw-b"));
	wb_reset(404);
	wb.roster = true; /* and no names: nobody */
	wb_send_ok();
	CHECK(!strcmp(roster_now(), ""));
}

static void
check_array_roundtrip(void)
{
	static const char *const in[] = {
		"plain",    "",     "say \"hi\"", "back\\slash\\",
		"a,b{c} d", "NULL", " padded ",   "\xc3\xbc\xf0\x9f\x98\x80",
		"'single'"};
	struct pst_arr a;
	const char *params[1];
	PGresult *r;
	size_t i, n = sizeof(in) / sizeof(in[0]);

	pst_arr_init(&a);
	for (i = 0; i < n; i++)
		pst_arr_str(&a, in[i]);
	pst_arr_str(&a, NULL);
	params[0] = pst_arr_end(&a);
	r = q(__LINE__,
	      "SELECT x FROM unnest($1::text[]) "
	      "WITH ORDINALITY AS t(x, i) ORDER BY i",
	      1, params);
	CHECK(PQntuples(r) == (int) n + 1);
	for (i = 0; i < n; i++)
		if (PQgetisnull(r, (int) i, 0) ||
		    strcmp(PQgetvalue(r, (int) i, 0), in[i]) != 0)
			fail(__LINE__, "element %zu: '%s' came back as '%s'",
			     i, in[i], PQgetvalue(r, (int) i, 0));
	CHECK(PQgetisnull(r, (int) n, 0));
	PQclear(r);
	pst_arr_free(&a);
}

/* Holds user_presence locked in an open transaction of ours, so that
 * the persister's next batch stays in flight until unlock_presence. */
static void
lock_presence(void)
{
	PQclear(q(__LINE__, "BEGIN", 0, NULL));
	PQclear(q(__LINE__,
		  "LOCK TABLE user_presence IN ACCESS EXCLUSIVE MODE", 0,
		  NULL));
}

static void
unlock_presence(void)
{
	PQclear(q(__LINE__, "COMMIT", 0, NULL));
}

/* Waits until a persister backend other than not_pid waits for a lock
 * in our database and returns its pid. */
static int
wait_blocked(int not_pid)
{
	int64_t end = mono_ms() + 15000;
	const char *params[1] = {dbname};

	while (mono_ms() < end) {
		PGresult *r = PQexecParams(
			admin,
			"SELECT pid FROM pg_stat_activity WHERE datname = $1 "
			"AND application_name = 'presence-persister' "
			"AND wait_event_type = 'Lock'",
			1, NULL, params, NULL, NULL, 0);
		int pid = 0;
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			PQclear(r);
			fail(__LINE__, "pg_stat_activity: %s",
			     PQerrorMessage(admin));
		}
		if (PQntuples(r) == 1)
			pid = atoi(PQgetvalue(r, 0, 0));
		PQclear(r);
		if (pid > 0 && pid != not_pid)
			return pid;
		usleep(20000);
	}
	fail(__LINE__, "the persister's batch never waited for our lock");
}

/* The connection drops while a batch is in flight: the batch is run
 * again after the reconnect and acknowledged once it commits. */
static void
check_lost_in_flight(void)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT, *c;
	const char *p1[1] = {"u9"};
	char sql[64];
	int pid, pid2;
	PGresult *r;

	lock_presence();
	wb_reset(200);
	wb_row("u9", PRS__STATUS__ST_AWAY, 3);
	env.body_case = PRS__ENVELOPE__BODY_BATCH;
	env.batch = &wb;
	send_env(&env);
	pid = wait_blocked(0);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
	r = PQexec(admin, sql);
	CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
	PQclear(r);
	pid2 = wait_blocked(pid); /* reconnected, same batch again */
	CHECK(pid2 != pid);
	CHECK(recv_body(PRS__ENVELOPE__BODY_ACK, 200) == NULL);
	unlock_presence();
	c = recv_body(PRS__ENVELOPE__BODY_ACK, 15000);
	CHECK(c != NULL && c->ack->batch == 200 && c->ack->ok);
	prs__envelope__free_unpacked(c, NULL);
	CHECK(!strcmp(q1(__LINE__,
			 "SELECT status || ':' || version FROM "
			 "user_presence WHERE user_id = $1",
			 1, p1),
		      "away:3"));
	fprintf(stderr, "pst_it: connection lost in flight: ok\n");
}

/* SIGTERM with a batch in flight: it commits within the grace period,
 * is acknowledged, then the persister exits 0; or, if it cannot
 * finish, the persister exits 0 after the ~2 s grace anyway. */
static void
check_sigterm_in_flight(bool finishes)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT, *c;
	int64_t t0;
	int st;

	lock_presence();
	wb_reset(finishes ? 300 : 301);
	wb_row("u1", PRS__STATUS__ST_OFFLINE, finishes ? 22 : 23);
	env.body_case = PRS__ENVELOPE__BODY_BATCH;
	env.batch = &wb;
	send_env(&env);
	wait_blocked(0);
	t0 = mono_ms();
	kill(child, SIGTERM);
	if (finishes) {
		usleep(300000); /* let the signal land first */
		CHECK(waitpid(child, &st, WNOHANG) == 0);
		unlock_presence();
		c = recv_body(PRS__ENVELOPE__BODY_ACK, 3000);
		CHECK(c != NULL && c->ack->batch == 300 && c->ack->ok);
		prs__envelope__free_unpacked(c, NULL);
	}
	st = wait_exit(6000);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (!finishes) {
		CHECK(mono_ms() - t0 >= 1500);
		unlock_presence();
	}
	fprintf(stderr, "pst_it: SIGTERM with work in flight (%s): ok\n",
		finishes ? "finishes" : "grace expires");
}

/* The registry resends a batch while its first copy is in flight, and
 * again after it committed: every copy is acknowledged, the batch is
 * applied once (its history row stored once). */
static void
check_repeats(void)
{
	Prs__Envelope env = PRS__ENVELOPE__INIT, *c;
	int i;

	lock_presence();
	wb_reset(210);
	wb_row("u9", PRS__STATUS__ST_AWAY, 4);
	wb_history("u9", PRS__STATUS__ST_AWAY, 4242);
	env.body_case = PRS__ENVELOPE__BODY_BATCH;
	env.batch = &wb;
	send_env(&env);
	wait_blocked(0);
	send_env(&env);
	send_env(&env); /* replaces the waiting copy */
	unlock_presence();
	for (i = 0; i < 2; i++) {
		c = recv_body(PRS__ENVELOPE__BODY_ACK, 15000);
		CHECK(c != NULL && c->ack->batch == 210 && c->ack->ok);
		prs__envelope__free_unpacked(c, NULL);
	}
	/* A third ack is allowed: whether the last copy replaced the waiting
	 * one is a race with the persister's reads, and either way is right.
	 * What matters is checked below: the batch was applied once. */
	c = recv_body(PRS__ENVELOPE__BODY_ACK, 300);
	if (c != NULL) {
		CHECK(c->ack->batch == 210 && c->ack->ok);
		prs__envelope__free_unpacked(c, NULL);
	}
	/* Committed: acknowledged again without touching the database. */
	lock_presence();
	send_env(&env);
	c = recv_body(PRS__ENVELOPE__BODY_ACK, 5000);
	CHECK(c != NULL && c->ack->batch == 210 && c->ack->ok);
	prs__envelope__free_unpacked(c, NULL);
	unlock_presence();
	CHECK(!strcmp(q1(__LINE__,
			 "SELECT count(*) FROM presence_events "
			 "WHERE at = 4242",
			 0, NULL),
		      "1"));
	fprintf(stderr, "pst_it: repeated batch: ok\n");
}

/* Optional: PostgreSQL stopped under the persister and started again. */
static void
check_outage(void)
{
	const char *stop = getenv("PST_IT_PG_STOP");
	const char *start = getenv("PST_IT_PG_START");
	Prs__Envelope env = PRS__ENVELOPE__INIT, *c;
	Prs__LoadRequest req = PRS__LOAD_REQUEST__INIT;
	const char *p1[1] = {"u9"};
	int64_t end;
	int st;

	if (stop == NULL || start == NULL) {
		fprintf(stderr, "pst_it: PST_IT_PG_STOP/START unset: "
				"outage not tested\n");
		return;
	}
	PQfinish(db);
	db = NULL;
	/* A batch racing the shutdown (in flight or not), then one sent
	 * while the server is down, and a load request. */
	wb_reset(100);
	wb_row("u9", PRS__STATUS__ST_AWAY, 5);
	env.body_case = PRS__ENVELOPE__BODY_BATCH;
	env.batch = &wb;
	send_env(&env);
	if (system(stop) != 0)
		fail(__LINE__, "%s failed", stop);
	wb_reset(101);
	wb_row("u9", PRS__STATUS__ST_DND, 6);
	send_env(&env);
	req.load_id = 90;
	env.body_case = PRS__ENVELOPE__BODY_LOAD;
	env.load = &req;
	send_env(&env);
	end = mono_ms() + 2500;
	while ((c = recv_body(PRS__ENVELOPE__BODY_ACK, 100)) != NULL ||
	       mono_ms() < end) {
		if (c != NULL) {
			CHECK(c->ack->batch == 100); /* committed before */
			prs__envelope__free_unpacked(c, NULL);
		}
	}
	CHECK(waitpid(child, &st, WNOHANG) == 0);
	if (system(start) != 0)
		fail(__LINE__, "%s failed", start);
	/* 101 must be acknowledged (100 too, unless it was before the stop);
	 * then the load, queued after them, must be answered. */
	for (;;) {
		c = recv_body(PRS__ENVELOPE__BODY_ACK, 20000);
		CHECK(c != NULL);
		CHECK(c->ack->ok);
		st = c->ack->batch == 101;
		prs__envelope__free_unpacked(c, NULL);
		if (st)
			break;
	}
	do {
		c = recv_body(PRS__ENVELOPE__BODY_CHUNK, 20000);
		CHECK(c != NULL && c->chunk->load_id == 90);
		CHECK(c->chunk->error[0] == '\0');
		st = c->chunk->last;
		prs__envelope__free_unpacked(c, NULL);
	} while (!st);
	db = PQconnectdb(conninfo);
	CHECK(PQstatus(db) == CONNECTION_OK);
	PQreset(admin);
	CHECK(PQstatus(admin) == CONNECTION_OK);
	CHECK(!strcmp(q1(__LINE__,
			 "SELECT status || ':' || version FROM "
			 "user_presence WHERE user_id = $1",
			 1, p1),
		      "dnd:6"));
	fprintf(stderr, "pst_it: PostgreSQL outage: ok\n");
}

/* A conninfo string for the test database: the admin connection's
 * settings with dbname replaced. */
static void
make_conninfo(void)
{
	PQconninfoOption *o, *opts = PQconninfo(admin);
	size_t len = 0;

	CHECK(opts != NULL);
	for (o = opts; o->keyword != NULL; o++) {
		const char *v = strcmp(o->keyword, "dbname") ? o->val : dbname;
		const char *s;
		if (v == NULL || *v == '\0')
			continue;
		len += (size_t) snprintf(conninfo + len,
					 sizeof(conninfo) - len, "%s='",
					 o->keyword);
		for (s = v; *s && len + 4 < sizeof(conninfo); s++) {
			if (*s == '\'' || *s == '\\')
				conninfo[len++] = '\\';
			conninfo[len++] = *s;
		}
		CHECK(len + 3 < sizeof(conninfo));
		conninfo[len++] = '\'';
		conninfo[len++] = ' ';
		conninfo[len] = '\0';
	}
	PQconninfoFree(opts);
}

int
main(int argc, char **argv)
{
	const char *url = argc > 2 ? argv[2] : getenv("DATABASE_URL");
	const char *p1[1], *p2[2];
	uint64_t e1, e2;
	struct loaded l;
	char err[512], sql[128];
	int i, st;
	Prs__Presence *p;

	if (argc < 2) {
		fprintf(stderr, "usage: %s PERSISTER [DATABASE_URL]\n",
			argv[0]);
		return 2;
	}
	binary = argv[1];
	if (url == NULL || *url == '\0') {
		fprintf(stderr, "pst_it: DATABASE_URL not set: skipped\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);

	/* A database of our own, dropped at the end. */
	admin = PQconnectdb(url);
	if (PQstatus(admin) != CONNECTION_OK)
		fail(__LINE__, "connect %s: %s", url, PQerrorMessage(admin));
	snprintf(dbname, sizeof(dbname), "pst_it_%d", (int) getpid());
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbname);
	PQclear(PQexec(admin, sql));
	make_conninfo();
	db = PQconnectdb(conninfo);
	if (PQstatus(db) != CONNECTION_OK)
		fail(__LINE__, "connect test db: %s", PQerrorMessage(db));
	check_array_roundtrip();

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pst-it-XXXXXX");
	CHECK(mkdtemp(tmpdir) != NULL);
	snprintf(reg_url, sizeof(reg_url), "ipc://%s/reg.sock", tmpdir);
	snprintf(pst_url, sizeof(pst_url), "ipc://%s/pst.sock", tmpdir);
	CHECK(nng_pull0_open(&inbox) == 0);
	CHECK(nng_socket_set_ms(inbox, NNG_OPT_RECVTIMEO, 100) == 0);
	CHECK(nng_listen(inbox, reg_url, NULL, 0) == 0);
	CHECK(nng_push0_open(&outbox) == 0);
	CHECK(nng_socket_set_ms(outbox, NNG_OPT_SENDTIMEO, 5000) == 0);
	CHECK(nng_socket_set_ms(outbox, NNG_OPT_RECONNMINT, 20) == 0);
	CHECK(nng_socket_set_ms(outbox, NNG_OPT_RECONNMAXT, 100) == 0);
	CHECK(nng_dial(outbox, pst_url, NULL, NNG_FLAG_NONBLOCK) == 0);

	/* 1. PostgreSQL unreachable: the persister stays up, says Hello,
	 * keeps a LoadRequest waiting, and stops cleanly on SIGTERM. */
	{
		char bad[256];
		snprintf(bad, sizeof(bad), "postgresql:///x?host=%s/nopg",
			 tmpdir);
		start_persister(bad);
		wait_hello();
		{
			Prs__Envelope env = PRS__ENVELOPE__INIT;
			Prs__LoadRequest req = PRS__LOAD_REQUEST__INIT;
			req.load_id = 1;
			env.body_case = PRS__ENVELOPE__BODY_LOAD;
			env.load = &req;
			send_env(&env);
			CHECK(recv_body(PRS__ENVELOPE__BODY_CHUNK, 2500) ==
			      NULL);
		}
		CHECK(waitpid(child, &st, WNOHANG) == 0);
		kill(child, SIGTERM);
		st = wait_exit(5000);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		drain();
		fprintf(stderr, "pst_it: database down: ok\n");
	}

	/* 2. Batches against the real database. */
	start_persister(conninfo);
	e1 = wait_hello();

	wb_reset(1);
	p = wb_row("u1", PRS__STATUS__ST_ONLINE, 10);
	p->has_text = true;
	p->text = "first";
	p->meta = "{\"a\": 1}";
	p = wb_row("u2", PRS__STATUS__ST_AWAY, 5);
	p->has_text = true;
	p->text = "a \"quoted\" \\ {x,y} NULL";
	p->last_seen = 12345;
	p->meta = "{\"k\": \"v\\\"q\"}";
	wb_row("u3", PRS__STATUS__ST_DND, 7);
	wb_row("u3", PRS__STATUS__ST_AWAY, 9); /* duplicate: highest wins */
	wb_row("u3", PRS__STATUS__ST_ONLINE, 8);
	wb_row("\xc3\xbc-ser \xf0\x9f\x98\x80", PRS__STATUS__ST_ONLINE, 1);
	wb_history("u1", PRS__STATUS__ST_ONLINE, 1000);
	wb_history("u2", PRS__STATUS__ST_AWAY, 2000);
	wb_member("t1", "u1", true);
	wb_member("t1", "u2", true);
	wb_member("t2", "u1", true);
	wb_member("t3", "u3", true);
	wb_member("t3", "u3", false); /* the last op on a pair wins */
	wb_send_ok();

	p1[0] = "u3";
	CHECK(!strcmp(q1(__LINE__,
			 "SELECT status || ':' || version || ':' || "
			 "coalesce(text, '-') FROM user_presence "
			 "WHERE user_id = $1",
			 1, p1),
		      "away:9:-"));
	p1[0] = "u2";
	CHECK(!strcmp(q1(__LINE__,
			 "SELECT text FROM user_presence WHERE "
			 "user_id = $1",
			 1, p1),
		      "a \"quoted\" \\ {x,y} NULL"));
	CHECK(!strcmp(q1(__LINE__,
			 "SELECT meta->>'k' FROM user_presence "
			 "WHERE user_id = $1",
			 1, p1),
		      "v\"q"));
	CHECK(!strcmp(q1(__LINE__,
			 "SELECT last_seen FROM user_presence "
			 "WHERE user_id = $1",
			 1, p1),
		      "12345"));
	p1[0] = "u1";
	CHECK(!strcmp(q1(__LINE__,
			 "SELECT coalesce(last_seen::text, "
			 "'null') FROM user_presence WHERE "
			 "user_id = $1",
			 1, p1),
		      "null"));
	CHECK(!strcmp(
		q1(__LINE__, "SELECT count(*) FROM user_presence", 0, NULL),
		"4"));
	CHECK(!strcmp(q1(__LINE__,
			 "SELECT string_agg(thread_id || '/' || "
			 "user_id, ',' ORDER BY 1) FROM "
			 "thread_members",
			 0, NULL),
		      "t1/u1,t1/u2,t2/u1"));
	CHECK(!strcmp(q1(__LINE__,
			 "SELECT string_agg(user_id || ':' || "
			 "status || ':' || at, ',' ORDER BY at) "
			 "FROM presence_events",
			 0, NULL),
		      "u1:online:1000,u2:away:2000"));

	/* Newer state for u1, then a retried OLD version: no effect. */
	wb_reset(2);
	wb_row("u1", PRS__STATUS__ST_DND, 20);
	wb_member("t1", "u2", false);
	wb_send_ok();
	wb_reset(3);
	p = wb_row("u1", PRS__STATUS__ST_AWAY, 15);
	p->has_text = true;
	p->text = "stale";
	p = wb_row("u2", PRS__STATUS__ST_ONLINE, 6);
	p->has_text = true;
	p->text = "a \"quoted\" \\ {x,y} NULL";
	p->last_seen = 12345;
	p->meta = "{\"k\": \"v\\\"q\"}";
	wb_send_ok();
	p1[0] = "u1";
	CHECK(!strcmp(q1(__LINE__,
			 "SELECT status || ':' || version || ':' || "
			 "coalesce(text, '-') FROM user_presence "
			 "WHERE user_id = $1",
			 1, p1),
		      "dnd:20:-"));
	p1[0] = "u2";
	CHECK(!strcmp(q1(__LINE__,
			 "SELECT status || ':' || version FROM "
			 "user_presence WHERE user_id = $1",
			 1, p1),
		      "online:6"));
	CHECK(!strcmp(
		q1(__LINE__, "SELECT count(*) FROM thread_members", 0, NULL),
		"2"));
	/* The same batch id twice in a row: both acknowledged. */
	wb_send_ok();

	/* A big batch: more rows and members than one LoadChunk holds. */
	wb_reset(4);
	for (i = 0; i < 2500; i++) {
		snprintf(names[i], sizeof(names[i]), "bulk-%04d", i);
		wb_row(names[i], PRS__STATUS__ST_ONLINE, 1 + i);
		if (i < 1500)
			wb_member("big", names[i], true);
	}
	wb_send_ok();
	CHECK(!strcmp(
		q1(__LINE__, "SELECT count(*) FROM user_presence", 0, NULL),
		"2504"));

	/* A batch PostgreSQL rejects (meta is not JSON): ok = false with
	 * the reason, nothing of it stored, and the next batch works. */
	wb_reset(5);
	wb_row("u9", PRS__STATUS__ST_ONLINE, 1);
	p = wb_row("u10", PRS__STATUS__ST_ONLINE, 1);
	p->meta = "{not json";
	CHECK(!wb_send(err, sizeof(err)));
	CHECK(strstr(err, "json") != NULL);
	p1[0] = "u9";
	CHECK(!strcmp(q1(__LINE__,
			 "SELECT count(*) FROM user_presence "
			 "WHERE user_id = $1",
			 1, p1),
		      "0"));
	wb_reset(6);
	wb_row("u9", PRS__STATUS__ST_ONLINE, 1);
	wb_send_ok();

	/* Load: every row and membership, in chunks of at most 1000. */
	load(77, &l);
	CHECK(l.error[0] == '\0');
	CHECK(l.nrows == 2505);
	CHECK(l.nmembers == 1502);
	CHECK(l.nchunks >= 5);
	CHECK(l.u1_ok && l.u2_ok && l.uni_ok);

	check_lost_in_flight();
	check_repeats();
	check_outage();

	/* A history event beyond retention, removed at the next start. */
	PQclear(q(__LINE__,
		  "INSERT INTO presence_events (user_id, status, "
		  "at) VALUES ('old', 'online', 1)",
		  0, NULL));

	/* 3. kill -9 and restart: everything is still there. */
	kill(child, SIGKILL);
	st = wait_exit(5000);
	CHECK(WIFSIGNALED(st));
	start_persister(conninfo);
	do
		e2 = wait_hello();
	while (e2 == e1);
	load(78, &l);
	CHECK(l.error[0] == '\0');
	CHECK(l.nrows == 2505 && l.nmembers == 1502);
	CHECK(l.u1_ok && l.u2_ok && l.uni_ok);
	CHECK(!strcmp(q1(__LINE__,
			 "SELECT count(*) FROM presence_events "
			 "WHERE user_id = 'old'",
			 0, NULL),
		      "0"));
	CHECK(!strcmp(q1(__LINE__, "SELECT count(*) FROM schema_migrations", 0,
			 NULL),
		      "3"));
	wb_reset(7);
	wb_row("u1", PRS__STATUS__ST_OFFLINE, 21)->last_seen = 99;
	wb_send_ok();
	p2[0] = "u1";
	p2[1] = "99";
	CHECK(!strcmp(q1(__LINE__,
			 "SELECT count(*) FROM user_presence "
			 "WHERE user_id = $1 AND last_seen = $2 "
			 "AND NOT is_online",
			 2, p2),
		      "1"));

	check_roster();

	/* 4. SIGTERM: the batch in flight commits and is acknowledged, or
	 * the grace period ends; either way a clean exit (and, under ASan,
	 * no leaks). */
	check_sigterm_in_flight(true);
	start_persister(conninfo);
	wait_hello();
	check_sigterm_in_flight(false);

	cleanup();
	fprintf(stderr, "pst_it: all ok\n");
	return 0;
}
