/*
 * JSON shapes shared by the WebSocket and HTTP sides (PROTOCOL.md §4).
 */
#ifndef GW_JSON_H
#define GW_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "gw_buf.h"
#include "presence.pb-c.h"

/* Largest id list accepted in one client request (watch, query, ...). */
#define GW_IDS_MAX 1000

/* A presence object: user_id, status, is_online, text, last_seen, since,
 * meta, and "auto": true for an auto-away status (v1.1). Returns a new
 * reference. */
json_t *gw_json_presence(const Prs__Presence *p);
/* Appends the compact encoding of j to b. */
void gw_json_dump(json_t *j, struct gw_buf *b);
/* Checks that v is an array of at most max valid ids. Returns 0, or -1
 * (not an array / an invalid id: bad request) or -2 (too many: too large)
 * with *why set. */
int gw_json_ids(json_t *v, size_t max, const char **why);

/* Drop-in endpoints (docs/MIGRATING.md): a user id as a JSON number when
 * it is a decimal integer without leading zeros ("0" or [1-9][0-9]*) of
 * at most 2^53, else as a string. Returns a new reference. */
json_t *gw_json_id(const char *id);
/* Writes ms (since the epoch) as ISO 8601 UTC with milliseconds,
 * "2026-12-02T10:00:00.123Z", to buf (at least GW_JSON_TIME_LEN bytes). */
#define GW_JSON_TIME_LEN 48
void gw_json_time_fmt(char *buf, int64_t ms);
/* The same as a JSON string; null for 0 (never). New reference. */
json_t *gw_json_time(int64_t ms);

#endif
