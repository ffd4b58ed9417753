#include "modem-internal.h"
const pb_modem_backend_ops pb_modem__at_ops = { .version = 1, .name = "at" };
