// libloc (Debian's libloc-dev) reads the IPFire Location database (Debian's libloc-database): the network,
// country and autonomous system of an address. The intelligence stack (DecnetIntel) enriches attackers with it.
#include <libloc/libloc.h>
#include <libloc/database.h>
#include <libloc/network.h>
#include <libloc/as.h>
#include <libloc/country.h>
