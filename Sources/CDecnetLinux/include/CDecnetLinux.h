#ifndef C_DECNET_LINUX_H
#define C_DECNET_LINUX_H

/// Joins the network namespace `fd` refers to (an open /var/run/netns/NAME) on the calling thread.
/// Returns 0, or -1 with errno set. (setns and CLONE_NEWNET need _GNU_SOURCE, which Swift's Glibc module lacks.)
int decnet_enter_network_namespace(int fd);

#endif
