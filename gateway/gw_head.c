/*
 * The request-head check in front of http-parser. http-parser 2.9.4 as
 * Debian ships it is not built with HTTP_PARSER_STRICT, and so it takes
 * "Name :" (it still matched "Content-Length :" as the body length),
 * bare CR or LF as line ends, obs-fold continuation lines, and tabs or
 * form feeds in the request target. Each of those lets two parsers in a
 * chain frame the same bytes differently (request smuggling), which is
 * why RFC 9112 tells a server to refuse them with 400 rather than guess.
 *
 * The check is a byte-at-a-time state machine over the head only: it
 * keeps no copy of the bytes (a header name is remembered only while it
 * could still be Content-Length or Transfer-Encoding), so every size cap
 * stays where it was, in the parser callbacks. It stops at the empty line
 * that ends the head, so the caller feeds the parser exactly the bytes
 * judged so far: the two always agree on where the head ends, and a body
 * is never mistaken for a head. It decides only what the parser would
 * otherwise accept or frame differently; the grammar of methods, versions
 * and the rest stays the parser's.
 */
#include "gw_head.h"

#include <string.h>

enum {
	S_START,         /* before the request line (empty lines allowed) */
	S_START_CR,      /* CR of an empty line before the request line */
	S_METHOD,        /* in the method */
	S_TARGET_START,  /* first byte of the request target */
	S_TARGET,        /* in the request target */
	S_VERSION_START, /* first byte of the version */
	S_VERSION,       /* in the version */
	S_LINE_CR,       /* CR that ends a line: LF must follow */
	S_LINE_START,    /* start of a field line, or of the empty line */
	S_NAME,          /* in a field name */
	S_VALUE,         /* in a field value */
	S_END_CR,        /* CR of the empty line that ends the head */
	S_BODY,          /* head done: the parser frames the rest */
	S_ERROR,
};

enum {
	CL_NONE,   /* not in a Content-Length value */
	CL_LEAD,   /* before its digits */
	CL_DIGITS, /* in them */
	CL_TRAIL,  /* after them */
};

/* RFC 9110 §5.6.2 tchar. */
static bool
head_tchar(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9'))
		return true;
	return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Whitespace or a control byte: never in a request target. */
static bool
head_ws_or_ctl(unsigned char ch)
{
	return ch <= 0x20 || ch == 0x7f;
}

static void
head_name_push(struct gw_head *s, unsigned char ch)
{
	if (s->name_len < GW_HEAD_NAME_MAX) {
		s->name[s->name_len++] =
			(char) (ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	} else {
		s->name_len = GW_HEAD_NAME_MAX + 1;
	}
}

static bool
head_name_is(const struct gw_head *s, const char *name)
{
	size_t n = strlen(name);

	return s->name_len == n && memcmp(s->name, name, n) == 0;
}

/* The colon after a field name: the message framing headers may each
 * appear once, and not together (RFC 9112 §6.3). Returns 0 or -1. */
static int
head_name_end(struct gw_head *s)
{
	if (head_name_is(s, "content-length")) {
		if (s->seen_cl) {
			s->err = "duplicate Content-Length";
			return -1;
		}
		s->seen_cl = true;
		s->cl_state = CL_LEAD;
	} else if (head_name_is(s, "transfer-encoding")) {
		s->seen_te = true;
	} else {
		return 0;
	}
	if (s->seen_cl && s->seen_te) {
		s->err = "Content-Length with Transfer-Encoding";
		return -1;
	}
	return 0;
}

/* One byte of a field value: visible characters, SP, HTAB and obs-text;
 * a Content-Length is one run of digits (a list, even of equal values,
 * is refused). Returns 0 or -1. */
static int
head_value_byte(struct gw_head *s, unsigned char ch)
{
	if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
		s->err = "control byte in a header value";
		return -1;
	}
	switch (s->cl_state) {
	case CL_LEAD:
	case CL_DIGITS:
		if (ch >= '0' && ch <= '9') {
			s->cl_state = CL_DIGITS;
			return 0;
		}
		if (ch == ' ' || ch == '\t') {
			if (s->cl_state == CL_DIGITS)
				s->cl_state = CL_TRAIL;
			return 0;
		}
		break;
	case CL_TRAIL:
		if (ch == ' ' || ch == '\t')
			return 0;
		break;
	default:
		return 0;
	}
	s->err = "invalid Content-Length";
	return -1;
}

/* The next state after ch in state st, or S_ERROR with s->err set. */
static uint8_t
head_step(struct gw_head *s, uint8_t st, unsigned char ch)
{
	if (ch == '\n' && st != S_START_CR && st != S_LINE_CR &&
	    st != S_END_CR) {
		s->err = "bare LF in the request head";
		return S_ERROR;
	}
	switch (st) {
	case S_START:
		if (ch == '\r')
			return S_START_CR;
		if (head_tchar(ch))
			return S_METHOD;
		break;
	case S_METHOD:
		if (ch == ' ')
			return S_TARGET_START;
		if (head_tchar(ch))
			return S_METHOD;
		break;
	case S_TARGET_START:
	case S_TARGET:
		if (ch == ' ' && st == S_TARGET)
			return S_VERSION_START;
		if (ch == '\r' && st == S_TARGET)
			break; /* no version: HTTP/0.9 */
		if (head_ws_or_ctl(ch)) {
			s->err = "whitespace or control byte in the request "
				 "target";
			return S_ERROR;
		}
		return S_TARGET;
	case S_VERSION_START:
	case S_VERSION:
		if (ch == '\r' && st == S_VERSION)
			return S_LINE_CR;
		if (ch > 0x20 && ch < 0x7f)
			return S_VERSION;
		break;
	case S_START_CR:
	case S_LINE_CR:
	case S_END_CR:
		if (ch != '\n') {
			s->err = "bare CR in the request head";
			return S_ERROR;
		}
		if (st == S_START_CR)
			return S_START;
		return st == S_LINE_CR ? S_LINE_START : S_BODY;
	case S_LINE_START:
		if (ch == '\r')
			return S_END_CR;
		if (ch == ' ' || ch == '\t') {
			s->err = "obsolete line folding";
			return S_ERROR;
		}
		if (ch == ':') {
			s->err = "empty header name";
			return S_ERROR;
		}
		s->name_len = 0;
		/* fall through */
	case S_NAME:
		if (head_tchar(ch)) {
			head_name_push(s, ch);
			return S_NAME;
		}
		if (ch == ':' && st == S_NAME)
			return head_name_end(s) == 0 ? S_VALUE : S_ERROR;
		if (ch == ' ' || ch == '\t')
			s->err = "whitespace in or after a header name";
		else if (ch == '\r')
			s->err = "header line without a colon";
		else
			s->err = "invalid character in a header name";
		return S_ERROR;
	case S_VALUE:
		if (ch == '\r') {
			if (s->cl_state == CL_LEAD) {
				s->err = "invalid Content-Length";
				return S_ERROR;
			}
			s->cl_state = CL_NONE;
			return S_LINE_CR;
		}
		return head_value_byte(s, ch) == 0 ? S_VALUE : S_ERROR;
	default:
		break;
	}
	s->err = "malformed request line";
	return S_ERROR;
}

void
gw_head_reset(struct gw_head *s)
{
	memset(s, 0, sizeof(*s));
	s->state = S_START;
}

size_t
gw_head_scan(struct gw_head *s, const char *data, size_t len)
{
	size_t i;

	if (s->state == S_BODY)
		return len;
	for (i = 0; i < len && s->state != S_ERROR; i++) {
		uint8_t next = head_step(s, s->state, (unsigned char) data[i]);
		if (next == S_ERROR) {
			s->state = S_ERROR;
			return i;
		}
		s->state = next;
		if (next == S_BODY)
			return i + 1;
	}
	return i;
}

bool
gw_head_done(const struct gw_head *s)
{
	return s->state == S_BODY;
}
