#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>

#include "CDecnetLinux.h"

int decnet_enter_network_namespace(int fd) {
#ifdef __linux__
    return setns(fd, CLONE_NEWNET);
#else
    (void)fd;
    errno = ENOSYS;
    return -1;
#endif
}
