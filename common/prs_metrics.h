/*
 * Prometheus metrics: a tiny text builder with counter, gauge and
 * fixed-bucket histogram helpers (text format 0.0.4), and a small HTTP
 * endpoint on the libev loop that answers GET /metrics with what the
 * daemon's callback writes (the registry and the persister; the gateway
 * serves /metrics on its own HTTP port and uses only the helpers).
 *
 * The endpoint is for a scraper on a trusted network (loopback by
 * default), but its input is still hostile: requests are parsed with
 * http-parser within a byte bound, connections are few and time out, and
 * nothing blocks the loop.
 */
#ifndef PRS_METRICS_H
#define PRS_METRICS_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

/* Text being built (owned; free with prs_mbuf_free). */
struct prs_mbuf {
	char *data;
	size_t len, cap;
};

void prs_mbuf_printf(struct prs_mbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void prs_mbuf_free(struct prs_mbuf *b);

/* "# HELP name help" and "# TYPE name type" (type: counter, gauge,
 * histogram). Once per metric name, before its samples. */
void prs_metric_head(struct prs_mbuf *b, const char *name, const char *type,
		     const char *help);
/* One sample. labels: NULL, or the inside of the braces, already escaped
 * (prs_metric_label). */
void prs_metric_u64(struct prs_mbuf *b, const char *name, const char *labels,
		    uint64_t v);
void prs_metric_f64(struct prs_mbuf *b, const char *name, const char *labels,
		    double v);
/* A whole single-sample metric: head and value. */
void prs_metric_counter(struct prs_mbuf *b, const char *name, const char *help,
			uint64_t v);
void prs_metric_gauge(struct prs_mbuf *b, const char *name, const char *help,
		      double v);
/* What every presence process exports about itself, proc being
 * "gateway", "registry" or "persister":
 *   presence_<proc>_build_info{version="X.Y.Z"} 1   (PRS_VERSION)
 *   presence_<proc>_start_time_seconds              (UNIX time)
 * started_ms: wall-clock ms of the process's start (prs_now_ms()). */
void prs_metric_process(struct prs_mbuf *b, const char *proc,
			int64_t started_ms);
/* Writes key="value" into out (size n), value escaped as the format
 * wants (\\, \", \n); truncated to fit. Returns out. */
char *prs_metric_label(char *out, size_t n, const char *key,
		       const char *value);

/* A histogram with fixed upper bounds (seconds, ascending; +Inf
 * implied). Observing is O(buckets), writing O(buckets). */
#define PRS_HIST_MAX 16
struct prs_hist {
	const double *bounds;
	size_t nbounds;
	uint64_t counts[PRS_HIST_MAX + 1]; /* per bucket, not cumulative */
	uint64_t count;
	double sum;
};

/* The bounds every presence latency histogram uses: 0.5 ms to 60 s. */
extern const double prs_hist_latency[];
extern const size_t prs_hist_latency_n;

void prs_hist_init(struct prs_hist *h, const double *bounds, size_t n);
void prs_hist_observe(struct prs_hist *h, double v);
/* head, the _bucket series (cumulative, le="+Inf" last), _sum, _count */
void prs_hist_write(struct prs_mbuf *b, const char *name, const char *help,
		    const struct prs_hist *h);

/* ---- the endpoint ---------------------------------------------------- */

struct prs_metrics;

/* Appends the daemon's metrics to b (called once per scrape). */
typedef void (*prs_metrics_fill_cb)(void *arg, struct prs_mbuf *b);

/* Listens on address ("host:port", IPv6 as "[::1]:port"). An empty
 * address turns the endpoint off: *out = NULL and 0. Returns 0, or -1
 * when the address is malformed or cannot be bound (logged). */
int prs_metrics_open(struct prs_metrics **out, struct ev_loop *loop,
		     const char *address, prs_metrics_fill_cb fill, void *arg);
/* Closes the listener and every connection; NULL is a no-op. */
void prs_metrics_close(struct prs_metrics *m);

#endif
