#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netpacket/packet.h>
#include <string.h>
#include <sched.h>
#include <spawn.h>
#include <unistd.h>

#include "CDecnetLinux.h"

extern char **environ;

int decnet_enter_network_namespace(int fd) {
#ifdef __linux__
    return setns(fd, CLONE_NEWNET);
#else
    (void)fd;
    errno = ENOSYS;
    return -1;
#endif
}

int decnet_spawn_daemon(const char *path, char *const argv[], const char *log_path, pid_t *pid) {
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_t actions;
    int result = posix_spawnattr_init(&attributes);
    if (result != 0) return result;
    result = posix_spawn_file_actions_init(&actions);
    if (result != 0) {
        posix_spawnattr_destroy(&attributes);
        return result;
    }
#ifdef POSIX_SPAWN_SETSID
    result = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID);
#endif
    if (result == 0) result = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (result == 0)
        result = posix_spawn_file_actions_addopen(&actions, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0640);
    if (result == 0) result = posix_spawn_file_actions_adddup2(&actions, 1, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    if (result == 0) result = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
    if (result == 0) result = posix_spawn(pid, path, &actions, &attributes, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    return result;
}

int decnet_link_address(const struct sockaddr *address, unsigned char *out, int capacity) {
    if (address == NULL || address->sa_family != AF_PACKET) return 0;
    const struct sockaddr_ll *link = (const struct sockaddr_ll *)address;
    int length = link->sll_halen;
    if (length > (int)sizeof(link->sll_addr)) length = (int)sizeof(link->sll_addr);
    memcpy(out, link->sll_addr, (size_t)(length < capacity ? length : capacity));
    return length;
}
