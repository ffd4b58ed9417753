/*
 * pb-mms — the subcommands that talk to an MMSC (fetch-send.c).
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PB_MMS_FETCH_SEND_H
#define PB_MMS_FETCH_SEND_H

/* pb-mms fetch URL [options]: argv[0] is "fetch". Returns the exit status. */
int pb_mms_cmd_fetch(int argc, char **argv);

/* pb-mms send --mmsc URL ... : argv[0] is "send". Returns the exit status. */
int pb_mms_cmd_send(int argc, char **argv);

#endif
