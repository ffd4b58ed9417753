/*
 * The systemd notification protocol for the two daemons, without libsystemd.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The protocol is the interface (sd_notify(3), NOTES; systemd's "Interface
 * Portability and Stability" chart lists $NOTIFY_SOCKET as reimplementable
 * independently): one datagram with the state text to the AF_UNIX socket
 * named by $NOTIFY_SOCKET, a path, or an abstract name when it starts with
 * "@"; the kernel attaches the credentials systemd checks. The watchdog is
 * on when $WATCHDOG_USEC is set and $WATCHDOG_PID, when set, is this
 * process. Linking libsystemd for these two calls mapped it and the four
 * libraries it brings (libgcrypt, libgpg-error, liblz4, libcap) in every
 * daemon process: about 0.8 MiB of RSS (docs/bridge.md, "Memory").
 */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int pbd_sd_notify(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	if (!name || !name[0])
		return 0; /* not under systemd: nothing to tell */
	if (name[0] != '/' && name[0] != '@')
		return -EAFNOSUPPORT;
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	size_t len = strlen(name);
	if (len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, name, len);
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract: the name's bytes, no terminator */
	else
		salen++; /* a path: with its NUL */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&sa, salen);
	int rc = n < 0 ? -errno : 1;
	close(fd);
	return rc;
}

/* @s as a whole positive decimal number, or 0. */
static unsigned long long positive(const char *s)
{
	if (!s || *s < '0' || *s > '9')
		return 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	return errno || *end ? 0 : v;
}

unsigned long long pbd_sd_watchdog_usec(void)
{
	unsigned long long usec = positive(getenv("WATCHDOG_USEC"));
	const char *pid = getenv("WATCHDOG_PID");
	if (usec == 0 || (pid && positive(pid) != (unsigned long long)getpid()))
		return 0;
	return usec;
}
