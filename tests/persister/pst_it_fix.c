/*
 * The fixture of pst_it: the persister under test as a child process, the
 * registry's side of its NNG links (an inbox it sends to, an outbox it
 * reads from), a database of its own, WriteBatches built field by field,
 * and a load read back chunk by chunk. Every wait is a bounded poll.
 */
#include "pst_it.h"

#include <errno.h>
#include <inttypes.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "prs_util.h"

extern char **environ;

#define MAXROWS 4000
const char *binary;
char tmpdir[64], reg_url[128], pst_url[128], conninfo[2048];
char dbname[64];
PGconn *admin, *db;
nng_socket inbox, outbox;
pid_t child = -1;
static uint64_t seq, epoch = 0x1234;

void
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

void __attribute__((noreturn, format(printf, 2, 3)))
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

int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

PGresult *
q(int line, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		fail(line, "%s: %s", sql, PQresultErrorMessage(r));
	return r;
}

/* The one value of a one-row query, as text ("<null>" for NULL). */
char *
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

void
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
int
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

void
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
Prs__Envelope *
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
uint64_t
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
void
drain(void)
{
	Prs__Envelope *env;
	while ((env = recv_body(PRS__ENVELOPE__BODY__NOT_SET, 300)) != NULL)
		prs__envelope__free_unpacked(env, NULL);
}

/* Builds WriteBatches in static storage. */
Prs__WriteBatch wb;
static Prs__PresenceRow rows[MAXROWS], *rowp[MAXROWS];
static Prs__Presence ps[MAXROWS];
static Prs__HistoryRow hist[16], *histp[16];
static Prs__MemberOp mem[MAXROWS], *memp[MAXROWS];
char names[MAXROWS][32];

void
wb_reset(uint64_t id)
{
	prs__write_batch__init(&wb);
	wb.batch = id;
	wb.rows = rowp;
	wb.history = histp;
	wb.members = memp;
}

Prs__Presence *
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

void
wb_member(const char *thread, const char *user, bool add)
{
	size_t i = wb.n_members++;

	prs__member_op__init(&mem[i]);
	mem[i].thread_id = (char *) thread;
	mem[i].user_id = (char *) user;
	mem[i].add = add;
	memp[i] = &mem[i];
}

void
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
bool
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

void
wb_send_ok(void)
{
	char err[512];

	if (!wb_send(err, sizeof(err)))
		fail(__LINE__, "batch %" PRIu64 " failed: %s", wb.batch, err);
}

void
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