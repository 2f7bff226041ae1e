// libpcap (Debian's libpcap-dev): packet capture on a decky's interface with a kernel BPF filter, a bounded
// ring, and the filter compiler. The packet layer (DecnetPacket) opens one handle per decky namespace.
#include <pcap/pcap.h>
