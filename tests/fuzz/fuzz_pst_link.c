/*
 * libFuzzer harness: what the registry sends the persister. Each envelope
 * of the link message (prs_frames_each) goes to pst_reg_recv: WriteBatch
 * contents are validated and turned into statement parameters
 * (pst_batch_params_build) and queued. The persister is opened for real
 * (its inbox on an ipc:// path of its own in /tmp, a peer dialing a
 * registry that does not exist) but its loop never runs, so the database
 * is never contacted; it is reopened (on a new path) every few hundred
 * inputs so that the queue never fills and batches keep reaching the
 * parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "prs_link.h"
#include "prs_util.h"
#include "pst_reg.h"

#define REOPEN_EVERY 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pst_reg *P;
static unsigned runs;
static char url[128];

static void
recv_cb(void *arg, Prs__Envelope *env)
{
	pst_reg_recv(arg, env, 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (P != NULL && ++runs % REOPEN_EVERY == 0) {
		pst_reg_close(P);
		P = NULL;
	}
	if (P == NULL) {
		struct pst_reg_config cfg = {
			.url = url,
			.registry_url = "ipc:///nonexistent/registry.sock",
			.name = "persister",
			.database_url = "host=/nonexistent port=1",
			.retention_days = 0,
		};
		/* A new path each time: the old inbox's sockets close on a
		 * thread of their own (prs_inbox_close), maybe not yet. */
		snprintf(url, sizeof(url),
			 "ipc:///tmp/prs-fuzz-pst-%d-%u.sock", (int) getpid(),
			 runs / REOPEN_EVERY);
		prs_log_setname("fuzz");
		if (pst_reg_open(&P, EV_DEFAULT, &cfg) != 0)
			abort(); /* the harness's setup, not a finding */
	}
	prs_frames_each(data, size, recv_cb, P);
	return 0;
}
