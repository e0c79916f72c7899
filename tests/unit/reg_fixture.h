/*
 * The registry without sockets, for the unit tests of its decisions
 * (test_reg_state.c: scenarios; test_reg_model.c: the randomized model):
 * a recording struct reg_out in place of NNG, bare gateways, and helpers
 * that open, change and close sessions as a gateway's messages would.
 */
#ifndef REG_FIXTURE_H
#define REG_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reg.h"

#define ST_OFFLINE   PRS__STATUS__ST_OFFLINE
#define ST_ONLINE    PRS__STATUS__ST_ONLINE
#define ST_AWAY      PRS__STATUS__ST_AWAY
#define ST_DND       PRS__STATUS__ST_DND
#define ST_INVISIBLE PRS__STATUS__ST_INVISIBLE

struct rec_event {
	struct reg_gw *gw;
	uint64_t *sids;
	size_t n;
	bool own;
	bool online_changed; /* Event.online_changed */
	char *user;
	int status;
	bool online;
	char *text; /* NULL: none */
	char *meta; /* NULL: none */
};

struct rec_typing {
	struct reg_gw *gw;
	uint64_t *sids;
	size_t n;
	char *thread, *user;
	bool active;
};

struct rec_history {
	char *user;
	int status;
};

struct fx {
	struct reg r;
	struct reg_gw *gw[3];
	uint64_t next_sid;
};

struct hello {
	int status; /* 0: no status in the hello */
	const char *text;
	const char *meta;
	const char **watches;
	size_t nwatches;
	bool all; /* an all-users subscription */
};

struct rec {
	struct rec_event *ev;
	size_t nev, evcap;
	struct rec_typing *ty;
	size_t nty, tycap;
	struct rec_history *hist;
	size_t nhist, histcap;
	size_t ndirty, nmemop;
};
extern struct rec REC;

uint64_t *sids_dup(const uint64_t *sids, size_t n);
void rec_event_cb(struct reg *r, struct reg_gw *gw, const uint64_t *sids,
		  size_t n, const Prs__Presence *p, bool own);
void rec_typing_cb(struct reg *r, struct reg_gw *gw, const uint64_t *sids,
		   size_t n, const char *thread, const char *user,
		   bool active);
void rec_dirty_cb(struct reg *r, struct reg_user *u);
void rec_history_cb(struct reg *r, const char *user, int status, int64_t at);
void rec_memop_cb(struct reg *r, const char *thread, const char *user,
		  bool add);
void rec_clear(void);
void rec_free(void);
bool sids_has(const uint64_t *sids, size_t n, uint64_t sid);
int rec_count(struct reg_gw *gw, uint64_t sid, const char *user);
struct rec_event *rec_last(struct reg_gw *gw, uint64_t sid, const char *user);
struct reg_gw *fx_gw_add(struct reg *r, const char *name);
struct fx *fx_new(const char *audience, int64_t grace_ms);
void fx_free(struct fx *f);
uint64_t fx_open_h(struct fx *f, int g, const char *user,
		   const struct hello *h);
uint64_t fx_open(struct fx *f, int g, const char *user);
struct reg_session *fx_sess(struct fx *f, int g, uint64_t sid);
void fx_close(struct fx *f, int g, uint64_t sid, bool clean);
void fx_status(struct fx *f, int g, uint64_t sid, int status,
	       const char *text);
void fx_watch(struct fx *f, int g, uint64_t sid, const char *user);
bool fx_any_in_grace(struct fx *f);
void sleep_ms(int64_t ms);
void fx_run(struct fx *f);
void fx_grace_run_out(struct fx *f);

#endif
