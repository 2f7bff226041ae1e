#ifndef C_DECNET_LINUX_H
#define C_DECNET_LINUX_H

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

#endif
