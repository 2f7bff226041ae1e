#ifndef C_DECNET_LINUX_H
#define C_DECNET_LINUX_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/// Joins the network namespace `fd` refers to (an open /var/run/netns/NAME) on the calling thread.
/// Returns 0, or -1 with errno set. (setns and CLONE_NEWNET need _GNU_SOURCE, which Swift's Glibc module lacks.)
int decnet_enter_network_namespace(int fd);

/// Starts `path` with `argv` (NULL-terminated) and the caller's environment as a daemon: in a session of its
/// own (POSIX_SPAWN_SETSID, also a _GNU_SOURCE name), standard input from /dev/null, standard output and error
/// appended to `log_path`, no other descriptor inherited. Returns 0 and sets `*pid`, or an errno value.
int decnet_spawn_daemon(const char *path, char *const argv[], const char *log_path, pid_t *pid);

/// The hardware address in an AF_PACKET `sockaddr_ll` (what getifaddrs gives per link): copies at most
/// `capacity` bytes to `out` and returns how many the address has (0 when it is not AF_PACKET).
int decnet_link_address(const struct sockaddr *address, unsigned char *out, int capacity);

/// Sets the IPv4 address and netmask of interface `name` in the calling thread's network namespace (the
/// classic SIOCSIFADDR / SIOCSIFNETMASK / SIOCSIFBRDADDR ioctls, as ifconfig does). Addresses are in network
/// byte order. Returns 0, or -1 with errno set.
int decnet_set_ipv4_address(const char *name, unsigned int address, unsigned int netmask);

/// Brings interface `name` up (SIOCSIFFLAGS with IFF_UP). Returns 0, or -1 with errno set.
int decnet_set_link_up(const char *name);

/// Adds a default route via `gateway` (network byte order) with SIOCADDRT, as `route add default gw` does.
/// Returns 0, or -1 with errno set.
int decnet_add_default_route(unsigned int gateway);

/// Adds or replaces (rtnetlink RTM_NEWROUTE, NLM_F_REPLACE) the IPv4 route to `destination`/`prefix_length` via
/// `gateway` (0: a connected route) out of `device`, with preferred source `source` (0: none) and the TCP metrics
/// an OS personality pins: `window` (RTAX_WINDOW, the largest window, hence the window scale a SYN-ACK offers)
/// and `initial_receive_window` (RTAX_INITRWND, in segments: the SYN-ACK's window); 0 leaves a metric unset.
/// Addresses are in network byte order. Returns 0, or -1 with errno set (the kernel's answer).
int decnet_replace_route(unsigned int destination, int prefix_length, unsigned int gateway, unsigned int source,
                         const char *device, unsigned int window, unsigned int initial_receive_window);

/// Names the calling thread as the kernel shows it (/proc/PID/task/TID/comm, top -H), at most 15 bytes.
/// Returns 0 or an errno value. (pthread_setname_np is a _GNU_SOURCE name.)
int decnet_set_thread_name(const char *name);

/// Puts the calling thread ahead of the others: SCHED_FIFO at priority 1 (returns 2), or else nice -10 (returns
/// 1), or neither when not permitted (returns 0; both need CAP_SYS_NICE, the first also no RestrictRealtime).
int decnet_prioritize_thread(void);

/// Fills `buffer` with `count` bytes from the kernel's random generator (getrandom(2), which Swift's Glibc module
/// does not declare), waiting for it to be seeded if need be. Returns 0, or an errno value.
int decnet_random_bytes(void *buffer, size_t count);

#endif
