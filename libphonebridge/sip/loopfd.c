/*
 * libphonebridge — the descriptor of the agent's loop, for a foreign event loop.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * sofia-sip's su_root keeps its descriptor to itself (su_port.h is not
 * installed), but on Linux its port is an epoll instance: every socket of
 * the stack (transports, the message box nua's calls go through, the
 * resolver) and our RTP sockets are registered in it, and an epoll
 * descriptor polls readable exactly when one of them is ready. To find
 * which descriptor that is without reading sofia's private structures, a
 * probe (an eventfd of ours) is registered on the root, and the epoll
 * instance whose /proc/self/fdinfo lists the probe as a target is the
 * root's. Found once, when the agent starts; the probe is removed again.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/internal.h"
#include "sip/sip-internal.h"

#include <phonebridge/error.h>

static int probe_readable(pb_sip *ua, su_wait_t *w, pb_sip_leg *arg)
{
	(void)ua;
	(void)w;
	(void)arg;
	return 0;
}

/* Does /proc/self/fdinfo/@p fd describe an epoll instance watching @p target? */
static bool epoll_watches(int fd, int target)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		int tfd;
		/* "tfd:        7 events:       19 data: ..." */
		if (sscanf(line, "tfd: %d", &tfd) == 1 && tfd == target)
			found = true;
	}
	fclose(f);
	return found;
}

static int find_epoll_of(int target)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int found = -1;
	struct dirent *e;
	while (found < 0 && (e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || end == e->d_name || fd < 0 || fd == target || fd == dirfd(d))
			continue;
		char path[64], link[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%ld", fd);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, "anon_inode:[eventpoll]") == 0 && epoll_watches((int)fd, target))
			found = (int)fd;
	}
	closedir(d);
	return found;
}

void pb_sip__loop_fd_find(pb_sip *ua)
{
	ua->loop_fd = -1;
	int probe = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (probe < 0)
		return;
	su_wait_t w;
	if (su_wait_create(&w, probe, SU_WAIT_IN) == 0) {
		if (su_root_register(ua->root, &w, probe_readable, NULL, 0) >= 0) {
			ua->loop_fd = find_epoll_of(probe);
			su_root_unregister(ua->root, &w, probe_readable, NULL);
		}
	}
	close(probe);
	if (ua->loop_fd < 0)
		pb_log_info(PB_SIP_DOMAIN, "sofia-sip's loop has no descriptor to watch (not its epoll port): "
			    "pb_sip_fd() is not available");
}

PB_API int pb_sip_fd(const pb_sip *ua)
{
	if (!ua)
		return pb_error_set(PB_EINVAL, "pb_sip_fd: NULL agent");
	if (ua->loop_fd < 0)
		return pb_error_set(PB_EUNSUPPORTED, "sofia-sip's loop has no descriptor here "
				    "(its port is not epoll): drive it with pb_sip_step()");
	return ua->loop_fd;
}
