/*
 * presence-gateway: flags and config, signals, then the libev loop. The
 * work happens in the gw_* modules (see gw_server.c for the loop's shape
 * and gw_reg.c for the registry link).
 */
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "gw_auth.h"
#include "gw_fe_signalr.h"
#include "gw_gateway.h"
#include "gw_http1.h"
#include "gw_reg.h"
#include "gw_server.h"
#include "gw_static.h"
#include "prs_config.h"
#include "prs_util.h"

static struct gw_config cfg;
static struct gw_server srv;

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	prs_info("signal %d: shutting down", w->signum);
	gw_server_stop(&srv);
}

static bool
name_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		      ch == '.'))
			return false;
	}
	return true;
}

/* An absolute path of at most a few plain segments (no query, no
 * escapes), other than the root. */
static bool
sio_path_valid(const char *s)
{
	size_t i, n = strlen(s), segs = 0;

	if (n < 2 || n > 128 || s[0] != '/')
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '/')
			segs++;
		else if (!((ch >= 'a' && ch <= 'z') ||
			   (ch >= 'A' && ch <= 'Z') ||
			   (ch >= '0' && ch <= '9') || ch == '-' ||
			   ch == '_' || ch == '.'))
			return false;
	}
	return segs <= 4;
}

int
main(int argc, char **argv)
{
	char *auth_mode = "jwt", *secret_file = "", *sio_audience = "all";
	const char *why;
	bool debug = false;
	struct ev_loop *loop;
	ev_signal sigterm, sigint;
	int rv;

	gw_config_defaults(&cfg);

	const struct prs_opt opts[] = {
		{"name", PRS_OPT_STR, &cfg.name, 0, 0,
		 "gateway name, unique among gateways"},
		{"url", PRS_OPT_STR, &cfg.url, 0, 0,
		 "own inbox address (default "
		 "ipc:///run/presence/gateway-NAME.sock)"},
		{"registry_url", PRS_OPT_STR, &cfg.registry_url, 0, 0,
		 "registry inbox address"},
		{"http_host", PRS_OPT_STR, &cfg.http_host, 0, 0,
		 "address to listen on for HTTP and WebSocket"},
		{"http_port", PRS_OPT_INT, &cfg.http_port, 1, 65535,
		 "port to listen on"},
		{"web_root", PRS_OPT_STR, &cfg.web_root, 0, 0,
		 "directories (colon-separated, searched in order) of "
		 "the static files: /v1/client.js, /demo/, /admin/"},
		{"auth_mode", PRS_OPT_STR, &auth_mode, 0, 0,
		 "jwt, or none (development only: trusts the user id "
		 "the client names)"},
		{"jwt_secret_file", PRS_OPT_STR, &secret_file, 0, 0,
		 "file holding the HS256 secret (auth_mode jwt)"},
		{"heartbeat_ms", PRS_OPT_INT, &cfg.heartbeat_ms, 100, 3600000,
		 "WebSocket ping interval"},
		{"heartbeat_timeout_ms", PRS_OPT_INT,
		 &cfg.heartbeat_timeout_ms, 100, 3600000,
		 "drop a connection silent for heartbeat_ms plus this"},
		{"hello_timeout_ms", PRS_OPT_INT, &cfg.hello_timeout_ms, 100,
		 3600000, "time a new WebSocket has to send hello"},
		{"max_message_bytes", PRS_OPT_INT, &cfg.max_message_bytes,
		 1024, 16777216, "largest client message (over: close 1009)"},
		{"max_outbound_bytes", PRS_OPT_INT, &cfg.max_outbound_bytes,
		 65536, 1073741824,
		 "outbound queue per connection (over: close 1008)"},
		{"max_connections", PRS_OPT_INT, &cfg.max_connections, 1,
		 1000000,
		 "WebSockets and Socket.IO polling sessions per gateway "
		 "(over: 503)"},
		{"max_body_bytes", PRS_OPT_INT, &cfg.max_body_bytes, 1024,
		 16777216, "largest HTTP request body (over: 413)"},
		{"http_request_timeout_ms", PRS_OPT_INT,
		 &cfg.http_request_timeout_ms, 100, 3600000,
		 "time for a whole HTTP request; idle keep-alive "
		 "timeout"},
		{"request_timeout_ms", PRS_OPT_INT, &cfg.request_timeout_ms,
		 10, 600000,
		 "registry round-trip deadline (then: unavailable)"},
		{"rate_limit_per_sec", PRS_OPT_INT, &cfg.rate_limit_per_sec, 0,
		 1000000, "client messages per second per session (0: off)"},
		{"rate_limit_burst", PRS_OPT_INT, &cfg.rate_limit_burst, 1,
		 1000000, "token bucket size of that limit"},
		{"rate_limit_close_ms", PRS_OPT_INT, &cfg.rate_limit_close_ms,
		 100, 3600000,
		 "a session rate limited this long without a pause of "
		 "1 s is closed 1008"},
		{"max_url_bytes", PRS_OPT_INT, &cfg.max_url_bytes, 256,
		 1048576, "longest HTTP request target (over: 414)"},
		{"max_header_bytes", PRS_OPT_INT, &cfg.max_header_bytes, 1024,
		 1048576,
		 "largest HTTP request head, and largest header line "
		 "(over: 431)"},
		{"max_headers", PRS_OPT_INT, &cfg.max_headers, 8, 10000,
		 "most header lines in one HTTP request (over: 431)"},
		{"allowed_origins", PRS_OPT_STR, &cfg.allowed_origins, 0, 0,
		 "comma-separated Origins browser pages may use the "
		 "gateway from, e.g. https://app.example.com: WebSocket "
		 "upgrades (others: 403) and drop-in CORS (others get no "
		 "CORS headers); empty: any"},
		{"http_session_ttl_ms", PRS_OPT_INT, &cfg.http_session_ttl_ms,
		 1000, 86400000, "lifetime of an HTTP heartbeat session"},
		{"compat_events", PRS_OPT_STR, &cfg.compat_events, 0, 0,
		 "event form of /ws/presence/{id} sessions: empty (v1 "
		 "presence objects) or seed004 (user_status_changed)"},
		{"socketio_path", PRS_OPT_STR, &cfg.socketio_path, 0, 0,
		 "path of the Socket.IO v4 drop-in (Engine.IO 4)"},
		{"socketio_audience", PRS_OPT_STR, &sio_audience, 0, 0,
		 "whose changes Socket.IO clients receive: all (every "
		 "user, as seed 001 broadcasts) or threads (the v1 "
		 "audience)"},
		{"socketio_audience_all_users", PRS_OPT_BOOL,
		 &cfg.socketio_all_users, 0, 0,
		 "auth_mode jwt: audience all for every Socket.IO user, "
		 "not only tokens with the admin claim"},
		{"socketio_ping_interval_ms", PRS_OPT_INT,
		 &cfg.socketio_ping_interval_ms, 100, 3600000,
		 "Engine.IO pingInterval: the server pings this often"},
		{"socketio_ping_timeout_ms", PRS_OPT_INT,
		 &cfg.socketio_ping_timeout_ms, 100, 3600000,
		 "Engine.IO pingTimeout: no pong this long after a ping "
		 "ends the session (unclean)"},
		{"signalr_paths", PRS_OPT_STR, &cfg.signalr_paths, 0, 0,
		 "comma-separated SignalR hub paths (seed 000 drop-in; "
		 "empty: none)"},
		{"signalr_keepalive_ms", PRS_OPT_INT,
		 &cfg.signalr_keepalive_ms, 1000, 3600000,
		 "SignalR: send a Ping record after this much silence "
		 "toward the client"},
		{"signalr_client_timeout_ms", PRS_OPT_INT,
		 &cfg.signalr_client_timeout_ms, 1000, 3600000,
		 "SignalR: drop a client that sent nothing for this long "
		 "(unclean: grace applies)"},
		{"debug", PRS_OPT_BOOL, &debug, 0, 0, "log debug messages"},
	};

	rv = prs_config_parse(
		opts, PRS_ARRAY_LEN(opts), "gateway", "presence-gateway",
		"Gateway of the presence server: holds client WebSocket and "
		"HTTP connections and\nspeaks to the registry over NNG.",
		argc, argv);
	if (rv == 1)
		return 0;
	if (rv != 0)
		return 2;
	if (!name_valid(cfg.name)) {
		fprintf(stderr, "presence-gateway: name: use 1-64 of "
				"[A-Za-z0-9._-]\n");
		return 2;
	}
	if (cfg.compat_events[0] != '\0' &&
	    strcmp(cfg.compat_events, "seed004") != 0) {
		fprintf(stderr, "presence-gateway: compat_events: empty or "
				"seed004\n");
		return 2;
	}
	if (strcmp(sio_audience, "all") != 0 &&
	    strcmp(sio_audience, "threads") != 0) {
		fprintf(stderr, "presence-gateway: socketio_audience: all or "
				"threads\n");
		return 2;
	}
	cfg.socketio_all = strcmp(sio_audience, "all") == 0;
	if (!sio_path_valid(cfg.socketio_path)) {
		fprintf(stderr, "presence-gateway: socketio_path: an absolute "
				"path such as /socket.io/\n");
		return 2;
	}
	if ((why = gw_signalr_paths_check(cfg.signalr_paths)) != NULL) {
		fprintf(stderr, "presence-gateway: signalr_paths: %s\n", why);
		return 2;
	}
	if (strcmp(auth_mode, "none") == 0) {
		cfg.auth_none = true;
	} else if (strcmp(auth_mode, "jwt") == 0) {
		if (secret_file[0] == '\0') {
			fprintf(stderr,
				"presence-gateway: auth_mode jwt needs "
				"jwt_secret_file\n");
			return 2;
		}
		if (gw_auth_load_secret(&cfg, secret_file) != 0)
			return 2;
	} else {
		fprintf(stderr, "presence-gateway: auth_mode: jwt or none\n");
		return 2;
	}
	if (cfg.url[0] == '\0') {
		size_t n = strlen(cfg.name) + 64;
		cfg.url = xmalloc(n);
		snprintf(cfg.url, n, "ipc:///run/presence/gateway-%s.sock",
			 cfg.name);
	}

	prs_log_setname("gateway");
	prs_log_set_debug(debug);
	signal(SIGPIPE, SIG_IGN);
	if (cfg.auth_none)
		prs_warn("auth_mode none: clients name their own user id; "
			 "development only");
	gw_static_log_roots(cfg.web_root);

	loop = EV_DEFAULT;
	gw_http1_global_init(&cfg);
	gw_gateway_init(&srv, loop, &cfg);
	if (gw_reg_open(&srv) != 0 || gw_server_listen(&srv) != 0) {
		gw_server_fini(&srv);
		gw_reg_close(&srv);
		return 1;
	}
	ev_signal_init(&sigterm, signal_cb, SIGTERM);
	ev_signal_start(loop, &sigterm);
	ev_signal_init(&sigint, signal_cb, SIGINT);
	ev_signal_start(loop, &sigint);
	prs_info("gateway %s up (epoch %llx), registry at %s, inbox %s",
		 cfg.name, (unsigned long long) srv.epoch, cfg.registry_url,
		 cfg.url);
	sd_notify(0, "READY=1");

	ev_run(loop, 0);
	prs_exit_guard(1);

	gw_server_fini(&srv);
	gw_reg_close(&srv);
	ev_signal_stop(loop, &sigterm);
	ev_signal_stop(loop, &sigint);
	free(cfg.jwt_secret);
	prs_info("stopped");
	return 0;
}
