// libnetfilter_queue (Debian's libnetfilter-queue-dev): the NFQUEUE netlink socket through which the OS
// personality layer sees each decky's outgoing SYN-ACKs, RSTs and ICMP before they leave, and gives them back
// reshaped. One queue handle per decky namespace (queues are per network namespace).
#include <stdint.h>
#include <sys/types.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

// <linux/netfilter.h> would bring <linux/in.h>, whose sockaddr_in clashes with glibc's in Swift's module map;
// the two values the layer needs are fixed kernel ABI.
enum {
    DECNET_NF_ACCEPT = 1,            // NF_ACCEPT
    DECNET_NF_INET_PRE_ROUTING = 0,  // NF_INET_PRE_ROUTING
};
