/*
 * libphonebridge — reading what an AT modem says, one line at a time
 * (3GPP TS 27.007, TS 27.005). Pure functions over outside bytes: fuzzed.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "modem-internal.h"

#define MAX_FIELDS 12

typedef struct field {
	const char *p;
	size_t len;
	bool quoted;
} field;

static bool starts(const char *line, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(line, prefix, n) == 0;
}

/* Split the part after "+XXX:" into comma-separated fields; quotes respected. */
static size_t split(const char *line, size_t len, field *f, size_t max)
{
	const char *p = memchr(line, ':', len);
	if (!p)
		return 0;
	const char *end = line + len;
	p++;
	size_t n = 0;
	while (p <= end && n < max) {
		while (p < end && *p == ' ')
			p++;
		field x = { p, 0, false };
		if (p < end && *p == '"') {
			x.quoted = true;
			x.p = ++p;
			while (p < end && *p != '"')
				p++;
			x.len = (size_t)(p - x.p);
			if (p < end)
				p++;
			while (p < end && *p != ',')
				p++;
		} else {
			while (p < end && *p != ',')
				p++;
			x.len = (size_t)(p - x.p);
			while (x.len > 0 && x.p[x.len - 1] == ' ')
				x.len--;
		}
		f[n++] = x;
		if (p >= end)
			break;
		p++; /* the comma */
	}
	return n;
}

/* A decimal field; false when empty or not a number. */
static bool num(const field *f, int *v)
{
	if (f->len == 0 || f->len > 9)
		return false;
	int x = 0;
	for (size_t i = 0; i < f->len; i++) {
		if (f->p[i] < '0' || f->p[i] > '9')
			return false;
		x = x * 10 + (f->p[i] - '0');
	}
	*v = x;
	return true;
}

static void copy(char *dst, size_t size, const field *f)
{
	size_t n = PB_MIN(f->len, size - 1);
	memcpy(dst, f->p, n);
	dst[n] = '\0';
}

static const char *const urc_prefixes[] = {
	"+CMTI:", "+CMT:", "+CDS:", "+CDSI:", "+CBM:", "+CUSD:", "RING", "+CRING:", "+CLIP:", "+CCWA:",
	"+CREG:", "+CGREG:", "+CEREG:", "+CIEV:", "^", "RDY", "+PBREADY", "+CPIN:", "+QIND:", "NO CARRIER",
};

int pb_modem__at_classify(const char *line, size_t len, int *code)
{
	*code = -1;
	if (len == 2 && memcmp(line, "OK", 2) == 0)
		return PB_AT_LINE_OK;
	if ((len == 1 && line[0] == '>') || (len >= 2 && line[0] == '>' && line[1] == ' '))
		return PB_AT_LINE_PROMPT;
	if ((len == 5 && memcmp(line, "ERROR", 5) == 0) || (len == 4 && memcmp(line, "BUSY", 4) == 0) ||
	    (len == 9 && memcmp(line, "NO ANSWER", 9) == 0) || (len == 11 && memcmp(line, "NO DIALTONE", 11) == 0) ||
	    (len == 19 && memcmp(line, "COMMAND NOT SUPPORT", 19) == 0))
		return PB_AT_LINE_ERROR;
	if (starts(line, len, "+CMS ERROR:") || starts(line, len, "+CME ERROR:")) {
		field f[1];
		int v;
		if (split(line, len, f, 1) == 1 && num(&f[0], &v))
			*code = v;
		return PB_AT_LINE_ERROR;
	}
	for (size_t i = 0; i < PB_ARRAY_SIZE(urc_prefixes); i++)
		if (starts(line, len, urc_prefixes[i]))
			return PB_AT_LINE_UNSOLICITED;
	return PB_AT_LINE_DATA;
}

bool pb_modem__at_unsolicited_has_pdu(const char *line, size_t len)
{
	return starts(line, len, "+CMT:") || starts(line, len, "+CDS:") || starts(line, len, "+CBM:");
}

int pb_modem__at_parse_cmti(const char *line, size_t len, char mem[8], int *index)
{
	field f[MAX_FIELDS];
	if (!starts(line, len, "+CMTI:") && !starts(line, len, "+CDSI:"))
		return PB_EMALFORMED;
	size_t n = split(line, len, f, MAX_FIELDS);
	if (n < 2 || !num(&f[1], index))
		return pb_error_set(PB_EMALFORMED, "bad new-message indication: %.*s", (int)PB_MIN(len, 80), line);
	copy(mem, 8, &f[0]);
	return 0;
}

int pb_modem__at_parse_cmgl(const char *line, size_t len, int *index, int *stat, int *pdu_len)
{
	field f[MAX_FIELDS];
	size_t n = split(line, len, f, MAX_FIELDS);
	*index = -1;
	if (starts(line, len, "+CMGL:")) {
		/* +CMGL: <index>,<stat>,[<alpha>],<length> */
		if (n < 4 || !num(&f[0], index) || !num(&f[1], stat) || !num(&f[n - 1], pdu_len))
			goto bad;
	} else if (starts(line, len, "+CMGR:")) {
		/* +CMGR: <stat>,[<alpha>],<length> */
		if (n < 3 || !num(&f[0], stat) || !num(&f[n - 1], pdu_len))
			goto bad;
	} else if (starts(line, len, "+CMT:") || starts(line, len, "+CDS:")) {
		/* +CMT: [<alpha>],<length> / +CDS: <length> */
		*stat = 0;
		if (n < 1 || !num(&f[n - 1], pdu_len))
			goto bad;
	} else {
		goto bad;
	}
	if (*stat > 3 || *pdu_len > 255)
		goto bad;
	return 0;
bad:
	return pb_error_set(PB_EMALFORMED, "bad message header line: %.*s", (int)PB_MIN(len, 80), line);
}

int pb_modem__at_parse_csq(const char *line, size_t len, int *dbm, int *percent)
{
	field f[MAX_FIELDS];
	int rssi;
	*dbm = PB_MODEM_SIGNAL_UNKNOWN;
	*percent = -1;
	if (!starts(line, len, "+CSQ:") || split(line, len, f, MAX_FIELDS) < 1 || !num(&f[0], &rssi))
		return pb_error_set(PB_EMALFORMED, "bad +CSQ line: %.*s", (int)PB_MIN(len, 80), line);
	if (rssi <= 31) { /* TS 27.007 §8.5: 0 is -113 dBm or less, 31 is -51 dBm or more */
		*dbm = -113 + 2 * rssi;
		*percent = rssi * 100 / 31;
	}
	return 0;
}

int pb_modem__at_parse_cops(const char *line, size_t len, char *name, size_t name_size, int *act)
{
	field f[MAX_FIELDS];
	if (!starts(line, len, "+COPS:"))
		return pb_error_set(PB_EMALFORMED, "bad +COPS line: %.*s", (int)PB_MIN(len, 80), line);
	size_t n = split(line, len, f, MAX_FIELDS);
	name[0] = '\0';
	*act = -1;
	if (n >= 3)
		copy(name, name_size, &f[2]);
	if (n >= 4 && !num(&f[3], act))
		*act = -1;
	return 0;
}

int pb_modem__at_parse_creg(const char *line, size_t len, int *stat)
{
	field f[MAX_FIELDS];
	if (!starts(line, len, "+CREG:") && !starts(line, len, "+CGREG:") && !starts(line, len, "+CEREG:"))
		return pb_error_set(PB_EMALFORMED, "bad +CREG line: %.*s", (int)PB_MIN(len, 80), line);
	size_t n = split(line, len, f, MAX_FIELDS);
	/* answer to AT+CREG? is "<n>,<stat>[,...]"; the unsolicited form "<stat>[,"lac",...]" */
	const field *s = n >= 2 && !f[1].quoted ? &f[1] : &f[0];
	if (n < 1 || !num(s, stat) || *stat > 10)
		return pb_error_set(PB_EMALFORMED, "bad +CREG line: %.*s", (int)PB_MIN(len, 80), line);
	return 0;
}

int pb_modem__at_parse_cpin(const char *line, size_t len)
{
	if (!starts(line, len, "+CPIN:"))
		return PB_MODEM_SIM_UNKNOWN;
	const char *v = line + 6;
	size_t vl = len - 6;
	while (vl > 0 && *v == ' ') {
		v++;
		vl--;
	}
	if (vl == 5 && memcmp(v, "READY", 5) == 0)
		return PB_MODEM_SIM_READY;
	if (vl == 7 && memcmp(v, "SIM PIN", 7) == 0)
		return PB_MODEM_SIM_PIN;
	if (vl == 7 && memcmp(v, "SIM PUK", 7) == 0)
		return PB_MODEM_SIM_PUK;
	return PB_MODEM_SIM_ERROR;
}

int pb_modem__at_parse_ccfc(const char *line, size_t len, int *active, int *cls, char *number, size_t number_size,
			    int *time_s)
{
	field f[MAX_FIELDS];
	size_t n = split(line, len, f, MAX_FIELDS);
	number[0] = '\0';
	*time_s = -1;
	/* +CCFC: <status>,<class>[,<number>,<type>[,<subaddr>,<satype>[,<time>]]] */
	if (!starts(line, len, "+CCFC:") || n < 2 || !num(&f[0], active) || !num(&f[1], cls) || *active > 1)
		return pb_error_set(PB_EMALFORMED, "bad +CCFC line: %.*s", (int)PB_MIN(len, 80), line);
	if (n >= 3)
		copy(number, number_size, &f[2]);
	if (n >= 7 && !num(&f[6], time_s))
		*time_s = -1;
	return 0;
}

int pb_modem__at_parse_cusd(const char *line, size_t len, int *m, pb_buf *text, int *dcs)
{
	field f[MAX_FIELDS];
	size_t n = split(line, len, f, MAX_FIELDS);
	*dcs = -1;
	if (!starts(line, len, "+CUSD:") || n < 1 || !num(&f[0], m))
		return pb_error_set(PB_EMALFORMED, "bad +CUSD line: %.*s", (int)PB_MIN(len, 80), line);
	if (n >= 2 && pb_buf_put(text, f[1].p, f[1].len) < 0)
		return PB_ENOMEM;
	if (n >= 3 && !num(&f[2], dcs))
		*dcs = -1;
	return 0;
}

int pb_modem__at_parse_cmgs(const char *line, size_t len, int *mr)
{
	field f[MAX_FIELDS];
	if (!starts(line, len, "+CMGS:") || split(line, len, f, MAX_FIELDS) < 1 || !num(&f[0], mr))
		return pb_error_set(PB_EMALFORMED, "bad +CMGS line: %.*s", (int)PB_MIN(len, 80), line);
	return 0;
}

/* TS 27.005 §3.2.5 (+CMS ERROR) and TS 27.007 §9.2 (+CME ERROR) codes we act on. */
static const struct {
	bool cms;
	int code;
	int pb;
	const char *text;
} at_errors[] = {
	{ true, 300, PB_EIO, "ME failure" },
	{ true, 302, PB_EUNSUPPORTED, "operation not allowed" },
	{ true, 303, PB_EUNSUPPORTED, "operation not supported" },
	{ true, 304, PB_EINVAL, "invalid PDU mode parameter" },
	{ true, 310, PB_ESTATE, "SIM not inserted" },
	{ true, 311, PB_EAUTH, "SIM PIN required" },
	{ true, 313, PB_EIO, "SIM failure" },
	{ true, 314, PB_EBUSY, "SIM busy" },
	{ true, 321, PB_ENOTFOUND, "invalid memory index" },
	{ true, 322, PB_ETOOBIG, "memory full" },
	{ true, 330, PB_EPROTO, "SMSC address unknown" },
	{ true, 331, PB_EAGAIN, "no network service" },
	{ true, 332, PB_ETIMEOUT, "network timeout" },
	{ true, 500, PB_EPROTO, "unknown error" },
	{ false, 3, PB_EUNSUPPORTED, "operation not allowed" },
	{ false, 4, PB_EUNSUPPORTED, "operation not supported" },
	{ false, 10, PB_ESTATE, "SIM not inserted" },
	{ false, 11, PB_EAUTH, "SIM PIN required" },
	{ false, 12, PB_EAUTH, "SIM PUK required" },
	{ false, 13, PB_EIO, "SIM failure" },
	{ false, 14, PB_EBUSY, "SIM busy" },
	{ false, 16, PB_EAUTH, "incorrect password" },
	{ false, 20, PB_ETOOBIG, "memory full" },
	{ false, 21, PB_ENOTFOUND, "invalid index" },
	{ false, 22, PB_ENOTFOUND, "not found" },
	{ false, 30, PB_EAGAIN, "no network service" },
	{ false, 31, PB_ETIMEOUT, "network timeout" },
	{ false, 100, PB_EPROTO, "unknown" },
};

int pb_modem__at_error(const char *cmd, const char *line, int code, bool cms)
{
	for (size_t i = 0; i < PB_ARRAY_SIZE(at_errors); i++)
		if (at_errors[i].cms == cms && at_errors[i].code == code)
			return pb_error_set(at_errors[i].pb, "%s: %s (%s)", cmd, line, at_errors[i].text);
	return pb_error_set(PB_EPROTO, "%s: %s", cmd, line);
}
