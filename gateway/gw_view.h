/*
 * What this gateway last showed its clients about each user: one digest
 * of the view others see and one of the user's own view, per user that an
 * event was delivered about. It lets views repair themselves after a
 * registry restart (docs/DESIGN.md, "Loss and repair"): the gateway sends
 * the users it knows in a ViewCheck, the registry answers with its truth
 * as repair events, and only those that differ from the digest reach the
 * clients, so a client sees each real difference once and nothing else.
 */
#ifndef GW_VIEW_H
#define GW_VIEW_H

#include <stdbool.h>

#include "gw_types.h"
#include "presence.pb-c.h"

/* Records p as delivered to the own (or others') view of its user.
 * Returns false when the recorded view was already the same (nothing to
 * deliver), true otherwise. */
bool gw_view_update(struct gw_server *srv, const Prs__Presence *p, bool own);
/* A reply showed these users (to a client session if to_session). Each is
 * recorded as what the gateway's clients saw of that user only if nothing
 * was recorded yet (no event about the user was ever delivered here, so
 * the audience on this gateway knows the user from replies alone). A
 * reply answered during the registry's hold may show a session a state
 * its audience is never told (a change undone before the hold ends): a
 * user it shows differently from the record is marked unknown and checked
 * again (ViewCheck), so the answer after the hold reaches every session. */
void gw_view_note_reply(struct gw_server *srv, const Prs__Reply *rep,
			bool to_session);
/* Sends the registry a ViewCheck (in chunks) of every recorded user. */
void gw_view_check_send(struct gw_server *srv);
/* Recorded users (for /metrics). */
size_t gw_view_count(const struct gw_server *srv);
/* Frees every record. */
void gw_view_free(struct gw_server *srv);

#endif
