/*
 * The observers of the Socket.IO drop-in: connections with audience all
 * and no presence session yet (before userOnline, or after userOffline),
 * to which seed 001 broadcasts as to every connected client. One registry
 * observer session per gateway (an all-users session of no user) hears
 * every change for all of them: it begins with the first observer and
 * ends from the tick once none is left; the frontend ops (gw_fe_sio.c)
 * hand its deliveries, flushes, SessionAck and end here.
 */
#include "gw_sio.h"

#include <utlist.h>

#include "gw_fe_sio.h"
#include "gw_reg.h"
#include "gw_server.h"
#include "gw_session.h"
#include "prs_util.h"

/* ---- observers ----------------------------------------------------- */

/* Puts e on the observers or takes it off, as it now is: connected with
 * audience all but no presence session (seed 001 broadcasts to every
 * connected client, userOnline or not). The first observer brings the
 * registry observer session (an all-users session of no user); the tick
 * ends it once none is left, never a delivery in progress. */
void
gw_sio_observe_update(struct sio *e)
{
	struct gw_sio *st = e->srv->sio;
	bool should = e->connected && e->all && e->sess == NULL && !e->closed;
	struct gw_session *s;

	if (should == e->observing)
		return;
	e->observing = should;
	if (!should) {
		DL_DELETE2(st->observers, e, oprev, onext);
		st->nobservers--;
		if (e->connect_wait && !e->closed)
			gw_sio_connect_reply(e); /* a user now: its own ack */
		return;
	}
	DL_APPEND2(st->observers, e, oprev, onext);
	st->nobservers++;
	if (st->observer != NULL)
		return;
	s = gw_session_new(e->srv, "", &gw_fe_sio);
	s->watch_all = true;
	s->device = xstrdup("socket.io");
	s->fe_data = st;
	st->observer = s;
	gw_session_announce(e->srv, s);
	if (gw_reg_ready(e->srv))
		gw_session_await(e->srv, s);
}

/* Ends the observer session when no observer is left (or all: at stop). */
void
gw_sio_observer_end(struct gw_server *srv, bool all)
{
	struct gw_sio *st = srv->sio;
	struct gw_session *s = st->observer;

	if (s == NULL || (st->nobservers > 0 && !all))
		return;
	st->observer = NULL;
	s->fe_data = NULL;
	gw_session_end(srv, s, false);
}

bool
gw_sio_is_observer(const struct gw_session *s)
{
	return s->srv->sio != NULL && s == s->srv->sio->observer;
}

/* ---- the observer session's frontend ops ---------------------------- */

/* A delivery to the observer session: to every observer (each counted as
 * a frame out; the core counts one). */
bool
gw_sio_obs_deliver(struct gw_server *srv, const struct gw_frame *f)
{
	struct sio *e, *tmp;
	size_t n = 0;

	DL_FOREACH_SAFE2 (srv->sio->observers, e, tmp, onext)
		n += gw_sio_deliver_one(e, f);
	if (n > 1)
		srv->n_frames_out += n - 1;
	return n > 0;
}

void
gw_sio_obs_flush(struct gw_server *srv)
{
	struct sio *e, *tmp;

	DL_FOREACH_SAFE2 (srv->sio->observers, e, tmp, onext)
		gw_sio_flush(e);
}

/* The registry has the observer session: the CONNECT replies that waited
 * for it go out. */
void
gw_sio_obs_acked(struct gw_server *srv)
{
	struct sio *e, *tmp;

	DL_FOREACH_SAFE2 (srv->sio->observers, e, tmp, onext) {
		if (e->connect_wait) {
			gw_sio_connect_reply(e);
			gw_sio_flush(e);
		}
	}
}

/* The observer session ends: events to observers were lost, so they
 * reconnect. */
bool
gw_sio_obs_close(struct gw_server *srv, enum gw_end why)
{
	struct sio *e, *tmp;

	DL_FOREACH_SAFE2 (srv->sio->observers, e, tmp, onext)
		gw_sio_close(e, false);
	return why == GW_END_MISSED;
}
