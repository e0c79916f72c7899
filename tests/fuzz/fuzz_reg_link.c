/*
 * libFuzzer harness: what gateways and the persister send the registry.
 * A struct reg is built fresh for each input with no sockets at all
 * (no inbox, no persister peer, no_peers so a gateway's Hello opens none),
 * and each envelope of the link message (prs_frames_each) goes to
 * reg_link_recv. The first byte's low bit says whether the registry has
 * loaded its state (gateway traffic is handled) or not (LoadChunks are).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "prs_link.h"
#include "prs_util.h"
#include "reg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct reg R;

static void
recv_cb(void *arg, Prs__Envelope *env)
{
	reg_link_recv(arg, env, 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	memset(&R, 0, sizeof(R));
	reg_config_defaults(&R.cfg);
	R.cfg.url = "ipc:///nonexistent/registry.sock";
	R.cfg.persister_url = "ipc:///nonexistent/persister.sock";
	R.cfg.audience = (data[0] & 2) ? "all" : "threads";
	R.loop = EV_DEFAULT;
	R.out = &reg_link_out;
	R.epoch = 0x4e6;
	R.started_ms = prs_now_ms();
	R.no_peers = true;
	R.ready = (data[0] & 1) != 0;
	prs_frames_each(data + 1, size - 1, recv_cb, &R);
	reg_flush_writes(&R); /* builds a batch from what changed */
	reg_link_stop(&R);    /* frees everything; sockets are NULL */
	return 0;
}
