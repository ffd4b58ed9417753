/*
 * pb-matrix — talk to a Matrix homeserver with libphonebridge: who am I,
 * send a text or a file, create a direct room, sync. Prints JSON.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * usage: see pb-matrix(1) or `pb-matrix --help`.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>
#include <phonebridge/phonebridge.h>
#include <sysexits.h>

static const char usage[] =
	"usage: pb-matrix [--homeserver URL] (--token-file F | --user U --password-file F|-)\n"
	"                 [--insecure] [--verbose] COMMAND\n"
	"commands:\n"
	"  login [--save-token FILE] [--device-id ID]   (with --user and --password-file)\n"
	"  logout                                       (ends the session of the token)\n"
	"  whoami\n"
	"  send ROOM TEXT [--html HTML] [--notice] [--txn ID]\n"
	"  send-file ROOM FILE|- [--mime TYPE] [--name NAME] [--txn ID]\n"
	"                     (\"-\": standard input; --name: the file name shown, default \"stdin\")\n"
	"  create-dm USER [--name NAME]\n"
	"  sync [--once] [--since TOKEN] [--timeout MS]\n"
	"Without --homeserver, --user must be a full user id (@name:server): the\n"
	"homeserver is discovered through the server's .well-known.\n";

static struct {
	const char *homeserver, *token_file, *user, *password_file;
	const char *html, *txn, *mime, *name, *since, *save_token, *device_id;
	int insecure, verbose, notice, once;
	long timeout;
} opt = { .timeout = 30000 };

static int fail(const char *what)
{
	fprintf(stderr, "pb-matrix: %s: %s\n", what, pb_error_last()->message);
	return 1;
}

/* The password: pb_secret_read() of --password-file, or with "-" one line
 * of standard input, read a byte at a time so that what follows the line
 * stays there for the next reader (a script's next "read"); at a terminal
 * it is asked for without echo. New: pb_secret_free(). */
static int read_password(char **out)
{
	*out = NULL;
	if (strcmp(opt.password_file, "-") != 0) {
		if (pb_secret_read(opt.password_file, out) < 0)
			return fail("password");
		return 0;
	}
	struct termios saved;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (tty) {
		struct termios quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		fprintf(stderr, "Password of %s: ", opt.user);
		fflush(stderr);
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	char *pw = pb_malloc(PB_SECRET_MAX + 1);
	size_t n = 0;
	bool line_end = false, too_long = false;
	int err = 0;
	while (pw && !line_end) {
		char c;
		ssize_t r = read(STDIN_FILENO, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? errno : 0;
			break;
		}
		if (c == '\n')
			line_end = true;
		else if (n < PB_SECRET_MAX)
			pw[n++] = c;
		else
			too_long = true;
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fputc('\n', stderr);
	}
	if (!pw) {
		fputs("pb-matrix: password: out of memory\n", stderr);
		return 1;
	}
	if (n > 0 && pw[n - 1] == '\r')
		n--;
	pw[n] = '\0';
	const char *why = err ? strerror(err) : too_long ? "longer than a secret may be"
		: n == 0 ? "no password on standard input" : memchr(pw, '\0', n) ? "a NUL byte in it" : NULL;
	if (why) {
		fprintf(stderr, "pb-matrix: password: %s\n", why);
		pb_secret_free(pw);
		return 1;
	}
	*out = pw;
	return 0;
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (s) {
		puts(s);
		free(s);
	}
	fflush(stdout);
	json_decref(j);
}

static void on_log(int level, const char *domain, const char *msg, void *ud)
{
	fprintf(stderr, "pb-matrix: %s: %s: %s\n", pb_log_level_name(level), domain, msg);
}

/* Read the device id saved beside a token file (FILE.device), if any.
 * @return 0 (*out set, or NULL when there is none) or 1 (said why) */
static int saved_device(const char *token_file, char **out)
{
	char path[PATH_MAX];
	*out = NULL;
	if (snprintf(path, sizeof(path), "%s.device", token_file) >= (int)sizeof(path)) {
		fprintf(stderr, "pb-matrix: %s: name too long\n", token_file);
		return 1;
	}
	struct stat sb;
	if (lstat(path, &sb) != 0 && errno == ENOENT)
		return 0;
	if (pb_secret_read(path, out) < 0)
		return fail(path);
	return 0;
}

/* Write @text to @path, mode 0600, never through a link: a new file beside
 * it (mkstemp: 0600, O_EXCL), synced, then renamed over @path (rename
 * replaces a symbolic link itself, never what it points to). */
static int write_private(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
		fprintf(stderr, "pb-matrix: %s: name too long\n", path);
		return 1;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "pb-matrix: %s: cannot create a file beside it: %s\n", path, strerror(errno));
		return 1;
	}
	size_t len = strlen(text), done = 0;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	int bad = done != len || fchmod(fd, 0600) != 0 || fsync(fd) != 0;
	bad |= close(fd) != 0;
	if (bad || rename(tmp, path) != 0) {
		fprintf(stderr, "pb-matrix: %s: %s\n", path, strerror(errno ? errno : EIO));
		unlink(tmp);
		return 1;
	}
	return 0;
}

/* login: a password login (reusing the device saved beside --save-token),
 * then the token and the device id saved for later runs. */
static int cmd_login(pb_matrix *m)
{
	char *password = NULL, *device = NULL;
	if (opt.user == NULL || opt.password_file == NULL || opt.token_file != NULL) {
		fprintf(stderr, "pb-matrix: login needs --user and --password-file (and no --token-file)\n");
		return EX_USAGE;
	}
	int rc = 0;
	if (opt.device_id == NULL && opt.save_token != NULL)
		rc = saved_device(opt.save_token, &device);
	if (rc == 0)
		rc = read_password(&password);
	if (rc == 0) {
		const char *dev = opt.device_id ? opt.device_id : device;
		int lr = pb_matrix_login_password(m, opt.user, password, dev);
		memset(password, 0, strlen(password));
		if (lr < 0)
			rc = fail("login");
	}
	if (rc == 0 && opt.save_token) {
		char path[PATH_MAX];
		char line[512];
		snprintf(path, sizeof(path), "%s.device", opt.save_token);
		snprintf(line, sizeof(line), "%s\n", pb_matrix_device_id(m) ? pb_matrix_device_id(m) : "");
		rc = write_private(opt.save_token, pb_matrix_access_token(m));
		if (rc == 0)
			rc = write_private(path, line);
	}
	if (rc == 0)
		print_json(json_pack("{s:s, s:s?, s:s, s:s?}", "user_id", pb_matrix_user_id(m), "device_id",
				     pb_matrix_device_id(m), "homeserver", pb_matrix_homeserver(m), "token_file",
				     opt.save_token));
	pb_secret_free(password);
	pb_secret_free(device);
	return rc;
}

static int cmd_logout(pb_matrix *m)
{
	if (pb_matrix_whoami(m, NULL) < 0)
		return fail("whoami");
	json_t *j = json_pack("{s:s, s:s?}", "logged_out", pb_matrix_user_id(m), "device_id", pb_matrix_device_id(m));
	if (pb_matrix_logout(m) < 0) {
		json_decref(j);
		return fail("logout");
	}
	print_json(j);
	return 0;
}

static int connect_client(pb_matrix **out, bool login)
{
	pb_matrix_options o = PB_MATRIX_OPTIONS_INIT;
	o.homeserver = opt.homeserver;
	o.access_token_file = opt.token_file;
	o.tls_insecure = opt.insecure;
	o.discovery_insecure_http = opt.insecure;
	o.user_agent = "pb-matrix/" PB_VERSION_STRING;
	if (pb_matrix_new(out, &o) < 0)
		return fail("setup");
	pb_matrix *m = *out;
	if (opt.homeserver == NULL) {
		if (opt.user == NULL || opt.user[0] != '@') {
			fprintf(stderr, "pb-matrix: give --homeserver, or --user as @name:server\n");
			return EX_USAGE;
		}
		if (pb_matrix_discover(m, opt.user) < 0)
			return fail("discovery");
	}
	if (login)
		return 0;
	if (opt.token_file == NULL) {
		char *password;
		if (opt.user == NULL || opt.password_file == NULL) {
			fprintf(stderr, "pb-matrix: give --token-file, or --user and --password-file\n");
			return EX_USAGE;
		}
		if (read_password(&password) != 0)
			return 1;
		int rc = pb_matrix_login_password(m, opt.user, password, NULL);
		pb_secret_free(password);
		if (rc < 0)
			return fail("login");
	}
	return 0;
}

static int cmd_whoami(pb_matrix *m)
{
	if (pb_matrix_whoami(m, NULL) < 0)
		return fail("whoami");
	json_t *j = json_pack("{s:s, s:s?, s:s}", "user_id", pb_matrix_user_id(m), "device_id",
			      pb_matrix_device_id(m), "homeserver", pb_matrix_homeserver(m));
	print_json(j);
	return 0;
}

static const char *txn_or_new(char *buf, size_t size)
{
	if (opt.txn)
		return opt.txn;
	pb_matrix_txn_id(buf, size);
	return buf;
}

static int print_sent(const char *room, const char *txn, char *event_id)
{
	print_json(json_pack("{s:s, s:s, s:s}", "room_id", room, "txn_id", txn, "event_id", event_id));
	pb_free(event_id);
	return 0;
}

static int cmd_send(pb_matrix *m, const char *room, const char *text)
{
	char buf[PB_MATRIX_TXN_ID_SIZE], *event_id;
	const char *txn = txn_or_new(buf, sizeof(buf));
	if (pb_matrix_send_message(m, room, txn, opt.notice ? "m.notice" : "m.text", text, opt.html,
				   &event_id) < 0)
		return fail("send");
	return print_sent(room, txn, event_id);
}

/* The largest file send-file takes from standard input (the library's
 * own cap for a file it reads) */
#define STDIN_FILE_MAX ((size_t)512 * 1024 * 1024)

/* "send-file ROOM -": standard input uploaded and sent as pb_matrix_send_file()
 * sends a file: the type probed from the bytes (PNG, GIF, JPEG, with their
 * size), else --mime, else application/octet-stream. */
static int send_stdin(pb_matrix *m, const char *room, const char *txn, char **event_id)
{
	pb_buf data = PB_BUF_INIT;
	uint8_t chunk[65536];
	size_t n;
	int rc = 0;
	while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		rc = data.len + n > STDIN_FILE_MAX ? pb_error_set(PB_ETOOBIG, "standard input: larger than %zu bytes",
								 STDIN_FILE_MAX)
						   : pb_buf_put(&data, chunk, n);
	if (rc == 0 && ferror(stdin))
		rc = pb_error_set(PB_EIO, "standard input: read error");
	const char *name = opt.name ? opt.name : "stdin";
	pb_matrix_media media = { .body = name, .filename = name, .size = data.len };
	const char *probed = NULL;
	if (rc == 0 && pb_matrix_image_info(data.data, data.len, &media.width, &media.height, &probed) < 0) {
		media.width = media.height = 0;
		probed = NULL;
		pb_error_clear();
	}
	media.mimetype = opt.mime ? opt.mime : probed ? probed : "application/octet-stream";
	if (probed == NULL || strncmp(media.mimetype, "image/", 6) != 0)
		media.width = media.height = 0;
	char *mxc = NULL;
	if (rc == 0)
		rc = pb_matrix_upload(m, data.data ? data.data : (const uint8_t *)"", data.len, media.mimetype, name,
				      &mxc);
	media.url = mxc;
	if (rc == 0)
		rc = pb_matrix_send_media(m, room, txn, &media, event_id);
	pb_free(mxc);
	pb_buf_dispose(&data);
	return rc;
}

static int cmd_send_file(pb_matrix *m, const char *room, const char *path)
{
	char buf[PB_MATRIX_TXN_ID_SIZE], *event_id = NULL;
	const char *txn = txn_or_new(buf, sizeof(buf));
	int rc = strcmp(path, "-") == 0 ? send_stdin(m, room, txn, &event_id)
					: pb_matrix_send_file(m, room, txn, path, opt.mime, &event_id);
	if (rc < 0)
		return fail("send-file");
	return print_sent(room, txn, event_id);
}

static int cmd_create_dm(pb_matrix *m, const char *user)
{
	char *room;
	if (pb_matrix_create_dm(m, user, opt.name, &room) < 0)
		return fail("create-dm");
	print_json(json_pack("{s:s, s:s}", "room_id", room, "user_id", user));
	pb_free(room);
	return 0;
}

static const char *const sections[] = { "timeline", "state", "invite", "leave" };

static int on_event(const pb_matrix_event *ev, void *ud)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s*, s:I, s:O}", "section",
			      sections[ev->section], "room_id", ev->room_id, "type", ev->type, "sender",
			      ev->sender, "event_id", ev->event_id, "state_key", ev->state_key,
			      "origin_server_ts", (json_int_t)ev->origin_server_ts, "content", ev->content);
	print_json(j);
	return 0;
}

static int on_invite(const char *room, const char *inviter, void *ud)
{
	print_json(json_pack("{s:s, s:s?}", "invite", room, "inviter", inviter));
	return 0;
}

static int on_leave(const char *room, void *ud)
{
	print_json(json_pack("{s:s}", "leave", room));
	return 0;
}

static int on_next(const char *nb, void *ud)
{
	print_json(json_pack("{s:s}", "next_batch", nb));
	return 0;
}

/* SIGINT/SIGTERM stop a running sync loop cleanly: a thread waits for them
 * and calls pb_matrix_cancel(), which is not async-signal-safe. */
static void *signal_thread(void *arg)
{
	sigset_t set;
	int sig;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigwait(&set, &sig) == 0)
		pb_matrix_cancel(arg);
	return NULL;
}

static int cmd_sync(pb_matrix *m)
{
	pb_matrix_sync_callbacks cb = { on_event, on_invite, on_leave, on_next, NULL };
	pb_matrix_sync_options o = PB_MATRIX_SYNC_OPTIONS_INIT;
	o.since = opt.since;
	o.timeout_ms = opt.once && opt.since == NULL ? 0 : opt.timeout;
	if (opt.once)
		return pb_matrix_sync(m, &o, &cb, NULL) < 0 ? fail("sync") : 0;
	pthread_t t;
	if (pthread_create(&t, NULL, signal_thread, m) != 0) {
		fprintf(stderr, "pb-matrix: cannot start the signal thread\n");
		return 1;
	}
	pthread_detach(t);
	int rc = pb_matrix_sync_loop(m, &o, &cb);
	return rc == PB_ECANCELLED ? 0 : fail("sync");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "homeserver", required_argument, NULL, 'H' },
		{ "token-file", required_argument, NULL, 't' },
		{ "user", required_argument, NULL, 'u' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "html", required_argument, NULL, 'h' + 256 },
		{ "notice", no_argument, NULL, 'n' },
		{ "txn", required_argument, NULL, 'x' },
		{ "mime", required_argument, NULL, 'm' },
		{ "name", required_argument, NULL, 'N' },
		{ "once", no_argument, NULL, '1' },
		{ "since", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "save-token", required_argument, NULL, 'S' },
		{ "device-id", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, '?' + 256 },
		{ "version", no_argument, NULL, 'V' + 256 },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	opterr = 0; /* our own message, then the usage (exit 64, sysexits) */
	/* '+' is not used: options may follow the command's arguments */
	while ((c = getopt_long(argc, argv, ":H:t:u:p:kvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': opt.homeserver = optarg; break;
		case 't': opt.token_file = optarg; break;
		case 'u': opt.user = optarg; break;
		case 'p': opt.password_file = optarg; break;
		case 'k': opt.insecure = 1; break;
		case 'v': opt.verbose = 1; break;
		case 'h' + 256: opt.html = optarg; break;
		case 'n': opt.notice = 1; break;
		case 'x': opt.txn = optarg; break;
		case 'm': opt.mime = optarg; break;
		case 'N': opt.name = optarg; break;
		case '1': opt.once = 1; break;
		case 's': opt.since = optarg; break;
		case 'T': opt.timeout = strtol(optarg, NULL, 10); break;
		case 'S': opt.save_token = optarg; break;
		case 'D': opt.device_id = optarg; break;
		case 'h':
		case '?' + 256: fputs(usage, stdout); return 0;
		case 'V' + 256: printf("pb-matrix (libphonebridge) %s\n", pb_version_string()); return 0;
		case ':':
			fprintf(stderr, "pb-matrix: %s needs a value\n", argv[optind - 1]);
			fputs(usage, stderr);
			return EX_USAGE;
		default:
			fprintf(stderr, "pb-matrix: unknown option %s\n", argv[optind - 1]);
			fputs(usage, stderr);
			return EX_USAGE;
		}
	}
	if (optind >= argc) {
		fputs("pb-matrix: a command is needed\n", stderr);
		fputs(usage, stderr);
		return EX_USAGE;
	}
	const char *cmd = argv[optind];
	int nargs = argc - optind - 1;
	char **args = argv + optind + 1;
	struct {
		const char *name;
		int nargs;
	} const cmds[] = { { "login", 0 }, { "logout", 0 }, { "whoami", 0 }, { "send", 2 }, { "send-file", 2 }, { "create-dm", 1 }, { "sync", 0 } };
	size_t i;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmd, cmds[i].name) == 0)
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0]) || nargs != cmds[i].nargs) {
		fprintf(stderr, "pb-matrix: %s \"%s\"\n", i == sizeof(cmds) / sizeof(cmds[0]) ? "unknown command"
				: "wrong number of arguments for", cmd);
		fputs(usage, stderr);
		return EX_USAGE;
	}
	if (opt.verbose) {
		pb_log_set_callback(on_log, NULL);
		pb_log_set_level(PB_LOG_DEBUG);
	}
	/* block the stop signals before any thread starts: signal_thread takes them */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (opt.password_file && strcmp(opt.password_file, "-") == 0 && strcmp(cmd, "send-file") == 0 &&
	    strcmp(args[1], "-") == 0) {
		fputs("pb-matrix: standard input is the file to send: give the password in a file\n", stderr);
		return EX_USAGE;
	}
	pb_matrix *m = NULL;
	bool login = strcmp(cmd, "login") == 0;
	int rc = connect_client(&m, login);
	if (rc == 0) {
		if (login)
			rc = cmd_login(m);
		else if (strcmp(cmd, "logout") == 0)
			rc = cmd_logout(m);
		else if (strcmp(cmd, "whoami") == 0)
			rc = cmd_whoami(m);
		else if (strcmp(cmd, "send") == 0)
			rc = cmd_send(m, args[0], args[1]);
		else if (strcmp(cmd, "send-file") == 0)
			rc = cmd_send_file(m, args[0], args[1]);
		else if (strcmp(cmd, "create-dm") == 0)
			rc = cmd_create_dm(m, args[0]);
		else
			rc = cmd_sync(m);
	}
	pb_matrix_free(m);
	return rc;
}
