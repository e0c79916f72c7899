/*
 * Configuration shared by the three daemons: one INI-style file format
 * (sections [common], [gateway], [registry], [persister]) where every key
 * can be overridden by a command-line flag of the same name
 * (--offline-grace-ms or --offline_grace_ms). --help prints the table.
 */
#ifndef PRS_CONFIG_H
#define PRS_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum prs_opt_type { PRS_OPT_STR, PRS_OPT_INT, PRS_OPT_BOOL };

struct prs_opt {
	const char *name; /* key, with underscores */
	enum prs_opt_type type;
	void *ptr;        /* char **, int64_t * or bool *; holds the default */
	int64_t min, max; /* bounds for PRS_OPT_INT */
	const char *help;
};

/* Keys every daemon takes besides its own (the [common] section):
 * ipc_group: name of a group whose members may connect to our ipc sockets
 * (sockets become 0660 and owned by that group); empty = only our own uid
 * (sockets 0600). Read by prs_inbox.c. */
extern char *prs_ipc_group;
/* cpu: the one CPU all of the process's threads run on (-1: any); applied
 * by prs_config_parse, before any NNG socket starts NNG's threads. */
extern int64_t prs_cpu;
/* Runs the calling thread (and threads it starts later) on that one CPU;
 * cpu < 0 leaves it. Returns 0, or -1 with a message naming who. */
int prs_cpu_pin(int64_t cpu, const char *who);

/* Reads --config FILE (if given) and then the flags. Returns 0 to run, 1
 * when --help or --version was printed, -1 after printing an error. String
 * values set here are allocated and live for the process. */
int prs_config_parse(const struct prs_opt *opts, size_t nopts,
		     const char *section, const char *prog, const char *about,
		     int argc, char **argv);

#endif
