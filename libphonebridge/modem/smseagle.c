#include "modem-internal.h"
const pb_modem_backend_ops pb_modem__smseagle_ops = { .version = 1, .name = "smseagle" };
