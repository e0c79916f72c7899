/*
 * Config file and flag parsing. Values are validated here (integers within
 * bounds, booleans spelled true/false) so that daemons can trust them; a
 * bad value stops the process at start with a message naming the key.
 */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include "prs_config.h"
#include "prs_tls.h"
#include "prs_util.h"
#include "prs_version.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *prs_ipc_group = "";
int64_t prs_cpu = -1;

static const struct prs_opt common_opts[] = {
	{"ipc_group", PRS_OPT_STR, &prs_ipc_group, 0, 0,
	 "group whose members may connect to our ipc:// sockets (mode "
	 "0660); empty: only our own user (mode 0600)"},
	{"tls_ca_file", PRS_OPT_STR, &prs_tls_ca_file, 0, 0,
	 "tls+tcp:// links: PEM file of the CA whose certificate every "
	 "peer must present"},
	{"tls_cert_file", PRS_OPT_STR, &prs_tls_cert_file, 0, 0,
	 "tls+tcp:// links: PEM file of this process's certificate"},
	{"tls_key_file", PRS_OPT_STR, &prs_tls_key_file, 0, 0,
	 "tls+tcp:// links: PEM file of this process's private key "
	 "(unencrypted; keep it mode 0600)"},
	{"cpu", PRS_OPT_INT, &prs_cpu, -1, CPU_SETSIZE - 1,
	 "run all of this process's threads on this one CPU (-1: "
	 "wherever the kernel puts them); keeps the hand-offs between "
	 "the loop and NNG's threads on one CPU"},
};

int
prs_cpu_pin(int64_t cpu, const char *who)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET((int) cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		fprintf(stderr, "%s: cpu %lld: %s\n", who, (long long) cpu,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* Before NNG starts its threads: they inherit the main thread's set. */
static int
cpu_apply(const char *prog)
{
	return prs_cpu_pin(prs_cpu, prog);
}

/* Strings we allocated, so that a value set twice (file, then flag) is
 * freed rather than leaked; defaults are static and never freed. */
static char *owned[128];

static void
str_set(char **slot, const char *val)
{
	size_t i;
	char *old = *slot;

	*slot = xstrdup(val);
	for (i = 0; i < PRS_ARRAY_LEN(owned); i++) {
		if (old != NULL && owned[i] == old) {
			free(old);
			owned[i] = *slot;
			return;
		}
	}
	for (i = 0; i < PRS_ARRAY_LEN(owned); i++) {
		if (owned[i] == NULL) {
			owned[i] = *slot;
			return;
		}
	}
}

static const struct prs_opt *
opt_find(const struct prs_opt *opts, size_t n, const char *name, size_t len)
{
	size_t i, k;
	for (i = 0; i < n; i++) {
		const char *o = opts[i].name;
		if (strlen(o) != len)
			continue;
		for (k = 0; k < len; k++) {
			char c = name[k] == '-' ? '_' : name[k];
			if (c != o[k])
				break;
		}
		if (k == len)
			return &opts[i];
	}
	return NULL;
}

static int
opt_set(const struct prs_opt *o, const char *val, const char *where)
{
	char *end;
	long long v;

	switch (o->type) {
	case PRS_OPT_STR:
		str_set(o->ptr, val);
		return 0;
	case PRS_OPT_BOOL:
		if (!strcmp(val, "true") || !strcmp(val, "1") ||
		    !strcmp(val, "yes"))
			*(bool *) o->ptr = true;
		else if (!strcmp(val, "false") || !strcmp(val, "0") ||
			 !strcmp(val, "no"))
			*(bool *) o->ptr = false;
		else
			goto bad;
		return 0;
	case PRS_OPT_INT:
		errno = 0;
		v = strtoll(val, &end, 10);
		if (errno || end == val || *end != '\0' || v < o->min ||
		    v > o->max)
			goto bad;
		*(int64_t *) o->ptr = v;
		return 0;
	}
bad:
	if (o->type == PRS_OPT_INT)
		fprintf(stderr,
			"%s: %s: bad value '%s' (an integer %lld..%lld)\n",
			where, o->name, val, (long long) o->min,
			(long long) o->max);
	else
		fprintf(stderr, "%s: %s: bad value '%s'\n", where, o->name,
			val);
	return -1;
}

static char *
trim(char *s)
{
	char *e;
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
			 e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int
config_file(const struct prs_opt *opts, size_t n, const char *section,
	    const char *path)
{
	char line[4096], where[512];
	char cur[64] = "common";
	FILE *f = fopen(path, "r");
	int lineno = 0, rc = 0;

	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		char *s = trim(line), *eq, *key, *val;
		const struct prs_opt *o;
		lineno++;
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (e == NULL || (size_t) (e - s - 1) >= sizeof(cur)) {
				fprintf(stderr, "%s: bad section\n", where);
				rc = -1;
				break;
			}
			*e = '\0';
			snprintf(cur, sizeof(cur), "%s", s + 1);
			continue;
		}
		eq = strchr(s, '=');
		if (eq == NULL) {
			fprintf(stderr, "%s: expected key = value\n", where);
			rc = -1;
			break;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		if (strcmp(cur, "common") != 0 && strcmp(cur, section) != 0)
			continue;
		o = opt_find(opts, n, key, strlen(key));
		if (o == NULL)
			o = opt_find(common_opts, PRS_ARRAY_LEN(common_opts),
				     key, strlen(key));
		if (o == NULL) {
			if (strcmp(cur, "common") == 0)
				continue; /* for another process */
			fprintf(stderr, "%s: unknown key '%s'\n", where, key);
			rc = -1;
			break;
		}
		rc = opt_set(o, val, where);
	}
	fclose(f);
	return rc;
}

static void
usage_opts(const struct prs_opt *opts, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct prs_opt *o = &opts[i];
		char name[64];
		size_t k;
		snprintf(name, sizeof(name), "%s", o->name);
		for (k = 0; name[k]; k++)
			if (name[k] == '_')
				name[k] = '-';
		switch (o->type) {
		case PRS_OPT_STR: {
			const char *v = *(char **) o->ptr;
			printf("  --%s STR\n\t%s (default: %s)\n", name,
			       o->help, v && *v ? v : "none");
			break;
		}
		case PRS_OPT_INT:
			printf("  --%s N\n\t%s (default: %lld)\n", name,
			       o->help, (long long) *(int64_t *) o->ptr);
			break;
		case PRS_OPT_BOOL:
			printf("  --%s true|false\n\t%s (default: %s)\n", name,
			       o->help, *(bool *) o->ptr ? "true" : "false");
			break;
		}
	}
}

static void
usage(const struct prs_opt *opts, size_t n, const char *section,
      const char *prog, const char *about)
{
	printf("Usage: %s [--config FILE] [--KEY VALUE]...\n%s\n\n", prog,
	       about);
	printf("Every KEY may also be set in the [%s] (or [common]) section "
	       "of the\nconfig file; flags override the file.\n\n",
	       section);
	printf("  --config FILE\n\tread settings from FILE\n");
	usage_opts(opts, n);
	usage_opts(common_opts, PRS_ARRAY_LEN(common_opts));
	printf("  --help\n\tprint this and exit\n");
	printf("  --version\n\tprint the version and exit\n");
}

int
prs_config_parse(const struct prs_opt *opts, size_t n, const char *section,
		 const char *prog, const char *about, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(opts, n, section, prog, about);
			return 1;
		}
		if (!strcmp(argv[i], "--version")) {
			printf("%s %s\n", prog, PRS_VERSION);
			return 1;
		}
	}
	/* The file first, so that flags override it whatever their order. */
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *file = NULL;
		if (!strncmp(a, "--config=", 9))
			file = a + 9;
		else if (!strcmp(a, "--config") && i + 1 < argc)
			file = argv[i + 1];
		else if (!strcmp(a, "--config")) {
			fprintf(stderr, "%s: --config needs a file\n", prog);
			return -1;
		}
		if (file != NULL) {
			if (config_file(opts, n, section, file))
				return -1;
			break;
		}
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *val;
		const struct prs_opt *o;
		size_t len;
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr,
				"%s: unexpected argument '%s' "
				"(see --help)\n",
				prog, a);
			return -1;
		}
		a += 2;
		eq = strchr(a, '=');
		len = eq ? (size_t) (eq - a) : strlen(a);
		if (len == 6 && !strncmp(a, "config", 6)) {
			if (!eq)
				i++;
			continue;
		}
		o = opt_find(opts, n, a, len);
		if (o == NULL)
			o = opt_find(common_opts, PRS_ARRAY_LEN(common_opts),
				     a, len);
		if (o == NULL) {
			fprintf(stderr,
				"%s: unknown option '--%.*s' "
				"(see --help)\n",
				prog, (int) len, a);
			return -1;
		}
		if (eq) {
			val = eq + 1;
		} else if (o->type == PRS_OPT_BOOL &&
			   (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2))) {
			val = "true";
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			fprintf(stderr, "%s: --%s needs a value\n", prog,
				o->name);
			return -1;
		}
		if (opt_set(o, val, prog))
			return -1;
	}
	return cpu_apply(prog);
}
