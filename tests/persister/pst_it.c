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
#include "pst_it.h"

#include <inttypes.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prs_util.h"
#include "pst_sql.h"

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
