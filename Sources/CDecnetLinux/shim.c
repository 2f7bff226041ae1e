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
#include <signal.h>
#include <spawn.h>
#include <pthread.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
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
    // The daemon starts with no signal blocked and SIGINT, SIGTERM and SIGHUP at their defaults, whatever the
    // caller had (a supervisor that ignores SIGTERM to watch it through a dispatch source, a test thread that
    // blocks it); each daemon installs its own handlers.
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGHUP);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
#ifdef POSIX_SPAWN_SETSID
    flags |= POSIX_SPAWN_SETSID;
#endif
    result = posix_spawnattr_setflags(&attributes, flags);
    if (result == 0) result = posix_spawnattr_setsigmask(&attributes, &none);
    if (result == 0) result = posix_spawnattr_setsigdefault(&attributes, &defaults);
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

#ifdef __linux__
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

static void decnet_attribute(struct nlmsghdr *header, unsigned short type, const void *data, unsigned short length) {
    struct rtattr *attribute = (struct rtattr *)((char *)header + NLMSG_ALIGN(header->nlmsg_len));
    attribute->rta_type = type;
    attribute->rta_len = RTA_LENGTH(length);
    memcpy(RTA_DATA(attribute), data, length);
    header->nlmsg_len = NLMSG_ALIGN(header->nlmsg_len) + RTA_ALIGN(attribute->rta_len);
}
#endif

int decnet_replace_route(unsigned int destination, int prefix_length, unsigned int gateway, unsigned int source,
                         const char *device, unsigned int window, unsigned int initial_receive_window) {
#ifdef __linux__
    unsigned int index = if_nametoindex(device);
    if (index == 0) return -1;
    union {
        struct nlmsghdr header;
        char bytes[512];
    } request;
    memset(&request, 0, sizeof(request));
    request.header.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
    request.header.nlmsg_type = RTM_NEWROUTE;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    request.header.nlmsg_seq = 1;
    struct rtmsg *route = NLMSG_DATA(&request.header);
    route->rtm_family = AF_INET;
    route->rtm_dst_len = (unsigned char)prefix_length;
    route->rtm_table = RT_TABLE_MAIN;
    route->rtm_type = RTN_UNICAST;
    // The connected route keeps what the kernel gave it (proto kernel, scope link); a gateway route is global.
    route->rtm_protocol = gateway ? RTPROT_BOOT : RTPROT_KERNEL;
    route->rtm_scope = gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    if (prefix_length > 0) decnet_attribute(&request.header, RTA_DST, &destination, 4);
    if (gateway) decnet_attribute(&request.header, RTA_GATEWAY, &gateway, 4);
    if (source) decnet_attribute(&request.header, RTA_PREFSRC, &source, 4);
    decnet_attribute(&request.header, RTA_OIF, &index, 4);
    // RTA_METRICS nests one attribute per metric.
    char metrics[64];
    unsigned short used = 0;
    unsigned int values[2][2] = {{RTAX_WINDOW, window}, {RTAX_INITRWND, initial_receive_window}};
    for (int i = 0; i < 2; i++) {
        if (values[i][1] == 0) continue;
        struct rtattr *metric = (struct rtattr *)(metrics + used);
        metric->rta_type = (unsigned short)values[i][0];
        metric->rta_len = RTA_LENGTH(4);
        memcpy(RTA_DATA(metric), &values[i][1], 4);
        used += RTA_ALIGN(metric->rta_len);
    }
    if (used > 0) decnet_attribute(&request.header, RTA_METRICS, metrics, used);

    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -1;
    struct sockaddr_nl kernel;
    memset(&kernel, 0, sizeof(kernel));
    kernel.nl_family = AF_NETLINK;
    int result = -1;
    if (sendto(fd, &request, request.header.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) >= 0) {
        char answer[1024];
        ssize_t length = recv(fd, answer, sizeof(answer), 0);
        struct nlmsghdr *reply = (struct nlmsghdr *)answer;
        if (length >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) && reply->nlmsg_type == NLMSG_ERROR) {
            int code = ((struct nlmsgerr *)NLMSG_DATA(reply))->error;
            if (code == 0) result = 0;
            else errno = -code;
        } else if (length >= 0) {
            errno = EPROTO;
        }
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return result;
#else
    (void)destination; (void)prefix_length; (void)gateway; (void)source; (void)device; (void)window;
    (void)initial_receive_window;
    errno = ENOSYS;
    return -1;
#endif
}

int decnet_set_thread_name(const char *name) {
#ifdef __linux__
    return pthread_setname_np(pthread_self(), name);
#else
    (void)name;
    return ENOSYS;
#endif
}

int decnet_prioritize_thread(void) {
#ifdef __linux__
    pid_t thread = (pid_t)syscall(SYS_gettid);
    struct sched_param param = { .sched_priority = 1 };
    if (sched_setscheduler(thread, SCHED_FIFO, &param) == 0) return 2;
    if (setpriority(PRIO_PROCESS, (id_t)thread, -10) == 0) return 1;
    return 0;
#else
    return 0;
#endif
}

int decnet_random_bytes(void *buffer, size_t count) {
    unsigned char *out = buffer;
    while (count > 0) {
        ssize_t got = getrandom(out, count, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        out += got;
        count -= (size_t)got;
    }
    return 0;
}
