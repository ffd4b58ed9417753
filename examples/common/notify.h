/*
 * The systemd notification protocol (sd_notify(3)) without libsystemd:
 * internal to the two daemons (examples/common/notify.c).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_DAEMON_NOTIFY_H
#define PB_DAEMON_NOTIFY_H

/* Send @state ("READY=1\nSTATUS=...") to $NOTIFY_SOCKET: 1 when sent, 0
 * when the variable is not set (not under systemd), -errno on failure. */
int pbd_sd_notify(const char *state);

/* The watchdog interval systemd asks for in microseconds ($WATCHDOG_USEC,
 * when $WATCHDOG_PID is unset or this process), or 0 when it is off. */
unsigned long long pbd_sd_watchdog_usec(void);

#endif
