#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
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

static void decnet_fill_address(struct sockaddr *target, unsigned int address) {
    struct sockaddr_in *in = (struct sockaddr_in *)target;
    memset(in, 0, sizeof(*in));
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = address;
}

int decnet_set_ipv4_address(const char *name, unsigned int address, unsigned int netmask) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof(request));
    strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    int result = 0;
    decnet_fill_address(&request.ifr_addr, address);
    if (ioctl(fd, SIOCSIFADDR, &request) != 0) result = -1;
    if (result == 0) {
        decnet_fill_address(&request.ifr_netmask, netmask);
        if (ioctl(fd, SIOCSIFNETMASK, &request) != 0) result = -1;
    }
    if (result == 0) {
        decnet_fill_address(&request.ifr_broadaddr, (address & netmask) | ~netmask);
        if (ioctl(fd, SIOCSIFBRDADDR, &request) != 0) result = -1;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return result;
}

int decnet_set_link_up(const char *name) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof(request));
    strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    int result = ioctl(fd, SIOCGIFFLAGS, &request);
    if (result == 0) {
        request.ifr_flags |= IFF_UP;
        result = ioctl(fd, SIOCSIFFLAGS, &request);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return result;
}

int decnet_add_default_route(unsigned int gateway) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct rtentry route;
    memset(&route, 0, sizeof(route));
    decnet_fill_address(&route.rt_dst, 0);
    decnet_fill_address(&route.rt_genmask, 0);
    decnet_fill_address(&route.rt_gateway, gateway);
    route.rt_flags = RTF_UP | RTF_GATEWAY;
    int result = ioctl(fd, SIOCADDRT, &route);
    int saved = errno;
    close(fd);
    errno = saved;
    return result;
}
