/*
 * libphonebridge — modem backend for AT-command modems on a serial line
 * (USB sticks in modem mode, M.2/mini-PCIe modules): TS 27.005 PDU mode.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One command at a time; unsolicited result codes (+CMTI, +CMT, +CDS,
 * +CUSD, ...) may arrive between and inside responses and are set aside.
 * When the line fails (unplugged, reset, a modem that stops answering) the
 * device is closed and reopened with backoff on the next call.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <termios.h>
#include <unistd.h>

#include "modem-internal.h"

#define DOMAIN "at"
#define RX_MAX 65536
#define SEND_TIMEOUT_MS 60000 /* default for pb_modem_options.send_timeout_ms */
#define NETWORK_TIMEOUT_MS 30000
#define BACKOFF_MAX_MS 30000

typedef struct at {
	char *device;
	speed_t speed;
	int fd;
	int timeout_ms;
	int send_timeout_ms;      /* for the answer to a PDU (AT+CMGS) */
	char storage[8];
	pb_buf rx;
	pb_buf line;
	pb_modem_msg_list pushed; /* +CMT/+CDS messages, until wait() hands them over */
	bool inbox_changed;       /* a +CMTI/+CDSI came */
	bool cnmi;                /* the modem agreed to tell about new messages */
	int64_t next_open;
	int backoff;
	bool ussd_ready;
	int ussd_m, ussd_dcs;
	pb_buf ussd;
	bool payload_sent;        /* cmd_raw() wrote the payload and its Ctrl-Z */
} at;

static speed_t baud_speed(int baud)
{
	switch (baud) {
	case 9600: return B9600;
	case 19200: return B19200;
	case 38400: return B38400;
	case 57600: return B57600;
	case 230400: return B230400;
	case 460800: return B460800;
	case 921600: return B921600;
	default: return B115200;
	}
}

static void close_fd(at *a)
{
	if (a->fd >= 0) {
		close(a->fd);
		a->fd = -1;
	}
	pb_buf_clear(&a->rx);
}

static int open_fd(at *a)
{
	int fd = open(a->device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return pb_error_set(errno == ENOENT ? PB_ENOTFOUND : PB_EIO, "%s: %s", a->device, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
		close(fd);
		return pb_error_set(PB_EBUSY, "%s: in use by another program (ModemManager?)", a->device);
	}
	struct termios t;
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		cfsetispeed(&t, a->speed);
		cfsetospeed(&t, a->speed);
		t.c_cflag |= CLOCAL | CREAD;
		t.c_cflag &= ~(tcflag_t)CRTSCTS;
		t.c_cc[VMIN] = 0;
		t.c_cc[VTIME] = 0;
		if (tcsetattr(fd, TCSANOW, &t) < 0) {
			int e = errno;
			close(fd);
			return pb_error_set(PB_EIO, "%s: cannot set line mode: %s", a->device, strerror(e));
		}
		tcflush(fd, TCIOFLUSH);
	}
	a->fd = fd;
	pb_buf_clear(&a->rx);
	return 0;
}

/* Write everything (the line is non-blocking), waiting for room until @deadline. */
static int write_all(at *a, const void *data, size_t len, int64_t deadline)
{
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t n = write(a->fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return pb_error_set(PB_EIO, "%s: write: %s", a->device, strerror(errno));
		int64_t left = deadline - pb_modem__now_ms();
		if (left <= 0)
			return pb_error_set(PB_ETIMEOUT, "%s: the line does not take more bytes", a->device);
		struct pollfd pf = { a->fd, POLLOUT, 0 };
		poll(&pf, 1, (int)PB_MIN(left, 1000));
	}
	return 0;
}

/* Read what is there, waiting up to @timeout_ms. @return 1 read, 0 nothing, or PB_EIO. */
static int fill(at *a, int timeout_ms)
{
	struct pollfd p = { a->fd, POLLIN, 0 };
	int r = poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : pb_error_set(PB_EIO, "%s: poll: %s", a->device, strerror(errno));
	if (r == 0)
		return 0;
	if (!(p.revents & POLLIN))
		return pb_error_set(PB_EIO, "%s: the modem went away (unplugged or reset)", a->device);
	uint8_t buf[1024];
	ssize_t n = read(a->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return pb_error_set(PB_EIO, "%s: the modem went away (%s)", a->device, n < 0 ? strerror(errno) : "end of file");
	if (a->rx.len + (size_t)n > RX_MAX)
		pb_buf_clear(&a->rx); /* a line this long is noise */
	return pb_buf_put(&a->rx, buf, (size_t)n) < 0 ? PB_ENOMEM : 1;
}

static void consume(at *a, size_t n)
{
	memmove(a->rx.data, a->rx.data + n, a->rx.len - n);
	pb_buf_truncate(&a->rx, a->rx.len - n);
}

/*
 * The next non-empty line into a->line (PB_AT_LINE_PROMPT is reported as
 * the line ">" when @prompt is set and "> " waits without a line end).
 */
static int next_line(at *a, int64_t deadline, bool prompt)
{
	for (;;) {
		size_t skip = 0;
		while (skip < a->rx.len && (a->rx.data[skip] == '\r' || a->rx.data[skip] == '\n'))
			skip++;
		if (skip)
			consume(a, skip);
		if (prompt && a->rx.len >= 1 && a->rx.data[0] == '>' &&
		    (a->rx.len == 1 || a->rx.data[1] == ' ')) {
			consume(a, a->rx.len >= 2 ? 2 : 1);
			pb_buf_clear(&a->line);
			return pb_buf_puts(&a->line, ">");
		}
		for (size_t i = 0; i < a->rx.len; i++) {
			if (a->rx.data[i] == '\r' || a->rx.data[i] == '\n') {
				pb_buf_clear(&a->line);
				if (pb_buf_put(&a->line, a->rx.data, i) < 0)
					return PB_ENOMEM;
				consume(a, i + 1);
				return 0;
			}
		}
		int64_t left = deadline - pb_modem__now_ms();
		if (left <= 0)
			return PB_ETIMEOUT;
		int rc = fill(a, (int)PB_MIN(left, 1000));
		if (rc < 0)
			return rc;
	}
}

static bool line_starts(const pb_buf *l, const char *prefix)
{
	size_t n = strlen(prefix);
	return l->len >= n && memcmp(l->data, prefix, n) == 0;
}

/* --- messages from PDUs ---------------------------------------------------- */

static int add_garbled(pb_modem_msg_list *out, const char *id, const void *raw, size_t len, int fmt, const char *why)
{
	pb_modem_msg m = { .id = (char *)id, .type = PB_MODEM_MSG_GARBLED, .state = PB_MODEM_STATE_UNKNOWN,
			   .box_type = -1, .raw = (uint8_t *)raw, .raw_len = len, .raw_format = fmt,
			   .error = (char *)why };
	return pb_modem_msg_list_add(out, &m);
}

/* One stored or pushed PDU (hex as the modem printed it) as a record. */
static int add_pdu(pb_modem_msg_list *out, const char *id, int stat, const char *hex, size_t hexlen)
{
	pb_buf pdu = PB_BUF_INIT;
	pb_parse_error perr = PB_PARSE_ERROR_INIT;
	int rc = pb_hex_decode(&pdu, hex, hexlen, &perr);
	if (rc == PB_ENOMEM) {
		pb_buf_dispose(&pdu);
		return rc;
	}
	if (rc < 0) {
		pb_buf_dispose(&pdu);
		char why[200];
		snprintf(why, sizeof(why), "PDU line is not hex (offset %zu)", perr.offset);
		return add_garbled(out, id, hex, hexlen, PB_MODEM_RAW_ENTRY, why);
	}
	pb_sms_message *s = pb_malloc(sizeof(*s));
	if (!s) {
		pb_buf_dispose(&pdu);
		return PB_ENOMEM;
	}
	if ((rc = pb_sms_decode(s, pdu.data, pdu.len, PB_SMS_DECODE_SMSC, &perr)) < 0) {
		if (rc == PB_ENOMEM)
			goto out;
		char why[200];
		snprintf(why, sizeof(why), "undecodable PDU at offset %zu: %s", perr.offset, perr.text);
		rc = add_garbled(out, id, pdu.data, pdu.len, PB_MODEM_RAW_PDU, why);
		goto out;
	}
	char time[40] = "";
	pb_sms_time_iso8601(s->type == PB_SMS_STATUS_REPORT ? &s->discharge : &s->scts, time, sizeof(time));
	pb_modem_msg m = { .id = (char *)id, .box_type = stat, .number = s->address.number, .text = s->text,
			   .time = time[0] ? time : NULL, .raw = pdu.data, .raw_len = pdu.len,
			   .raw_format = PB_MODEM_RAW_PDU };
	m.state = stat == 0 ? PB_MODEM_STATE_UNREAD : stat == 1 ? PB_MODEM_STATE_READ
		: stat == 2 ? PB_MODEM_STATE_UNSENT : PB_MODEM_STATE_SENT;
	if (s->type == PB_SMS_STATUS_REPORT) {
		m.type = PB_MODEM_MSG_REPORT;
		m.text = (char *)pb_sms_status_text(s->status);
		m.error = pb_sms_status_delivered(s->status) ? NULL : (char *)pb_sms_status_text(s->status);
	} else if (s->type == PB_SMS_DELIVER && pb_sms_is_wap_push(s)) {
		m.type = PB_MODEM_MSG_MMS;
		m.text = NULL;
	} else if (s->type == PB_SMS_DELIVER || s->type == PB_SMS_SUBMIT) {
		m.type = s->dcs.encoding == PB_SMS_ENC_8BIT && !s->text_len ? PB_MODEM_MSG_PDU : PB_MODEM_MSG_TEXT;
	} else {
		m.type = PB_MODEM_MSG_UNKNOWN;
		m.error = "not a message a phone receives";
	}
	rc = pb_modem_msg_list_add(out, &m);
out:
	pb_free(s);
	pb_buf_dispose(&pdu);
	return rc;
}

/* --- unsolicited result codes ---------------------------------------------- */

static void urc(at *a, int64_t deadline)
{
	const char *l = (const char *)a->line.data;
	size_t len = a->line.len;
	if (line_starts(&a->line, "+CMTI:") || line_starts(&a->line, "+CDSI:")) {
		char mem[8];
		int idx;
		if (pb_modem__at_parse_cmti(l, len, mem, &idx) == 0)
			pb_log_debug(DOMAIN, "new message in %s at %d", mem, idx);
		a->inbox_changed = true;
		return;
	}
	if (pb_modem__at_unsolicited_has_pdu(l, len)) {
		bool report = line_starts(&a->line, "+CDS:");
		int idx, stat, plen;
		pb_buf header = PB_BUF_INIT;
		int rc = pb_buf_put(&header, l, len);
		if (rc == 0 && pb_modem__at_parse_cmgl(l, len, &idx, &stat, &plen) < 0)
			rc = add_garbled(&a->pushed, NULL, l, len, PB_MODEM_RAW_ENTRY, "bad +CMT/+CDS header");
		else if (rc == 0 && next_line(a, PB_MIN(deadline, pb_modem__now_ms() + 5000), false) == 0)
			rc = add_pdu(&a->pushed, NULL, 0, (const char *)a->line.data, a->line.len);
		else if (rc == 0)
			rc = add_garbled(&a->pushed, NULL, header.data, header.len, PB_MODEM_RAW_ENTRY,
					 "+CMT/+CDS without its PDU line");
		if (rc < 0)
			pb_log_error(DOMAIN, "a pushed %s was lost: %s", report ? "report" : "message",
				     pb_error_last()->message);
		pb_buf_dispose(&header);
		return;
	}
	if (line_starts(&a->line, "+CUSD:")) {
		pb_buf_clear(&a->ussd);
		if (pb_modem__at_parse_cusd(l, len, &a->ussd_m, &a->ussd, &a->ussd_dcs) == 0)
			a->ussd_ready = true;
		return;
	}
	pb_log_debug(DOMAIN, "unsolicited: %.*s", (int)PB_MIN(len, 120), l);
}

/* --- commands ---------------------------------------------------------------- */

/*
 * Run @command; data lines (and lines starting with @expect, which would
 * otherwise look unsolicited) go to @out joined by '\n'. With @payload, the
 * "> " prompt is answered with it and Ctrl-Z.
 */
static int cmd_raw(at *a, const char *command, int timeout_ms, const char *expect, const char *payload, pb_buf *out)
{
	if (a->fd < 0)
		return pb_error_set(PB_EIO, "%s: not open", a->device);
	pb_buf w = PB_BUF_INIT;
	if (pb_buf_printf(&w, "%s\r", command) < 0)
		return PB_ENOMEM;
	pb_log_debug(DOMAIN, "> %s", command);
	int64_t deadline = pb_modem__now_ms() + timeout_ms;
	int wrc = write_all(a, w.data, w.len, deadline);
	pb_buf_dispose(&w);
	if (wrc < 0)
		return wrc;
	bool sent = payload == NULL;
	for (;;) {
		int rc = next_line(a, deadline, !sent);
		if (rc == PB_ETIMEOUT)
			return pb_error_set(PB_ETIMEOUT, "%s: the modem did not answer within %d ms", command, timeout_ms);
		if (rc < 0)
			return rc;
		const char *l = (const char *)a->line.data;
		size_t len = a->line.len;
		pb_log_debug(DOMAIN, "< %.*s", (int)PB_MIN(len, 200), l);
		if (!sent && len == 1 && l[0] == '>') {
			pb_buf p = PB_BUF_INIT;
			if (pb_buf_printf(&p, "%s\x1a", payload) < 0)
				return PB_ENOMEM;
			wrc = write_all(a, p.data, p.len, deadline);
			pb_buf_dispose(&p);
			if (wrc < 0)
				return wrc;
			sent = true;
			a->payload_sent = true;
			continue;
		}
		if (len == strlen(command) && memcmp(l, command, len) == 0)
			continue; /* echo */
		int code;
		int kind = expect && line_starts(&a->line, expect) ? PB_AT_LINE_DATA : pb_modem__at_classify(l, len, &code);
		switch (kind) {
		case PB_AT_LINE_OK:
			return 0;
		case PB_AT_LINE_ERROR:
			return pb_modem__at_error(command, pb_buf_cstr(&a->line), code, line_starts(&a->line, "+CMS"));
		case PB_AT_LINE_UNSOLICITED:
			urc(a, deadline);
			continue;
		case PB_AT_LINE_PROMPT:
			continue;
		default:
			if (out && (pb_buf_put(out, l, len) < 0 || pb_buf_putc(out, '\n') < 0))
				return PB_ENOMEM;
		}
	}
}

/*
 * Bring a modem left inside the "> " prompt of AT+CMGS (the program was
 * killed between the command and the PDU, or a send timed out) back to
 * command mode: ESC cancels the message being entered (TS 27.005 §3.5.1),
 * and a modem not in the prompt ignores it (it is no "AT" command line,
 * V.250 §5.2.1). Whatever the modem says in answer, or still had to say, is
 * read and dropped until the line is quiet, so that the next command's
 * answer is its own.
 */
static void resync(at *a)
{
	static const uint8_t esc = 0x1B;
	int64_t start = pb_modem__now_ms();
	if (write_all(a, &esc, 1, start + 1000) < 0)
		return;
	int64_t quiet_since = pb_modem__now_ms();
	while (pb_modem__now_ms() - quiet_since < 300 && pb_modem__now_ms() - start < 3000) {
		int r = fill(a, 100);
		if (r < 0)
			break;
		if (r > 0)
			quiet_since = pb_modem__now_ms();
	}
	pb_buf_clear(&a->rx);
}

static int init_modem(at *a)
{
	int rc = PB_ETIMEOUT;
	resync(a);
	/* a modem just plugged in or reset may need a moment */
	for (int i = 0; i < 3 && rc < 0; i++)
		rc = cmd_raw(a, "AT", 2000, NULL, NULL, NULL);
	if (rc < 0)
		return rc;
	cmd_raw(a, "ATE0", a->timeout_ms, NULL, NULL, NULL);
	cmd_raw(a, "AT+CMEE=1", a->timeout_ms, NULL, NULL, NULL);
	if ((rc = cmd_raw(a, "AT+CMGF=0", a->timeout_ms, NULL, NULL, NULL)) < 0)
		return pb_error_set(rc, "%s: no PDU mode: %s", a->device, pb_error_last()->message);
	char cpms[64];
	snprintf(cpms, sizeof(cpms), "AT+CPMS=\"%s\",\"%s\",\"%s\"", a->storage, a->storage, a->storage);
	if (cmd_raw(a, cpms, a->timeout_ms, "+CPMS:", NULL, NULL) < 0)
		pb_log_warning(DOMAIN, "%s: %s; using the modem's storage", a->device, pb_error_last()->message);
	static const char *const cnmi[] = { "AT+CNMI=2,1,2,1,0", "AT+CNMI=2,1,0,1,0", "AT+CNMI=2,1,0,0,0",
					    "AT+CNMI=1,1,0,0,0" };
	a->cnmi = false;
	for (size_t i = 0; i < PB_ARRAY_SIZE(cnmi) && !a->cnmi; i++)
		a->cnmi = cmd_raw(a, cnmi[i], a->timeout_ms, NULL, NULL, NULL) == 0;
	if (!a->cnmi)
		pb_log_notice(DOMAIN, "%s: no new-message indications (+CNMI refused); polling", a->device);
	pb_error_clear();
	return 0;
}

/* Open (again) when the line failed; with backoff between attempts. */
static int ensure_open(at *a)
{
	if (a->fd >= 0)
		return 0;
	int64_t now = pb_modem__now_ms();
	if (now < a->next_open)
		return pb_error_set(PB_EIO, "%s: modem not answering; next try in %d ms", a->device,
				    (int)(a->next_open - now));
	int rc = open_fd(a);
	if (rc == 0 && (rc = init_modem(a)) < 0)
		close_fd(a);
	if (rc < 0) {
		a->backoff = a->backoff ? PB_MIN(a->backoff * 2, BACKOFF_MAX_MS) : 1000;
		a->next_open = pb_modem__now_ms() + a->backoff;
		return rc;
	}
	if (a->backoff)
		pb_log_notice(DOMAIN, "%s: modem answers again", a->device);
	a->backoff = 0;
	return 0;
}

/* A command on a working line; a line that fails is closed for reopening. */
static int cmd(at *a, const char *command, int timeout_ms, const char *expect, const char *payload, pb_buf *out)
{
	int rc = ensure_open(a);
	if (rc < 0)
		return rc;
	rc = cmd_raw(a, command, timeout_ms, expect, payload, out);
	if (rc == PB_EIO || rc == PB_ETIMEOUT) {
		pb_log_warning(DOMAIN, "%s", pb_error_last()->message);
		if (payload && rc == PB_ETIMEOUT) {
			/* it may still sit in the prompt: never leave it there */
			char why[256];
			pb_strlcpy(why, pb_error_last()->message, sizeof(why));
			resync(a);
			pb_error_set(rc, "%s", why);
		}
		close_fd(a);
		a->next_open = 0;
	}
	return rc;
}

/* --- ops ------------------------------------------------------------------------ */

static void at_close(void *state)
{
	at *a = state;
	if (!a)
		return;
	close_fd(a);
	pb_buf_dispose(&a->rx);
	pb_buf_dispose(&a->line);
	pb_buf_dispose(&a->ussd);
	pb_modem_msg_list_dispose(&a->pushed);
	pb_free(a->device);
	pb_free(a);
}

static int at_open(void **state, const pb_modem_options *opts, const pb_modem_secrets *sec)
{
	*state = NULL;
	if (!opts->device)
		return pb_error_set(PB_EINVAL, "at: a device path is required (e.g. /dev/ttyUSB2)");
	const char *storage = opts->storage ? opts->storage : "ME";
	if (strlen(storage) != 2 || strspn(storage, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 2)
		return pb_error_set(PB_EINVAL, "at: storage \"%s\" is not a two-letter memory name", storage);
	at *a = pb_calloc(1, sizeof(*a));
	if (!a)
		return PB_ENOMEM;
	a->fd = -1;
	a->speed = baud_speed(opts->baud);
	a->timeout_ms = opts->timeout_ms ? (int)opts->timeout_ms : 10000;
	a->send_timeout_ms = opts->send_timeout_ms ? (int)opts->send_timeout_ms : SEND_TIMEOUT_MS;
	pb_strlcpy(a->storage, storage, sizeof(a->storage));
	if (!(a->device = pb_strdup(opts->device))) {
		pb_free(a);
		return PB_ENOMEM;
	}
	int rc = open_fd(a);
	if (rc == 0 && (rc = init_modem(a)) < 0)
		close_fd(a);
	if (rc < 0) {
		at_close(a);
		return rc;
	}
	*state = a;
	return 0;
}

/* Header + PDU line pairs of +CMGL/+CMGR answers as records. */
int pb_modem__at_parse_listing(const char *text, int box, const char *read_id, pb_modem_msg_list *out)
{
	const char *p = text;
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		const char *next = p + len + (e ? 1 : 0);
		int idx, stat, plen, rc;
		if (pb_modem__at_parse_cmgl(p, len, &idx, &stat, &plen) < 0) {
			/* a line we cannot place: report it, go on with the next */
			rc = add_garbled(out, read_id, p, len, PB_MODEM_RAW_ENTRY, "unexpected line in the message listing");
			if (rc < 0)
				return rc;
			p = next;
			continue;
		}
		char id[16];
		if (read_id)
			pb_strlcpy(id, read_id, sizeof(id));
		else
			snprintf(id, sizeof(id), "%d", idx);
		const char *pe = strchr(next, '\n');
		size_t pl = pe ? (size_t)(pe - next) : strlen(next);
		bool want = box == 0 || (box == PB_MODEM_BOX_INBOX ? stat <= 1 : stat >= 2);
		if (!*next || pb_modem__at_classify(next, pl, &rc) != PB_AT_LINE_DATA || next[0] == '+') {
			rc = want ? add_garbled(out, id, p, len, PB_MODEM_RAW_ENTRY, "entry without its PDU line") : 0;
			p = next;
		} else {
			rc = want ? add_pdu(out, id, stat, next, pl) : 0;
			p = next + pl + (pe ? 1 : 0);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int at_list(void *state, int box, pb_modem_msg_list *out)
{
	at *a = state;
	pb_buf text = PB_BUF_INIT;
	/* 4 = all; reading marks unread messages read on most modems */
	int rc = cmd(a, "AT+CMGL=4", a->timeout_ms * 3, "+CMGL:", NULL, &text);
	if (rc == 0)
		rc = pb_modem__at_parse_listing(pb_buf_cstr(&text), box, NULL, out);
	pb_buf_dispose(&text);
	return rc;
}

static bool valid_index(const char *id)
{
	size_t n = strlen(id);
	return n > 0 && n <= 5 && strspn(id, "0123456789") == n;
}

static int at_read(void *state, const char *id, pb_modem_msg *out)
{
	at *a = state;
	if (!valid_index(id))
		return pb_error_set(PB_EINVAL, "at: message id \"%s\" is not a storage index", id);
	char c[32];
	snprintf(c, sizeof(c), "AT+CMGR=%s", id);
	pb_buf text = PB_BUF_INIT;
	pb_modem_msg_list l = PB_MODEM_MSG_LIST_INIT;
	int rc = cmd(a, c, a->timeout_ms, "+CMGR:", NULL, &text);
	if (rc == 0)
		rc = pb_modem__at_parse_listing(pb_buf_cstr(&text), 0, id, &l);
	if (rc == 0 && l.count == 0)
		rc = pb_error_set(PB_ENOTFOUND, "%s: no message at index %s", c, id);
	if (rc == 0) {
		*out = l.items[0];
		l.items[0] = l.items[--l.count];
	}
	pb_modem_msg_list_dispose(&l);
	pb_buf_dispose(&text);
	return rc;
}

static int at_remove(void *state, const char *id)
{
	if (!valid_index(id))
		return pb_error_set(PB_EINVAL, "at: message id \"%s\" is not a storage index", id);
	char c[32];
	snprintf(c, sizeof(c), "AT+CMGD=%s", id);
	return cmd(state, c, ((at *)state)->timeout_ms, NULL, NULL, NULL);
}

static int at_mark_read(void *state, const char *id)
{
	pb_modem_msg m;
	int rc = at_read(state, id, &m); /* in PDU mode, reading is what marks it read */
	pb_modem_msg_dispose(&m);
	return rc;
}

/*
 * What a failed AT+CMGS left behind (pb_modem_send_fate()): before the PDU
 * and its Ctrl-Z were written nothing can have gone out, whatever the
 * modem said (PB_EAGAIN, or PB_EIO for a line that failed); after, only a
 * +CMS ERROR proves the network refused it, anything else (no answer, the
 * line gone) is a lost answer: PB_ETIMEOUT.
 */
static int send_outcome(at *a, const char *c, int rc)
{
	if (rc >= 0 || rc == PB_ENOMEM)
		return rc;
	if (!a->payload_sent)
		return pb_error_set(rc == PB_EIO || rc == PB_ENOTFOUND || rc == PB_EBUSY ? rc : PB_EAGAIN,
				    "%s: nothing was sent: %s", c, pb_error_last()->message);
	if (rc == PB_EPROTO || pb_modem_send_fate(rc) == PB_MODEM_SEND_REFUSED)
		return rc;
	return pb_error_set(PB_ETIMEOUT, "%s: no answer after the PDU, it may have gone out: %s", c,
			    pb_error_last()->message);
}

static int submit(at *a, const uint8_t *pdu, size_t len, size_t tpdu_len, int *ref)
{
	pb_buf hex = PB_BUF_INIT, resp = PB_BUF_INIT;
	char c[32];
	int rc = pb_hex_encode(&hex, pdu, len, PB_HEX_UPPER);
	if (rc < 0)
		return rc;
	snprintf(c, sizeof(c), "AT+CMGS=%zu", tpdu_len);
	a->payload_sent = false;
	rc = cmd(a, c, a->send_timeout_ms, "+CMGS:", pb_buf_cstr(&hex), &resp);
	rc = send_outcome(a, c, rc);
	if (rc == 0) {
		int mr;
		const char *r = strstr(pb_buf_cstr(&resp), "+CMGS:");
		*ref = r && pb_modem__at_parse_cmgs(r, strcspn(r, "\n"), &mr) == 0 ? mr : -1;
		pb_error_clear();
	}
	pb_buf_dispose(&hex);
	pb_buf_dispose(&resp);
	return rc;
}

static int at_send_pdu(void *state, const uint8_t *tpdu, size_t len, int *ref)
{
	uint8_t pdu[PB_SMS_PDU_MAX + 1];
	if (len + 1 > sizeof(pdu))
		return pb_error_set(PB_ETOOBIG, "at: TPDU of %zu bytes is too long", len);
	pdu[0] = 0; /* SMSC length 0: the one the modem has configured */
	memcpy(pdu + 1, tpdu, len);
	return submit(state, pdu, len + 1, len, ref);
}

static int at_send_text(void *state, const char *number, const char *text, unsigned flags, int *ref)
{
	at *a = state;
	pb_sms_submit_options o = PB_SMS_SUBMIT_OPTIONS_INIT;
	o.include_smsc = true;
	o.status_report = (flags & PB_MODEM_SEND_REPORT) != 0;
	pb_sms_pdu *pdus = NULL;
	size_t n = 0;
	int rc = pb_sms_encode_text(&pdus, &n, number, text, strlen(text), &o);
	if (rc < 0)
		return rc;
	if (n > 1)
		cmd(a, "AT+CMMS=2", a->timeout_ms, NULL, NULL, NULL); /* keep the link up between parts */
	size_t i = 0;
	for (; i < n && rc == 0; i++)
		rc = submit(a, pdus[i].data, pdus[i].len, pdus[i].tpdu_len, ref);
	if (rc < 0 && i > 1) {
		/* the first parts went out: as a whole, the message is not "not sent" */
		pb_log_warning(DOMAIN, "sending to %s stopped after some parts: %s", number, pb_error_last()->message);
		if (pb_modem_send_fate(rc) != PB_MODEM_SEND_UNCERTAIN)
			rc = pb_error_set(PB_ETIMEOUT, "part %zu of %zu: %s (the parts before it went out)", i, n,
					  pb_error_last()->message);
	}
	pb_free(pdus);
	return rc;
}

static const char *act_name(int act)
{
	switch (act) {
	case 0: case 1: case 3: return "GSM";
	case 2: case 4: case 5: case 6: return "UMTS";
	case 7: case 9: return "LTE";
	case 10: case 11: case 12: case 13: return "NR";
	default: return "";
	}
}

static const char *first_line(const pb_buf *b, size_t *len)
{
	const char *s = pb_buf_cstr(b);
	*len = strcspn(s, "\n");
	return s;
}

static int at_status(void *state, pb_modem_status *st)
{
	at *a = state;
	pb_buf r = PB_BUF_INIT;
	size_t len;
	const char *l;
	int rc;
	cmd(a, "AT+COPS=3,0", a->timeout_ms, NULL, NULL, NULL); /* long alphanumeric names */
	if ((rc = cmd(a, "AT+COPS?", a->timeout_ms, "+COPS:", NULL, &r)) < 0)
		goto out;
	int act;
	l = first_line(&r, &len);
	if (pb_modem__at_parse_cops(l, len, st->operator_name, sizeof(st->operator_name), &act) == 0)
		pb_strlcpy(st->network_type, act_name(act), sizeof(st->network_type));
	pb_buf_clear(&r);
	if (cmd(a, "AT+CREG?", a->timeout_ms, "+CREG:", NULL, &r) == 0) {
		int s;
		l = first_line(&r, &len);
		if (pb_modem__at_parse_creg(l, len, &s) == 0 && s <= 5)
			st->registration = s;
	}
	pb_buf_clear(&r);
	if ((rc = cmd(a, "AT+CSQ", a->timeout_ms, "+CSQ:", NULL, &r)) < 0)
		goto out;
	l = first_line(&r, &len);
	pb_modem__at_parse_csq(l, len, &st->signal_dbm, &st->signal_percent);
	pb_buf_clear(&r);
	rc = cmd(a, "AT+CPIN?", a->timeout_ms, "+CPIN:", NULL, &r);
	if (rc == 0) {
		l = first_line(&r, &len);
		st->sim = pb_modem__at_parse_cpin(l, len);
	} else if (rc == PB_ESTATE) {
		st->sim = PB_MODEM_SIM_ABSENT;
	} else if (rc == PB_EAUTH) {
		st->sim = PB_MODEM_SIM_PIN;
	}
	rc = rc == PB_EIO || rc == PB_ETIMEOUT ? rc : 0;
out:
	if (rc == 0)
		pb_error_clear();
	pb_buf_dispose(&r);
	return rc;
}

static int at_wait(void *state, unsigned timeout_ms, pb_modem_msg_list *pushed)
{
	at *a = state;
	int rc = ensure_open(a);
	if (rc < 0)
		return rc;
	int64_t deadline = pb_modem__now_ms() + timeout_ms;
	while (!a->inbox_changed && a->pushed.count == 0) {
		rc = next_line(a, deadline, false);
		if (rc == PB_ETIMEOUT)
			break;
		if (rc < 0) {
			close_fd(a);
			a->next_open = 0;
			return rc;
		}
		int code;
		if (pb_modem__at_classify((const char *)a->line.data, a->line.len, &code) == PB_AT_LINE_UNSOLICITED)
			urc(a, deadline + 5000);
		else
			pb_log_debug(DOMAIN, "stray line: %s", pb_buf_cstr(&a->line));
	}
	for (size_t i = 0; i < a->pushed.count; i++)
		if ((rc = pb_modem_msg_list_add(pushed, &a->pushed.items[i])) < 0)
			break;
	pb_modem_msg_list_dispose(&a->pushed);
	bool changed = a->inbox_changed;
	a->inbox_changed = false;
	return rc < 0 ? rc : changed;
}

static int at_forward_query(void *state, pb_modem_fwd_reason reason, pb_modem_forward *out)
{
	at *a = state;
	char c[32];
	snprintf(c, sizeof(c), "AT+CCFC=%d,2", (int)reason);
	pb_buf r = PB_BUF_INIT;
	int rc = cmd(a, c, NETWORK_TIMEOUT_MS, "+CCFC:", NULL, &r);
	for (const char *p = pb_buf_cstr(&r); rc == 0 && *p;) {
		size_t len = strcspn(p, "\n");
		int active, cls, t;
		char number[64];
		/* class 1 is voice; a rule for all classes (7) covers it too */
		if (pb_modem__at_parse_ccfc(p, len, &active, &cls, number, sizeof(number), &t) == 0 && (cls & 1)) {
			out->active = active == 1;
			pb_strlcpy(out->number, number, sizeof(out->number));
			out->no_reply_s = t;
		}
		p += len + (p[len] == '\n');
	}
	pb_buf_dispose(&r);
	return rc;
}

static int at_forward_set(void *state, pb_modem_fwd_reason reason, const char *number, int no_reply_s)
{
	at *a = state;
	char c[128];
	if (!number)
		snprintf(c, sizeof(c), "AT+CCFC=%d,4", (int)reason); /* erasure */
	else if (reason == PB_MODEM_FWD_NO_REPLY && no_reply_s > 0)
		snprintf(c, sizeof(c), "AT+CCFC=%d,3,\"%s\",%d,1,,,%d", (int)reason, number, number[0] == '+' ? 145 : 129,
			 PB_MAX(5, PB_MIN(no_reply_s, 30)));
	else
		snprintf(c, sizeof(c), "AT+CCFC=%d,3,\"%s\",%d,1", (int)reason, number, number[0] == '+' ? 145 : 129);
	return cmd(a, c, NETWORK_TIMEOUT_MS, NULL, NULL, NULL);
}

static int at_ussd(void *state, const char *code, char **reply)
{
	at *a = state;
	char c[200];
	snprintf(c, sizeof(c), "AT+CUSD=1,\"%s\",15", code);
	a->ussd_ready = false;
	int rc = cmd(a, c, NETWORK_TIMEOUT_MS, NULL, NULL, NULL);
	if (rc < 0)
		return rc;
	int64_t deadline = pb_modem__now_ms() + NETWORK_TIMEOUT_MS;
	while (!a->ussd_ready) {
		rc = next_line(a, deadline, false);
		if (rc == PB_ETIMEOUT)
			return pb_error_set(PB_ETIMEOUT, "USSD %s: no answer from the network", code);
		if (rc < 0)
			return rc;
		int k;
		if (pb_modem__at_classify((const char *)a->line.data, a->line.len, &k) == PB_AT_LINE_UNSOLICITED)
			urc(a, deadline);
	}
	if (a->ussd_m == 4)
		return pb_error_set(PB_EUNSUPPORTED, "USSD %s: not supported by the network", code);
	if (a->ussd_m == 5)
		return pb_error_set(PB_ETIMEOUT, "USSD %s: the network timed out", code);
	pb_buf text = PB_BUF_INIT;
	const char *t = pb_buf_cstr(&a->ussd);
	size_t tl = a->ussd.len;
	/* UCS-2 answers (DCS 0x48 / group 01xx with UCS-2) come as hex */
	bool ucs2 = a->ussd_dcs >= 0 && ((a->ussd_dcs & 0xCC) == 0x48 || (a->ussd_dcs & 0xFC) == 0x08 ||
					  a->ussd_dcs == 72);
	pb_buf bytes = PB_BUF_INIT;
	if (ucs2 && tl % 4 == 0 && pb_hex_decode(&bytes, t, tl, NULL) == 0)
		rc = pb_charset_to_utf8(&text, "UTF-16BE", bytes.data, bytes.len);
	else
		rc = pb_utf8_sanitize(&text, t, tl);
	pb_buf_dispose(&bytes);
	if (rc == 0 && pb_buf_put(&text, "", 0) == 0)
		*reply = (char *)pb_buf_detach(&text, NULL);
	pb_buf_dispose(&text);
	return *reply ? 0 : PB_ENOMEM;
}

const pb_modem_backend_ops pb_modem__at_ops = {
	.version = PB_MODEM_BACKEND_OPS_VERSION,
	.name = "at",
	.open = at_open,
	.close = at_close,
	.status = at_status,
	.list = at_list,
	.read = at_read,
	.remove = at_remove,
	.mark_read = at_mark_read,
	.send_text = at_send_text,
	.send_pdu = at_send_pdu,
	.wait = at_wait,
	.forward_query = at_forward_query,
	.forward_set = at_forward_set,
	.ussd = at_ussd,
};
